"""Run one action in several threads released together, each with its own session and connection."""

from __future__ import annotations

import threading
from collections.abc import Callable

from sqlalchemy.orm import Session

from dancu.db import new_session


def at_once(count: int, action: Callable[[int, Session], object]) -> list[object]:
    """Run ``action(i, session)`` in ``count`` threads released together, each committing on success.

    Returns what each returned, or the exception it raised.
    """
    barrier = threading.Barrier(count)
    results: list[object] = [None] * count

    def run(index: int) -> None:
        session = new_session()
        try:
            barrier.wait()
            results[index] = action(index, session)
            session.commit()
        except Exception as exc:  # noqa: BLE001 - the outcome under test
            session.rollback()
            results[index] = exc
        finally:
            session.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results

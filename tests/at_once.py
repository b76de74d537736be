"""Run one action in several threads released together: the one way concurrency tests make a race.

``released_together`` holds every thread at a barrier and lets them go at once;
``at_once`` builds on it for service calls, each thread with its own session and
connection, committed on success.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.orm import Session

from dancu.db import new_session

T = TypeVar("T")


def released_together(count: int, action: Callable[[int], T]) -> list[T]:
    """Run ``action(i)`` in ``count`` threads held at a barrier and released together; return what each returned.

    An action that raises leaves ``None`` in its place (the thread reports the error).
    """
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(index: int) -> None:
        barrier.wait()
        results[index] = action(index)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def at_once(count: int, action: Callable[[int, Session], object]) -> list[object]:
    """Run ``action(i, session)`` in ``count`` threads released together, each committing on success.

    Returns what each returned, or the exception it raised.
    """

    def in_own_session(index: int) -> object:
        # a new session holds no connection until its first statement, so each thread connects after the release
        session = new_session()
        try:
            result = action(index, session)
            session.commit()
            return result
        except Exception as exc:  # noqa: BLE001 - the outcome under test
            session.rollback()
            return exc
        finally:
            session.close()

    return released_together(count, in_own_session)

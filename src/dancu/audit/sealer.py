"""The background sealer: chains pending access-log entries every few hundred milliseconds.

Every web worker runs one; they cooperate through SKIP LOCKED on the chain
head, so adding workers adds no waiting.
"""

from __future__ import annotations

import logging
import threading

from dancu.audit.services import seal_pending
from dancu.db import session_scope

log = logging.getLogger(__name__)


class Sealer:
    def __init__(self, interval: float = 0.25, batch: int = 2000) -> None:
        self.interval = interval
        self.batch = batch
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dancu-audit-sealer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop after sealing what is pending, so a clean shutdown leaves nothing unsealed."""
        self._stop.set()
        self._thread.join(timeout=30)
        self.seal_once()

    def seal_once(self) -> int:
        try:
            with session_scope() as session:
                return seal_pending(session, self.batch)
        except Exception:  # a database outage must not kill the sealer; the next round retries
            log.exception("sealing the access log failed")
            return 0

    def _run(self) -> None:
        while not self._stop.is_set():
            # A full batch means more is waiting: go again without sleeping.
            if self.seal_once() < self.batch:
                self._stop.wait(self.interval)

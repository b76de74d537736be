"""The background sealer: adds pending access-log entries to the Merkle tree every few hundred
milliseconds, and signs, stores and publishes a checkpoint when one is due.

Every web worker runs one; they cooperate through SKIP LOCKED on the chain
head, so adding workers adds no waiting. Tree hashing and checkpoint signing
happen here, never in the reading request.
"""

from __future__ import annotations

import logging
import threading

from dancu.audit import transparency
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
        """One round: seal a batch, then checkpoint if due; how many entries it took."""
        try:
            with session_scope() as session:
                taken = seal_pending(session, self.batch).taken
                checkpoint = transparency.sign_checkpoint(session) if transparency.checkpoint_due(session) else None
            if checkpoint is not None:
                # Published only once committed: a file must never show a tree the database rolled back.
                with session_scope() as session:
                    transparency.publish(session, checkpoint)
            return taken
        except Exception:  # a database outage must not kill the sealer; the next round retries
            log.exception("sealing the access log failed")
            return 0

    def _run(self) -> None:
        while not self._stop.is_set():
            # A full batch means more is waiting: go again without sleeping.
            if self.seal_once() < self.batch:
                self._stop.wait(self.interval)

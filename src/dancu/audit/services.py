"""Tamper-evident access log.

Each entry carries ``mac = HMAC(key, prev_mac || canonical(entry))`` with a key
derived from the master key file, which is outside the database. Altering,
inserting or deleting a row breaks the chain at that row; ``verify_chain``
finds the first break. Truncating the tail is caught by the head row, which
must agree with the last entry.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.orm import Session

from dancu.accounts.services import Actor, Role
from dancu.audit.models import AccessLogEntry, AuditChainHead
from dancu.crypto import derive_key

GENESIS = "0" * 64


@lru_cache
def _chain_key() -> bytes:
    return derive_key("dancu/audit-chain/v1")


def _mac(prev_mac: str, seq: int, at: dt.datetime, actor: str, action: str, subject_type: str,
         subject_id: str, purpose: str, detail: str) -> str:
    canonical = json.dumps(
        [seq, at.astimezone(dt.UTC).isoformat(timespec="microseconds"), actor, action, subject_type, subject_id,
         purpose, detail],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hmac.new(_chain_key(), (prev_mac + canonical).encode(), hashlib.sha256).hexdigest()


class PurposeRequired(ValueError):
    pass


def require_purpose(purpose: str | None) -> str:
    """The stated purpose of a read, stripped; refused when it is missing or too short."""
    purpose = (purpose or "").strip()
    if len(purpose) < 3:
        raise PurposeRequired("a purpose (at least 3 characters) is required to read personal data")
    return purpose


def record_accesses(
    session: Session,
    actor: Actor,
    action: str,
    subject_type: str,
    subject_ids: list[str | int],
    purpose: str,
    detail: str = "",
) -> list[AccessLogEntry]:
    """Append one entry per subject under a single lock of the chain head.

    Runs in the caller's transaction, so a read and its log entries commit
    together or not at all. Even an empty read needs a purpose. The head's row
    lock serialises every reader until its transaction ends: call this as the
    last statement of a read, after the answer is built, and commit promptly.
    """
    purpose = require_purpose(purpose)
    if not subject_ids:
        return []
    head = session.scalar(select(AuditChainHead).where(AuditChainHead.id == 1).with_for_update())
    at = dt.datetime.now(dt.UTC)
    entries = []
    for subject_id in subject_ids:
        seq = head.seq + 1
        entry = AccessLogEntry(
            seq=seq, at=at, actor=actor.username, action=action, subject_type=subject_type,
            subject_id=str(subject_id), purpose=purpose[:300], detail=detail[:1000], prev_mac=head.mac,
        )
        entry.mac = _mac(head.mac, seq, at, entry.actor, action, subject_type, entry.subject_id, entry.purpose,
                         entry.detail)
        head.seq, head.mac = seq, entry.mac
        entries.append(entry)
    session.add_all(entries)
    session.flush()
    return entries


def record_access(session: Session, actor: Actor, action: str, subject_type: str, subject_id: str | int,
                  purpose: str, detail: str = "") -> AccessLogEntry:
    return record_accesses(session, actor, action, subject_type, [subject_id], purpose, detail)[0]


@dataclass(frozen=True)
class ChainBreak:
    seq: int
    reason: str


@dataclass(frozen=True)
class VerifyResult:
    entries_checked: int
    breaks: list[ChainBreak]

    @property
    def ok(self) -> bool:
        return not self.breaks


def _entries(session: Session, batch: int = 5000) -> Iterator[AccessLogEntry]:
    last = 0
    while True:
        rows = list(session.scalars(
            select(AccessLogEntry).where(AccessLogEntry.seq > last).order_by(AccessLogEntry.seq).limit(batch)
        ))
        if not rows:
            return
        yield from rows
        last = rows[-1].seq
        session.expunge_all()


def verify_chain(session: Session) -> VerifyResult:
    breaks: list[ChainBreak] = []
    expected_seq, prev_mac, checked = 1, GENESIS, 0
    for entry in _entries(session):
        checked += 1
        if entry.seq != expected_seq:
            breaks.append(ChainBreak(expected_seq, f"entries {expected_seq}..{entry.seq - 1} are missing"))
        if entry.prev_mac != prev_mac:
            breaks.append(ChainBreak(entry.seq, "link to the previous entry does not match"))
        at = entry.at if entry.at.tzinfo else entry.at.replace(tzinfo=dt.UTC)
        recomputed = _mac(entry.prev_mac, entry.seq, at, entry.actor, entry.action, entry.subject_type,
                          entry.subject_id, entry.purpose, entry.detail)
        if not hmac.compare_digest(recomputed, entry.mac):
            breaks.append(ChainBreak(entry.seq, "entry content was altered"))
        expected_seq, prev_mac = entry.seq + 1, entry.mac
    head = session.get(AuditChainHead, 1)
    if head is not None and (head.seq != expected_seq - 1 or head.mac != prev_mac):
        breaks.append(ChainBreak(expected_seq, f"the log ends at {expected_seq - 1} but the head says {head.seq}"))
    return VerifyResult(entries_checked=checked, breaks=breaks)


def entries_for_subject(session: Session, actor: Actor, subject_type: str, subject_id: str | int,
                        limit: int = 100, offset: int = 0) -> list[AccessLogEntry]:
    """Who read this subject, newest first: for auditors and for the data subject."""
    actor.require(Role.AUDITOR, Role.ADMIN)
    return list(session.scalars(
        select(AccessLogEntry)
        .where(AccessLogEntry.subject_type == subject_type, AccessLogEntry.subject_id == str(subject_id))
        .order_by(AccessLogEntry.seq.desc()).limit(limit).offset(offset)
    ))


def recent_entries(session: Session, actor: Actor, limit: int = 50, offset: int = 0) -> list[AccessLogEntry]:
    actor.require(Role.AUDITOR, Role.ADMIN)
    return list(session.scalars(
        select(AccessLogEntry).order_by(AccessLogEntry.seq.desc()).limit(limit).offset(offset)
    ))

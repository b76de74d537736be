"""Tamper-evident access log.

A read appends its entries without taking any lock, each with
``entry_mac = HMAC(key, canonical(entry))``; the key is derived from the
master key file, which is outside the database. The sealer (a thread of
every web worker, and ``dancu audit seal``) then chains pending entries in
batches: ``seq`` is the next position and ``mac = HMAC(key, prev_mac ||
canonical(seq, entry))``. Altering any entry breaks its entry MAC or the
chain; inserting or deleting a sealed entry breaks the chain at that row;
truncating the tail is caught by the head row, which must agree with the
last sealed entry. ``verify_chain`` reports every break.

Why not chain at append time: the chain head is one row, and locking it in
every reading transaction serialised all reads of personal data behind the
slowest commit. Sealing in batches takes that lock once per batch, with
SKIP LOCKED so that sealers never wait for one another. The price is a short
window (the sealing interval) in which a pending entry could be deleted
without trace; altering it is still detected.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from dancu.accounts.services import Actor, Role
from dancu.audit.models import AccessLogEntry, AuditChainHead
from dancu.crypto import derive_key

GENESIS = "0" * 64


@lru_cache
def _chain_key() -> bytes:
    return derive_key("dancu/audit-chain/v1")


_CONTENT = ("at", "actor", "action", "subject_type", "subject_id", "purpose", "detail")


def _content(entry: AccessLogEntry) -> dict:
    return {name: getattr(entry, name) for name in _CONTENT}


def _canonical(content: Mapping, seq: int | None) -> str:
    at = content["at"] if content["at"].tzinfo else content["at"].replace(tzinfo=dt.UTC)
    fields = [at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
              *(content[name] for name in _CONTENT[1:])]
    return json.dumps(fields if seq is None else [seq, *fields], ensure_ascii=False, separators=(",", ":"))


def _entry_mac(content: Mapping) -> str:
    return hmac.new(_chain_key(), _canonical(content, None).encode(), hashlib.sha256).hexdigest()


def _chain_mac(prev_mac: str, seq: int, content: Mapping) -> str:
    return hmac.new(_chain_key(), (prev_mac + _canonical(content, seq)).encode(), hashlib.sha256).hexdigest()


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
) -> None:
    """Append one pending entry per subject, in the caller's transaction.

    A read and its log entries commit together or not at all. Even an empty
    read needs a purpose. No lock is taken: the sealer chains the entries later.
    A plain (cached, RETURNING-free) INSERT: every read pays for it.
    """
    purpose = require_purpose(purpose)
    if not subject_ids:
        return
    at = dt.datetime.now(dt.UTC)
    rows = []
    for subject_id in subject_ids:
        row = {"at": at, "actor": actor.username, "action": action, "subject_type": subject_type,
               "subject_id": str(subject_id), "purpose": purpose[:300], "detail": detail[:1000]}
        row["entry_mac"] = _entry_mac(row)
        rows.append(row)
    # The table, not the mapped class: a Core executemany skips the ORM's bulk-insert bookkeeping.
    session.execute(insert(AccessLogEntry.__table__), rows)


def record_access(session: Session, actor: Actor, action: str, subject_type: str, subject_id: str | int,
                  purpose: str, detail: str = "") -> None:
    record_accesses(session, actor, action, subject_type, [subject_id], purpose, detail)


def seal_pending(session: Session, batch: int = 2000) -> int:
    """Chain up to ``batch`` pending entries, oldest first; how many were sealed.

    Returns 0 at once when another sealer holds the chain head: it will seal
    these entries too. The caller commits.
    """
    head = session.scalar(
        select(AuditChainHead).where(AuditChainHead.id == 1).with_for_update(skip_locked=True)
    )
    if head is None:
        return 0
    pending = session.scalars(
        select(AccessLogEntry).where(AccessLogEntry.seq.is_(None)).order_by(AccessLogEntry.id).limit(batch)
    ).all()
    for entry in pending:
        entry.seq = head.seq + 1
        entry.prev_mac = head.mac
        entry.mac = _chain_mac(head.mac, entry.seq, _content(entry))
        head.seq, head.mac = entry.seq, entry.mac
    session.flush()
    return len(pending)


def seal_all(session: Session, batch: int = 2000) -> int:
    """Seal every pending entry, committing batch by batch (``dancu audit seal``)."""
    total = 0
    while sealed := seal_pending(session, batch):
        session.commit()
        total += sealed
    return total


@dataclass(frozen=True)
class ChainBreak:
    seq: int | None
    reason: str
    entry_id: int | None = None


@dataclass(frozen=True)
class VerifyResult:
    entries_checked: int  # sealed and pending
    pending: int
    breaks: list[ChainBreak]

    @property
    def ok(self) -> bool:
        return not self.breaks


def _entries(session: Session, condition, key, batch: int = 5000) -> Iterator[AccessLogEntry]:
    """Entries matching ``condition`` in ``key`` order, a batch at a time."""
    last = 0
    while True:
        rows = list(session.scalars(
            select(AccessLogEntry).where(condition, key > last).order_by(key).limit(batch)
        ))
        if not rows:
            return
        yield from rows
        last = getattr(rows[-1], key.key)
        session.expunge_all()


def _entry_mac_intact(entry: AccessLogEntry, content: Mapping) -> bool:
    return entry.entry_mac is not None and hmac.compare_digest(_entry_mac(content), entry.entry_mac)


def verify_chain(session: Session) -> VerifyResult:
    """Check every sealed entry against the chain and every entry against its own MAC."""
    breaks: list[ChainBreak] = []
    expected_seq, prev_mac, checked = 1, GENESIS, 0
    for entry in _entries(session, AccessLogEntry.seq.is_not(None), AccessLogEntry.seq):
        checked += 1
        if entry.seq != expected_seq:
            breaks.append(ChainBreak(expected_seq, f"entries {expected_seq}..{entry.seq - 1} are missing"))
        if entry.prev_mac != prev_mac:
            breaks.append(ChainBreak(entry.seq, "link to the previous entry does not match", entry.id))
        content = _content(entry)
        chain_intact = entry.mac is not None and hmac.compare_digest(
            _chain_mac(entry.prev_mac or "", entry.seq, content), entry.mac)
        # Entries sealed before migration 0006 have no entry MAC; the chain alone covers them.
        if not chain_intact or (entry.entry_mac is not None and not _entry_mac_intact(entry, content)):
            breaks.append(ChainBreak(entry.seq, "entry content was altered", entry.id))
        expected_seq, prev_mac = entry.seq + 1, entry.mac
    pending = 0
    for entry in _entries(session, AccessLogEntry.seq.is_(None), AccessLogEntry.id):
        pending += 1
        if not _entry_mac_intact(entry, _content(entry)):
            breaks.append(ChainBreak(None, "pending entry content was altered", entry.id))
    head = session.get(AuditChainHead, 1)
    if head is not None and (head.seq != expected_seq - 1 or head.mac != prev_mac):
        breaks.append(ChainBreak(expected_seq, f"the log ends at {expected_seq - 1} but the head says {head.seq}"))
    return VerifyResult(entries_checked=checked + pending, pending=pending, breaks=breaks)


def entries_for_subject(session: Session, actor: Actor, subject_type: str, subject_id: str | int,
                        limit: int = 100, offset: int = 0) -> list[AccessLogEntry]:
    """Who read this subject, newest first: for auditors and for the data subject."""
    actor.require(Role.AUDITOR, Role.ADMIN)
    return list(session.scalars(
        select(AccessLogEntry)
        .where(AccessLogEntry.subject_type == subject_type, AccessLogEntry.subject_id == str(subject_id))
        .order_by(AccessLogEntry.id.desc()).limit(limit).offset(offset)
    ))


def recent_entries(session: Session, actor: Actor, limit: int = 50, offset: int = 0) -> list[AccessLogEntry]:
    actor.require(Role.AUDITOR, Role.ADMIN)
    return list(session.scalars(
        select(AccessLogEntry).order_by(AccessLogEntry.id.desc()).limit(limit).offset(offset)
    ))

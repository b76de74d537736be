"""Tamper-evident access log: appends, entry MACs, and sealing into a Merkle tree.

A read appends its entries without taking any lock, each with a random
unique ``uid`` and ``entry_mac = HMAC(key, canonical(uid, entry))``; the key
is derived from the master key file, which is outside the database, so nobody
with SQL access alone can forge or alter an entry. The sealer (a thread of
every web worker, and ``dancu audit seal``) then takes pending entries in
batches, refuses any whose MAC does not verify or whose uid is already in
the log, gives the others their leaf position ``seq`` and adds them to an
RFC 9162 Merkle tree whose perfect subtrees it stores (``audit_tree_node``).
The leaf is the entry's public canonical form with its position,
``[seq, uid, at, actor, ...]``, so anyone can recompute it.

A tree kept in the database cannot prove its own tail: whoever can write the
database can drop the last entries and their nodes. That is what the signed,
timestamped checkpoints kept outside the database are for
(``dancu.audit.transparency``): today's log must be proved, with a
consistency proof, to extend every earlier checkpoint.

Why not hash at append time: the tree's right edge is one shared state, and
locking it in every reading transaction serialised all reads of personal
data behind the slowest commit. Sealing in batches takes that lock once per
batch, with SKIP LOCKED so that sealers never wait for one another. The price
is a short window (the sealing interval) in which a pending entry could be
deleted without trace; altering or forging it is still detected.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import insert, select, tuple_
from sqlalchemy.orm import Session

from dancu.accounts.services import Actor, Role
from dancu.audit import merkle
from dancu.audit.models import AccessLogEntry, AuditChainHead, AuditTreeNode
from dancu.crypto import derive_key

log = logging.getLogger(__name__)


@lru_cache
def _chain_key() -> bytes:
    return derive_key("dancu/audit-chain/v1")


_CONTENT = ("uid", "at", "actor", "action", "subject_type", "subject_id", "purpose", "detail")


def entry_content(entry: AccessLogEntry) -> dict:
    return {name: getattr(entry, name) for name in _CONTENT}


def canonical(content: Mapping, seq: int | None = None) -> str:
    """The entry as a compact JSON array; with ``seq`` first, the Merkle leaf's data."""
    at = content["at"] if content["at"].tzinfo else content["at"].replace(tzinfo=dt.UTC)
    fields = [content["uid"], at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
              *(content[name] for name in _CONTENT[2:])]
    return json.dumps(fields if seq is None else [seq, *fields], ensure_ascii=False, separators=(",", ":"))


def _entry_mac(content: Mapping) -> str:
    return hmac.new(_chain_key(), canonical(content).encode(), hashlib.sha256).hexdigest()


def entry_mac_intact(entry: AccessLogEntry) -> bool:
    return entry.entry_mac is not None and hmac.compare_digest(_entry_mac(entry_content(entry)), entry.entry_mac)


def leaf_hash(entry: AccessLogEntry) -> bytes:
    return merkle.leaf_hash(canonical(entry_content(entry), entry.seq).encode())


class PurposeRequired(ValueError):
    code = "audit.purpose_required"


def require_purpose(purpose: str | None) -> str:
    """The stated purpose of a read, stripped; refused when it is missing or too short."""
    purpose = (purpose or "").strip()
    if len(purpose) < 3:
        raise PurposeRequired("a purpose (at least 3 characters) is required to read personal data")
    return purpose


def _new_uid() -> str:
    """32 hex digits, time first (like a UUIDv7): new uids land at the right edge of their unique index
    instead of at random pages of it; 64 random bits keep them unguessable and distinct."""
    return f"{time.time_ns():016x}{os.urandom(8).hex()}"


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
    read needs a purpose. No lock is taken: the sealer adds the entries to the tree later.
    A plain (cached, RETURNING-free) INSERT: every read pays for it.
    """
    purpose = require_purpose(purpose)
    if not subject_ids:
        return
    at = dt.datetime.now(dt.UTC)
    rows = []
    for subject_id in subject_ids:
        row = {"uid": _new_uid(), "at": at, "actor": actor.username, "action": action, "subject_type": subject_type,
               "subject_id": str(subject_id), "purpose": purpose[:300], "detail": detail[:1000]}
        row["entry_mac"] = _entry_mac(row)
        rows.append(row)
    # The table, not the mapped class: a Core executemany skips the ORM's bulk-insert bookkeeping.
    session.execute(insert(AccessLogEntry.__table__), rows)


def record_access(session: Session, actor: Actor, action: str, subject_type: str, subject_id: str | int,
                  purpose: str, detail: str = "") -> None:
    record_accesses(session, actor, action, subject_type, [subject_id], purpose, detail)


def tree_nodes(session: Session, needed: Sequence[merkle.Node]) -> dict[merkle.Node, bytes]:
    """The stored perfect subtrees among ``needed`` (a ``merkle.NodeSource``), in one query."""
    if not needed:
        return {}
    rows = session.execute(select(AuditTreeNode.level, AuditTreeNode.idx, AuditTreeNode.hash)
                           .where(tuple_(AuditTreeNode.level, AuditTreeNode.idx).in_(list(set(needed)))))
    return {(row.level, row.idx): bytes(row.hash) for row in rows}


def tree_size(session: Session) -> int:
    head = session.get(AuditChainHead, 1)
    return head.seq if head is not None else 0


@dataclass(frozen=True)
class Sealed:
    sealed: int
    refused: int

    @property
    def taken(self) -> int:
        return self.sealed + self.refused


def _already_logged(session: Session, uids: list[str]) -> set[str]:
    return set(session.scalars(select(AccessLogEntry.uid).where(AccessLogEntry.uid.in_(uids),
                                                                AccessLogEntry.seq.is_not(None))))


def seal_pending(session: Session, batch: int = 2000) -> Sealed:
    """Add up to ``batch`` pending entries, oldest first, to the Merkle tree.

    An entry whose MAC does not verify (forged or altered in the database) or
    whose uid is already sealed (a duplicate) is marked refused instead, and
    logged. Does nothing when another sealer holds the head: it will seal
    these entries too. The caller commits.
    """
    head = session.scalar(
        select(AuditChainHead).where(AuditChainHead.id == 1).with_for_update(skip_locked=True)
    )
    if head is None:
        return Sealed(0, 0)
    pending = session.scalars(
        select(AccessLogEntry).where(AccessLogEntry.seq.is_(None), AccessLogEntry.refused.is_(False))
        .order_by(AccessLogEntry.id).limit(batch)
    ).all()
    if not pending:
        return Sealed(0, 0)
    seen = _already_logged(session, [entry.uid for entry in pending if entry.uid])
    size, leaves, refused = head.seq, [], 0
    for entry in pending:
        if not entry.uid or entry.uid in seen or not entry_mac_intact(entry):
            log.error("access-log entry id %s refused: its MAC does not verify or its uid is not unique", entry.id)
            entry.refused, refused = True, refused + 1
            continue
        seen.add(entry.uid)
        size += 1
        entry.seq = size
        leaves.append(leaf_hash(entry))
    nodes = merkle.new_nodes(head.seq, leaves, tree_nodes(session, merkle.blocks(0, head.seq)))
    if nodes:
        session.execute(insert(AuditTreeNode.__table__),
                        [{"level": level, "idx": idx, "hash": value} for (level, idx), value in nodes.items()])
    head.seq = size
    session.flush()
    return Sealed(len(leaves), refused)


def seal_all(session: Session, batch: int = 2000) -> int:
    """Seal every pending entry, committing batch by batch (``dancu audit seal``); how many were sealed."""
    total = 0
    while (result := seal_pending(session, batch)).taken:
        session.commit()
        total += result.sealed
    return total


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

"""The access log: every read of personal data, with its purpose, in a Merkle tree log."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Boolean, DateTime, Index, Integer, LargeBinary, SmallInteger, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from dancu.db import Base

BigId = BigInteger().with_variant(Integer, "sqlite")


class AccessLogEntry(Base):
    """One read of personal data.

    Appended without any lock (``id`` comes from a sequence) with a unique
    ``uid`` and ``entry_mac``, a MAC of its content and uid; the sealer later
    gives it its leaf position ``seq`` (1-based) in the Merkle tree. Until
    then it is *pending*: visible to every query, protected against
    alteration by ``entry_mac``, but not yet against deletion. An entry whose
    MAC does not verify, or whose uid is already in the log, is never sealed:
    the sealer marks it ``refused`` and ``dancu audit verify`` reports it.
    """

    __tablename__ = "access_log"
    __table_args__ = (
        Index("ix_access_log_subject", "subject_type", "subject_id"),
        Index("ix_access_log_seq", "seq", unique=True),
        Index("ix_access_log_uid", "uid", unique=True),
        Index("ix_access_log_pending", "id", sqlite_where=text("seq IS NULL"), postgresql_where=text("seq IS NULL")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    seq: Mapped[int | None] = mapped_column(BigId)
    uid: Mapped[str] = mapped_column(String(32))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(60), index=True)
    action: Mapped[str] = mapped_column(String(30))
    subject_type: Mapped[str] = mapped_column(String(30))
    subject_id: Mapped[str] = mapped_column(String(64))
    purpose: Mapped[str] = mapped_column(String(300))
    detail: Mapped[str] = mapped_column(String(1000), default="")
    entry_mac: Mapped[str] = mapped_column(String(64))
    refused: Mapped[bool] = mapped_column(Boolean, default=False)


class AuditChainHead(Base):
    """Single row holding the size of the Merkle tree (the last sealed ``seq``).

    Only the sealer locks this row (with SKIP LOCKED, so sealers never queue);
    readers appending entries never touch it.
    """

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)


class AuditTreeNode(Base):
    """A perfect subtree of the Merkle tree: leaves ``idx * 2**level`` up to ``(idx + 1) * 2**level``.

    Written by the sealer; proofs are read from here in O(log n) rows. Nothing
    trusts these rows: a proof built from altered nodes does not verify.
    """

    __tablename__ = "audit_tree_node"

    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary)


class AuditCheckpoint(Base):
    """A signed tree head: the C2SP signed note and the RFC 3161 timestamp token over it."""

    __tablename__ = "audit_checkpoint"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tree_size: Mapped[int] = mapped_column(BigInteger, unique=True)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary)
    note: Mapped[str] = mapped_column(Text)
    timestamp_token: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))

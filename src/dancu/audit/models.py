"""The access log: every read of personal data, with its purpose, hash-chained."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, DateTime, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from dancu.db import Base

BigId = BigInteger().with_variant(Integer, "sqlite")


class AccessLogEntry(Base):
    """One read of personal data.

    Appended without any lock (``id`` comes from a sequence) carrying
    ``entry_mac``, a MAC of its own content; the sealer later gives it its
    place ``seq`` in the hash chain and the chain MAC ``mac``. Until then it
    is *pending*: visible to every query, protected against alteration by
    ``entry_mac``, but not yet against deletion.
    """

    __tablename__ = "access_log"
    __table_args__ = (
        Index("ix_access_log_subject", "subject_type", "subject_id"),
        Index("ix_access_log_seq", "seq", unique=True),
        Index("ix_access_log_pending", "id", sqlite_where=text("seq IS NULL"), postgresql_where=text("seq IS NULL")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    seq: Mapped[int | None] = mapped_column(BigId)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(60), index=True)
    action: Mapped[str] = mapped_column(String(30))
    subject_type: Mapped[str] = mapped_column(String(30))
    subject_id: Mapped[str] = mapped_column(String(64))
    purpose: Mapped[str] = mapped_column(String(300))
    detail: Mapped[str] = mapped_column(String(1000), default="")
    # NULL only on entries sealed before entry MACs existed (migration 0006_audit_sealing).
    entry_mac: Mapped[str | None] = mapped_column(String(64))
    prev_mac: Mapped[str | None] = mapped_column(String(64))
    mac: Mapped[str | None] = mapped_column(String(64))


class AuditChainHead(Base):
    """Single row holding the last sealed sequence number and MAC.

    Only the sealer locks this row (with SKIP LOCKED, so sealers never queue);
    readers appending entries never touch it.
    """

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    mac: Mapped[str] = mapped_column(String(64))

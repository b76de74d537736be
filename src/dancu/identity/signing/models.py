"""Signatures made through dancu: the citizen's own list and the free-of-charge accounting."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, DateTime, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from dancu.db import Base


class SignatureRecord(Base):
    __tablename__ = "signature_record"
    __table_args__ = (Index("ix_signature_record_account_at", "account_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    # The citizen's e-ID account; None for the state's seal.
    account_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    certificate_serial: Mapped[str] = mapped_column(String(42))
    kind: Mapped[str] = mapped_column(String(10))          # "pdf" (PAdES) or "cms" (detached data signature)
    document_sha256: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(200))
    public_service: Mapped[bool] = mapped_column(Boolean)
    free_of_charge: Mapped[bool] = mapped_column(Boolean)

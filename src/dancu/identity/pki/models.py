"""PKI tables: keys sealed by the keystore, issued certificates and the CRLs published."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from dancu.db import Base


class PkiKey(Base):
    """A key pair of the software keystore. The private half is stored only sealed
    (AES-256-GCM under a key derived from the master key, which is not in the database)."""

    __tablename__ = "pki_key"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    label: Mapped[str] = mapped_column(String(120), unique=True)
    algorithm: Mapped[str] = mapped_column(String(20))
    public_key_der: Mapped[bytes] = mapped_column(LargeBinary)
    sealed_private_key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class PkiCertificate(Base):
    __tablename__ = "pki_certificate"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Hex of the (up to 159-bit) serial number: too wide for BIGINT.
    serial: Mapped[str] = mapped_column(String(42), unique=True)
    profile: Mapped[str] = mapped_column(String(30))
    # What the certificate is for, e.g. "country-ca", "document-signer:card-chip", "citizen:eid-account:7".
    purpose: Mapped[str] = mapped_column(String(80), index=True)
    subject: Mapped[str] = mapped_column(String(500))
    key_id: Mapped[int | None] = mapped_column(ForeignKey("pki_key.id"), nullable=True, index=True)
    not_before: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    not_after: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    der: Mapped[bytes] = mapped_column(LargeBinary)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revocation_reason: Mapped[str | None] = mapped_column(String(30), nullable=True)


class PkiCrl(Base):
    """Every CRL the CA issued; the newest one is published at /pki/crl.der."""

    __tablename__ = "pki_crl"

    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    this_update: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    next_update: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    der: Mapped[bytes] = mapped_column(LargeBinary)

"""e-ID tables: accounts, server-side sessions, second factors, one-time codes, throttles, outbox, proofing."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from dancu.crypto import EncryptedText
from dancu.db import Base
from dancu.registry import models as _registry  # noqa: F401  (registers person, the target of person_id)

BigId = BigInteger().with_variant(Integer, "sqlite")


class EidAccount(Base):
    """One citizen's e-ID account; ``pin`` is the login name.

    A dependent account (a child's) has no password: only its guardians reach it.
    """

    __tablename__ = "eid_account"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), unique=True)
    pin: Mapped[str] = mapped_column(String(12), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(20))
    phone_verified_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    level: Mapped[int] = mapped_column(SmallInteger, default=1)
    totp_secret: Mapped[str | None] = mapped_column(EncryptedText(200))
    totp_enabled_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # The last TOTP time step accepted: a code is good once (RFC 6238 section 5.2).
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    # One-time code handed over on paper by a registrar, to set the first password.
    activation_hash: Mapped[str | None] = mapped_column(String(200))
    activation_expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class EidGuardianship(Base):
    """A guardian's account holding a child's dependent account (from the registry's parent links)."""

    __tablename__ = "eid_guardianship"
    __table_args__ = (UniqueConstraint("guardian_account_id", "child_account_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    guardian_account_id: Mapped[int] = mapped_column(ForeignKey("eid_account.id"), index=True)
    child_account_id: Mapped[int] = mapped_column(ForeignKey("eid_account.id"), index=True)
    relation: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class EidSession(Base):
    """A signed-in browser. The cookie holds only a random token; revoking this row signs it out at once."""

    __tablename__ = "eid_session"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("eid_account.id"), index=True)
    # A guardian acting for a child: the child's account while switched.
    acting_account_id: Mapped[int | None] = mapped_column(ForeignKey("eid_account.id"), index=True)
    auth_time: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    amr: Mapped[str] = mapped_column(String(60))
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    ip: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class EidKnownDevice(Base):
    """Browsers that signed in before: a sign-in from any other one is notified."""

    __tablename__ = "eid_known_device"
    __table_args__ = (UniqueConstraint("account_id", "device_sha256"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("eid_account.id"), index=True)
    device_sha256: Mapped[str] = mapped_column(String(64))
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    first_seen_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class EidRecoveryCode(Base):
    __tablename__ = "eid_recovery_code"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("eid_account.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(200))
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class EidPasskey(Base):
    __tablename__ = "eid_passkey"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("eid_account.id"), index=True)
    credential_id: Mapped[str] = mapped_column(String(400), unique=True)  # base64url
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    name: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class EidChallenge(Base):
    """A server-side secret awaiting its answer: a WebAuthn challenge or a phone one-time code.

    ``secret`` is the WebAuthn challenge (base64url) or the argon2 hash of the code.
    ``payload`` carries what the answer unlocks (a pending registration, as JSON).
    """

    __tablename__ = "eid_challenge"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    handle_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(30))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("eid_account.id"), index=True)
    secret: Mapped[str] = mapped_column(String(200))
    payload: Mapped[str | None] = mapped_column(EncryptedText(2000))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class EidThrottle(Base):
    """Failed guesses per source (an IP address) in a sliding window, and its lock."""

    __tablename__ = "eid_throttle"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    window_start: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class EidProofing(Base):
    """Evidence of one in-person identity proofing by a registrar (level 2)."""

    __tablename__ = "eid_proofing"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("eid_account.id"), index=True)
    registrar: Mapped[str] = mapped_column(String(60))
    level: Mapped[int] = mapped_column(SmallInteger)
    evidence: Mapped[str] = mapped_column(Text)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class EidOutbox(Base):
    """Messages to citizens, written in the same transaction as what caused them, sent after commit."""

    __tablename__ = "eid_outbox"
    __table_args__ = (Index("ix_eid_outbox_pending", "sent_at", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("eid_account.id"), index=True)
    channel: Mapped[str] = mapped_column(String(10))
    recipient: Mapped[str] = mapped_column(EncryptedText(400))
    kind: Mapped[str] = mapped_column(String(40))
    body: Mapped[str] = mapped_column(EncryptedText(2000))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(String(300), default="")

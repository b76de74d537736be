"""Card applications, captured biometrics (encrypted), cards, batches, mobile teams and their visits.

Persons are referred to by registry id only; their data is read through
``dancu.registry.services`` with a purpose, never joined here.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Date, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from dancu.db import Base

BigId = BigInteger().with_variant(Integer, "sqlite")

# The statuses of an application still in progress (services.OPEN_STATUSES): a person has at most one.
OPEN_APPLICATION = text("status IN ('submitted', 'captured', 'approved', 'produced', 'delivered')")
ACTIVE_CARD = text("status = 'active'")


class CardBatch(Base):
    """Approved applications sent together to the card factory."""

    __tablename__ = "card_batch"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(60))
    cards: Mapped[int] = mapped_column(Integer)


class MobileTeam(Base):
    """A team that takes applications outside the office (hospital wards, homes)."""

    __tablename__ = "card_mobile_team"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    unit_id: Mapped[int] = mapped_column(Integer)  # the police office it belongs to (commune or province)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class TeamVisit(Base):
    """One scheduled visit of a team: a place on a day, with a list of people to see."""

    __tablename__ = "card_team_visit"
    __table_args__ = (Index("ix_card_team_visit_team_day", "team_id", "visit_on"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("card_mobile_team.id"))
    visit_on: Mapped[dt.date] = mapped_column(Date)
    place_kind: Mapped[str] = mapped_column(String(20))  # hospital_ward | home | other
    place: Mapped[str] = mapped_column(String(300))
    unit_id: Mapped[int] = mapped_column(Integer)  # commune of the place
    status: Mapped[str] = mapped_column(String(20))  # planned | exported | done
    exported_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    package_id: Mapped[str | None] = mapped_column(String(36))  # of the last exported package


class VisitEntry(Base):
    """A person on a visit list."""

    __tablename__ = "card_visit_entry"
    __table_args__ = (UniqueConstraint("visit_id", "person_id", name="uq_card_visit_entry_person"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("card_team_visit.id"))
    person_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(String(300))
    application_id: Mapped[int | None] = mapped_column(BigInteger)


class CardApplication(Base):
    __tablename__ = "card_application"
    __table_args__ = (
        Index("ix_card_application_status_id", "status", "id"),
        Index("uq_card_application_open", "person_id", unique=True,
              sqlite_where=OPEN_APPLICATION, postgresql_where=OPEN_APPLICATION),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    person_id: Mapped[int] = mapped_column(BigInteger, index=True)
    kind: Mapped[str] = mapped_column(String(20))  # first | renewal | reissue_loss | reissue_damage | change
    reason: Mapped[str] = mapped_column(String(300))
    channel: Mapped[str] = mapped_column(String(10))  # office | mobile
    unit_id: Mapped[int] = mapped_column(Integer, index=True)  # where it was taken
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("card_team_visit.id"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(60))
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[str | None] = mapped_column(String(60))
    decision_note: Mapped[str] = mapped_column(String(300), default="")
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("card_batch.id"), index=True)
    # An offline capture's key: uploading the same capture again finds this application.
    capture_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    capture_digest: Mapped[str | None] = mapped_column(String(64))


class CardBiometrics(Base):
    """Face image and fingerprint templates, encrypted with the field key; never leave the server."""

    __tablename__ = "card_biometrics"

    application_id: Mapped[int] = mapped_column(ForeignKey("card_application.id"), primary_key=True)
    device_id: Mapped[str] = mapped_column(String(60))
    captured_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    face_quality: Mapped[int] = mapped_column(Integer)
    fingers: Mapped[str] = mapped_column(String(200))  # which fingers were taken, comma-separated
    sealed_face: Mapped[str] = mapped_column(Text)
    sealed_fingerprints: Mapped[str] = mapped_column(Text)


class Card(Base):
    __tablename__ = "card"
    # One valid card per person: activating a card supersedes the earlier ones.
    __table_args__ = (Index("uq_card_active", "person_id", unique=True,
                            sqlite_where=ACTIVE_CARD, postgresql_where=ACTIVE_CARD),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    document_number: Mapped[str] = mapped_column(String(12), unique=True)
    person_id: Mapped[int] = mapped_column(BigInteger, index=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("card_application.id"), unique=True)
    status: Mapped[str] = mapped_column(String(20))  # produced | delivered | active | lost | superseded
    issued_on: Mapped[dt.date] = mapped_column(Date)
    expires_on: Mapped[dt.date | None] = mapped_column(Date)
    chip_data: Mapped[str] = mapped_column(Text)
    qr_text: Mapped[str] = mapped_column(Text)
    signer_serial: Mapped[str] = mapped_column(String(40))
    delivered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    activated_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    revocation_reason: Mapped[str | None] = mapped_column(String(20))


class CardStatusList(Base):
    """Every published status list, newest by sequence; verifiers fetch the newest."""

    __tablename__ = "card_status_list"

    sequence: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    issued_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    next_update: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    token: Mapped[str] = mapped_column(Text)


class CardEvent(Base):
    """Who did what to an application or its card, and when: the accountability trail shown on the page."""

    __tablename__ = "card_event"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("card_application.id"), index=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(60))
    action: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(String(300))

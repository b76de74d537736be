"""Persons, households, residence and the registry's event history."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    func,
    select,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dancu.crypto import EncryptedText
from dancu.db import Base

BigId = BigInteger().with_variant(Integer, "sqlite")


class Sex(str, enum.Enum):
    MALE = "M"
    FEMALE = "F"


class VitalStatus(str, enum.Enum):
    ALIVE = "alive"
    DECEASED = "deceased"
    MISSING = "missing"


class PlaceStatus(str, enum.Enum):
    """Whether a place of birth or hometown is known.

    The seeds report that people born abroad and naturalized citizens could not
    be registered because these fields were mandatory; here "unknown" and
    "abroad" are first-class answers rather than blanks.
    """

    KNOWN = "known"
    ABROAD = "abroad"
    UNKNOWN = "unknown"


class CitizenshipBasis(str, enum.Enum):
    BIRTH = "birth"
    NATURALIZATION = "naturalization"


class ResidenceKind(str, enum.Enum):
    PERMANENT = "permanent"
    TEMPORARY = "temporary"
    CURRENT_STAY = "current_stay"


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    return Enum(cls, name=name, native_enum=False, values_callable=lambda e: [m.value for m in e], length=20)


class Person(Base):
    __tablename__ = "person"
    __table_args__ = (
        Index("ix_person_birth", "birth_year", "birth_month", "birth_day"),
        Index("ix_person_name_folded", "name_folded"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # Not unique on purpose: duplicate numbers exist in real registers and are
    # a data-quality finding, not something the database should refuse.
    pin: Mapped[str | None] = mapped_column(String(12), index=True)
    family_name: Mapped[str] = mapped_column(String(60), default="")
    middle_name: Mapped[str] = mapped_column(String(80), default="")
    given_name: Mapped[str] = mapped_column(String(60), default="")
    full_name: Mapped[str] = mapped_column(String(200))
    name_folded: Mapped[str] = mapped_column(String(200))
    other_names: Mapped[str] = mapped_column(String(200), default="")
    # Partial dates are normal in old registers: year only, or month and year.
    birth_year: Mapped[int | None] = mapped_column(SmallInteger)
    birth_month: Mapped[int | None] = mapped_column(SmallInteger)
    birth_day: Mapped[int | None] = mapped_column(SmallInteger)
    sex: Mapped[Sex | None] = mapped_column(_enum(Sex, "sex"))
    nationalities: Mapped[str] = mapped_column(String(40), default="VN")
    citizenship_basis: Mapped[CitizenshipBasis] = mapped_column(
        _enum(CitizenshipBasis, "citizenship_basis"), default=CitizenshipBasis.BIRTH
    )
    naturalized_on: Mapped[dt.date | None] = mapped_column(Date)
    ethnicity_code: Mapped[int | None] = mapped_column(SmallInteger)
    religion: Mapped[str | None] = mapped_column(EncryptedText(400))
    birth_place_status: Mapped[PlaceStatus] = mapped_column(_enum(PlaceStatus, "place_status"), default=PlaceStatus.KNOWN)
    birth_registration_unit_id: Mapped[int | None] = mapped_column(ForeignKey("admin_unit.id"), index=True)
    birth_country: Mapped[str | None] = mapped_column(String(2))
    hometown_status: Mapped[PlaceStatus] = mapped_column(_enum(PlaceStatus, "place_status"), default=PlaceStatus.KNOWN)
    hometown_unit_id: Mapped[int | None] = mapped_column(ForeignKey("admin_unit.id"), index=True)
    father_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), index=True)
    mother_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), index=True)
    spouse_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), index=True)
    status: Mapped[VitalStatus] = mapped_column(_enum(VitalStatus, "vital_status"), default=VitalStatus.ALIVE)
    status_date: Mapped[dt.date | None] = mapped_column(Date)
    # Denormalised current permanent residence commune: drives registrar scope
    # and per-commune reports without joining the residence history.
    home_unit_id: Mapped[int | None] = mapped_column(ForeignKey("admin_unit.id"), index=True)
    quality_issues: Mapped[str] = mapped_column(String(300), default="")
    # Raised by every registry event: a form or API client that states the version it read is refused
    # when the record changed since (a double submit, two registrars at once).
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # "<source>/<record id>" of the data set the person was loaded from: the
    # idempotency key of imports (the same source row never lands twice).
    source_ref: Mapped[str | None] = mapped_column(String(120), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    residences: Mapped[list[Residence]] = relationship(back_populates="person", order_by="Residence.valid_from")


class Household(Base):
    __tablename__ = "household"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    head_person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("admin_unit.id"), index=True)
    address_line: Mapped[str] = mapped_column(String(200), default="")
    established_on: Mapped[dt.date | None] = mapped_column(Date)
    dissolved_on: Mapped[dt.date | None] = mapped_column(Date)

    members: Mapped[list[HouseholdMember]] = relationship(back_populates="household")


class HouseholdMember(Base):
    __tablename__ = "household_member"
    # A person belongs to at most one household at a time.
    __table_args__ = (Index("uq_household_member_current", "person_id", unique=True,
                            sqlite_where=text("valid_to IS NULL"), postgresql_where=text("valid_to IS NULL")),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    relationship_to_head: Mapped[str] = mapped_column(String(30))
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)

    household: Mapped[Household] = relationship(back_populates="members")
    person: Mapped[Person] = relationship()


class Residence(Base):
    """One period of permanent residence, temporary residence or current stay."""

    __tablename__ = "residence"
    __table_args__ = (
        Index("ix_residence_person_kind", "person_id", "kind", "valid_to"),
        # At most one current residence of each kind per person.
        Index("uq_residence_current", "person_id", "kind", unique=True,
              sqlite_where=text("valid_to IS NULL"), postgresql_where=text("valid_to IS NULL")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    kind: Mapped[ResidenceKind] = mapped_column(_enum(ResidenceKind, "residence_kind"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("admin_unit.id"), index=True)
    address_line: Mapped[str] = mapped_column(String(200), default="")
    household_id: Mapped[int | None] = mapped_column(ForeignKey("household.id"), index=True)
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)
    # Temporary residence is registered for a fixed term.
    expires_on: Mapped[dt.date | None] = mapped_column(Date)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("registry_event.id"), index=True)

    person: Mapped[Person] = relationship(back_populates="residences")


class RegistryEvent(Base):
    """An act that changed the register: who did what, when, with what effect.

    ``changes`` holds ``{field: [before, after]}`` so that a record can be
    rewound to any past date.
    """

    __tablename__ = "registry_event"
    __table_args__ = (Index("ix_registry_event_person", "person_id", "recorded_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    kind: Mapped[str] = mapped_column(String(40))
    effective_on: Mapped[dt.date] = mapped_column(Date)
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(60))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("admin_unit.id"), index=True)
    reason: Mapped[str] = mapped_column(String(500), default="")
    changes: Mapped[dict] = mapped_column(JSON, default=dict)


class ImportJob(Base):
    """Progress of one import file, so that a killed import resumes."""

    __tablename__ = "import_job"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    file_name: Mapped[str] = mapped_column(String(400))
    lines_done: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_loaded: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_rejected: Mapped[int] = mapped_column(BigInteger, default=0)
    # The highest person id when the job began: every person it loads has a
    # higher one, so the checks after loading can be limited to those ids.
    persons_after_id: Mapped[int | None] = mapped_column(BigInteger)
    finished: Mapped[bool] = mapped_column(Boolean, default=False)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class PersonMerge(Base):
    """One record retired into another, with every row it changed as it was before."""

    __tablename__ = "person_merge"
    __table_args__ = (Index("ix_person_merge_retired", "retired_id", "undone_at"),
                      Index("ix_person_merge_survivor", "survivor_id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    survivor_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    retired_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    actor: Mapped[str] = mapped_column(String(60))
    merged_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str] = mapped_column(String(500))
    # where the merge was decided, e.g. "linkage pair 12"
    origin: Mapped[str] = mapped_column(String(120), default="")
    # {table: {row id: {column: value}}} of every row the merge changed, before it; sensitive values encrypted
    before: Mapped[dict] = mapped_column(JSON)
    undone_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    undone_by: Mapped[str | None] = mapped_column(String(60))


# A person who is not a record retired by a merge that stands (the survivor answers for it):
# the condition lists and counts of persons use.
STANDING = ~select(PersonMerge.id).where(PersonMerge.retired_id == Person.id, PersonMerge.undone_at.is_(None)).exists()


class ApplicationStatus(str, enum.Enum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REFUSED = "refused"


class ApplicationChannel(str, enum.Enum):
    ONLINE = "online"  # filed by the citizen from their e-ID account
    IN_PERSON = "in_person"  # recorded by a registrar after verifying the citizen's chip card


class ResidenceApplication(Base):
    """A citizen's own application to register permanent or temporary residence in a commune.

    It is what authorises the destination commune's registrar to act on a
    person who lives elsewhere (see registry.policy). ``applicant_*`` is what
    the application shows (from the e-ID account or the verified chip card):
    until it is accepted, the destination registrar sees nothing else.
    """

    __tablename__ = "residence_application"
    __table_args__ = (
        Index("ix_residence_application_unit_status", "unit_id", "status"),
        # One pending application of each kind per person: a double submit must not file two.
        Index("uq_residence_application_pending", "person_id", "kind", unique=True,
              sqlite_where=text("status = 'pending'"), postgresql_where=text("status = 'pending'")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[ResidenceKind] = mapped_column(_enum(ResidenceKind, "residence_kind"))
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    applicant_pin: Mapped[str] = mapped_column(String(12))
    applicant_name: Mapped[str] = mapped_column(String(200))
    applicant_birth_date: Mapped[str] = mapped_column(String(10))
    unit_id: Mapped[int] = mapped_column(ForeignKey("admin_unit.id"))
    address_line: Mapped[str] = mapped_column(String(200))
    household_id: Mapped[int | None] = mapped_column(ForeignKey("household.id"), index=True)
    relationship_to_head: Mapped[str] = mapped_column(String(30), default="head")
    valid_from: Mapped[dt.date] = mapped_column(Date)
    expires_on: Mapped[dt.date | None] = mapped_column(Date)
    channel: Mapped[ApplicationChannel] = mapped_column(_enum(ApplicationChannel, "application_channel"))
    # How the applicant was identified: the e-ID account and its level, or the verified card's number.
    evidence: Mapped[str] = mapped_column(String(200))
    filed_by: Mapped[str] = mapped_column(String(60))
    filed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[ApplicationStatus] = mapped_column(_enum(ApplicationStatus, "application_status"),
                                                      default=ApplicationStatus.PENDING)
    decided_by: Mapped[str | None] = mapped_column(String(60))
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    decision_reason: Mapped[str] = mapped_column(String(500), default="")
    # The commune of permanent residence the person had when the application was accepted: it is notified.
    origin_unit_id: Mapped[int | None] = mapped_column(ForeignKey("admin_unit.id"), index=True)

    def authorises(self, person_id: int, unit_id: int | None) -> bool:
        """Accepted, and for this person and this destination commune."""
        return (self.status == ApplicationStatus.ACCEPTED and self.person_id == person_id
                and self.unit_id == unit_id)

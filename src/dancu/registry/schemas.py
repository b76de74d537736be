"""What the registry's service functions take and return (Pydantic models).

The web pages, the REST API and the CLI all speak these, so validation rules
and messages are written once.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from dancu.db import MAX_ID, MAX_UNIT_ID
from dancu.registry.dates import PartialDate
from dancu.registry.models import CitizenshipBasis, PlaceStatus, Sex, VitalStatus
from dancu.registry.reference import HOUSEHOLD_RELATIONSHIPS

RecordId = Annotated[int, Field(ge=1, le=MAX_ID)]
UnitId = Annotated[int, Field(ge=1, le=MAX_UNIT_ID)]
NamePart = Annotated[str, StringConstraints(strip_whitespace=True, max_length=60)]
Purpose = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=300)]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _check_partial(value: str | None) -> str | None:
    if value in (None, ""):
        return None
    return PartialDate.parse(value).iso()


# ---- queries and views -------------------------------------------------------------------


class PersonQuery(_Input):
    # Sent as query parameters next to others (purpose), so extra keys are ignored.
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    text: str = Field("", max_length=200, description="Name (with or without diacritics) or a 12-digit PIN")
    pin: str | None = Field(None, pattern=r"^\d{12}$")
    birth_year: int | None = Field(None, ge=1850, le=2300)
    birth_date: str | None = Field(None, description="YYYY, YYYY-MM or YYYY-MM-DD")
    unit_id: UnitId | None = Field(None, description="Commune or province the person lives in")
    page: int = Field(1, ge=1, le=10_000)
    page_size: int = Field(20, ge=1, le=100)

    _birth = field_validator("birth_date")(_check_partial)


class PersonSummary(BaseModel):
    id: int
    pin: str | None
    full_name: str
    birth_date: str
    sex: Sex | None
    home_unit_id: int | None
    home_unit_label: str
    status: VitalStatus
    quality_issues: list[str]


class SearchPage(BaseModel):
    items: list[PersonSummary]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


class ResidenceView(BaseModel):
    id: int
    kind: str
    unit_id: int
    unit_label: str
    address_line: str
    household_id: int | None
    valid_from: dt.date
    valid_to: dt.date | None
    expires_on: dt.date | None


class EventView(BaseModel):
    id: int
    kind: str
    effective_on: dt.date
    recorded_at: dt.datetime
    actor: str
    reason: str
    changes: dict[str, list]


class RelativeView(BaseModel):
    """A father, mother or spouse; only the relation when the relative is outside the reader's area."""

    relation: str
    person_id: int | None = None
    full_name: str | None = None
    birth_date: str | None = None


class HouseholdMemberView(BaseModel):
    person_id: int
    full_name: str
    birth_date: str
    relationship_to_head: str
    valid_from: dt.date


class HouseholdView(BaseModel):
    id: int
    code: str
    unit_id: int
    unit_label: str
    address_line: str
    head_person_id: int | None
    members: list[HouseholdMemberView]


class QualityView(BaseModel):
    dimensions: dict[str, bool]
    issues: list[str]


class PersonDetail(BaseModel):
    id: int
    # the id asked for, when it is a record merged into this one
    redirected_from: int | None = None
    # the record's version now (as_of or not): a change stating it is refused if the record changed since
    version: int
    as_of: dt.date | None
    pin: str | None
    family_name: str
    middle_name: str
    given_name: str
    full_name: str
    other_names: str
    birth_date: str
    birth_date_iso: str
    sex: Sex | None
    nationalities: list[str]
    citizenship_basis: CitizenshipBasis
    naturalized_on: dt.date | None
    ethnicity_code: int | None
    ethnicity: str | None
    religion: str | None
    birth_place_status: PlaceStatus
    birth_registration_unit_id: int | None
    birth_registration_unit_label: str | None
    birth_country: str | None
    hometown_status: PlaceStatus
    hometown_unit_id: int | None
    hometown_unit_label: str | None
    status: VitalStatus
    status_date: dt.date | None
    home_unit_id: int | None
    relatives: list[RelativeView]
    residences: list[ResidenceView]
    household: HouseholdView | None
    events: list[EventView]
    quality: QualityView


# ---- registrar actions ------------------------------------------------------------------


class BirthRegistration(_Input):
    family_name: NamePart = Field(min_length=1)
    middle_name: NamePart = ""
    given_name: NamePart = Field(min_length=1)
    birth_date: dt.date
    sex: Sex
    birth_registration_unit_id: UnitId
    mother_id: RecordId | None = None
    father_id: RecordId | None = None
    ethnicity_code: int = Field(1, ge=1, le=54)
    nationalities: list[Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]] = ["VN"]
    hometown_unit_id: UnitId | None = Field(None, description="Defaults to the father's, else the mother's")
    registered_on: dt.date | None = None
    household_id: RecordId | None = Field(None, description="Defaults to the mother's household")

    @model_validator(mode="after")
    def _plausible(self) -> BirthRegistration:
        if self.birth_date > dt.date.today():
            raise ValueError("birth date is in the future")
        if self.registered_on and self.registered_on < self.birth_date:
            raise ValueError("registration date is before the birth date")
        return self


def _known_relationship(value: str) -> str:
    if value not in HOUSEHOLD_RELATIONSHIPS:
        raise ValueError(f"unknown relationship {value!r}; use one of {', '.join(HOUSEHOLD_RELATIONSHIPS)}")
    return value


Relationship = Annotated[str, AfterValidator(_known_relationship)]


class PermanentResidenceInput(_Input):
    unit_id: UnitId
    address_line: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    household_id: RecordId | None = Field(None, description="Join this household; omit to found a new one")
    relationship_to_head: Relationship = "head"
    effective_on: dt.date | None = None
    reason: str = Field("", max_length=500)


class TemporaryResidenceInput(_Input):
    unit_id: UnitId
    address_line: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    valid_from: dt.date
    expires_on: dt.date

    @model_validator(mode="after")
    def _term(self) -> TemporaryResidenceInput:
        if self.expires_on <= self.valid_from:
            raise ValueError("the end date must be after the start date")
        # Law on Residence 2020, art. 27: a temporary residence term is at most two years.
        if (self.expires_on - self.valid_from).days > 2 * 366:
            raise ValueError("temporary residence is registered for at most two years (renew it instead)")
        return self


class DeathInput(_Input):
    date_of_death: dt.date
    reason: str = Field("", max_length=500)

    @field_validator("date_of_death")
    @classmethod
    def _not_future(cls, value: dt.date) -> dt.date:
        if value > dt.date.today():
            raise ValueError("date of death is in the future")
        return value


class CorrectionInput(_Input):
    family_name: NamePart | None = None
    middle_name: NamePart | None = None
    given_name: NamePart | None = None
    other_names: Annotated[str, StringConstraints(max_length=200)] | None = None
    birth_date: str | None = Field(None, description="YYYY, YYYY-MM or YYYY-MM-DD")
    sex: Sex | None = None
    ethnicity_code: int | None = Field(None, ge=1, le=54)
    religion: Annotated[str, StringConstraints(max_length=100)] | None = None
    nationalities: list[Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]] | None = None
    pin: str | None = Field(None, pattern=r"^\d{12}$")
    birth_place_status: PlaceStatus | None = None
    birth_registration_unit_id: UnitId | None = None
    birth_country: str | None = Field(None, pattern=r"^[A-Z]{2}$")
    hometown_status: PlaceStatus | None = None
    hometown_unit_id: UnitId | None = None
    father_id: RecordId | None = None
    mother_id: RecordId | None = None
    spouse_id: RecordId | None = None
    reason: Annotated[str, StringConstraints(min_length=3, max_length=500)]

    _birth = field_validator("birth_date")(_check_partial)

    def changed_fields(self) -> dict[str, object]:
        return {name: value for name, value in self.model_dump(exclude={"reason"}).items()
                if name in self.model_fields_set and value is not None}


class PersonRegistration(_Input):
    """A person entered directly (e.g. a naturalized citizen, or someone found
    missing from the register), as opposed to a birth registration."""

    family_name: NamePart = ""
    middle_name: NamePart = ""
    given_name: NamePart = Field(min_length=1)
    other_names: str = Field("", max_length=200)
    birth_date: str = Field(description="YYYY, YYYY-MM or YYYY-MM-DD")
    sex: Sex
    pin: str | None = Field(None, pattern=r"^\d{12}$")
    nationalities: list[Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]] = ["VN"]
    citizenship_basis: CitizenshipBasis = CitizenshipBasis.BIRTH
    naturalized_on: dt.date | None = None
    ethnicity_code: int | None = Field(None, ge=1, le=54)
    religion: str | None = Field(None, max_length=100)
    birth_place_status: PlaceStatus = PlaceStatus.KNOWN
    birth_registration_unit_id: UnitId | None = None
    birth_country: str | None = Field(None, pattern=r"^[A-Z]{2}$")
    hometown_status: PlaceStatus = PlaceStatus.KNOWN
    hometown_unit_id: UnitId | None = None
    reason: str = Field("", max_length=500)
    # Required from a registrar with an area: the person is registered where they live, in that area.
    residence: PermanentResidenceInput | None = None

    _birth = field_validator("birth_date")(_check_partial)

    @model_validator(mode="after")
    def _places_consistent(self) -> PersonRegistration:
        if self.birth_place_status is PlaceStatus.KNOWN and self.birth_registration_unit_id is None:
            raise ValueError("give the commune of birth registration, or mark the birthplace abroad/unknown")
        if self.birth_place_status is PlaceStatus.ABROAD and not self.birth_country:
            raise ValueError("give the country of birth for a person born abroad")
        if self.hometown_status is PlaceStatus.KNOWN and self.hometown_unit_id is None:
            raise ValueError("give the hometown, or mark it unknown")
        if self.citizenship_basis is CitizenshipBasis.NATURALIZATION and self.naturalized_on is None:
            raise ValueError("give the date of the naturalization decision")
        return self



class UnitQualityRow(BaseModel):
    unit_id: int | None
    unit_label: str
    persons: int
    correct: int
    sufficient: int
    clean: int
    live: int
    all_ok: int
    top_rules: list[tuple[str, int]]


class QualityReport(BaseModel):
    province_code: str | None
    persons: int
    rows: list[UnitQualityRow]
    rule_totals: dict[str, int]


class ApplicationInput(_Input):
    """What a citizen applies for: permanent or temporary residence at an address of a commune."""

    kind: Annotated[str, StringConstraints(pattern=r"^(permanent|temporary)$")]
    unit_id: UnitId
    address_line: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    household_id: RecordId | None = Field(None, description="Join this household (permanent); omit to found one")
    relationship_to_head: Relationship = "head"
    valid_from: dt.date | None = Field(None, description="Start of the temporary residence; default: the decision day")
    expires_on: dt.date | None = Field(None, description="End of the temporary residence (required for it)")

    @model_validator(mode="after")
    def _term(self) -> ApplicationInput:
        if self.kind == "temporary" and self.expires_on is None:
            raise ValueError("give the end date of the temporary residence")
        if self.valid_from and self.expires_on and self.expires_on <= self.valid_from:
            raise ValueError("the end date must be after the start date")
        return self


class InPersonApplicationInput(ApplicationInput):
    """An application taken at the counter: the citizen's chip card (or its QR code), read and verified offline."""

    card_data: Annotated[str, StringConstraints(min_length=10, max_length=200_000)]


class ApplicationDecision(_Input):
    accept: bool
    reason: Annotated[str, StringConstraints(max_length=500)] = ""


class ApplicationView(BaseModel):
    """What the application shows. ``person_id`` is given only once it is accepted: until then the
    destination registrar sees nothing of the register's record."""

    id: int
    kind: str
    status: str
    channel: str
    applicant_pin: str
    applicant_name: str
    applicant_birth_date: str
    unit_id: int
    unit_label: str
    address_line: str
    household_id: int | None
    relationship_to_head: str
    valid_from: dt.date
    expires_on: dt.date | None
    evidence: str
    filed_by: str
    filed_at: dt.datetime
    decided_by: str | None
    decided_at: dt.datetime | None
    decision_reason: str
    origin_unit_label: str | None
    person_id: int | None

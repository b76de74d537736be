"""Inputs and views of the card domain, shared by the API, the pages and the CLI.

No view carries a face image or a fingerprint template: they stay encrypted in the database.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from dancu.db import MAX_ID, MAX_UNIT_ID

Kind = Literal["first", "renewal", "change", "reissue_loss", "reissue_damage"]
Status = Literal["submitted", "captured", "approved", "rejected", "produced", "delivered", "activated"]
Channel = Literal["office", "mobile"]
PlaceKind = Literal["hospital_ward", "home", "other"]
Finger = Literal["right_thumb", "right_index", "left_thumb", "left_index"]
KINDS = ("first", "renewal", "change", "reissue_loss", "reissue_damage")
STATUSES = ("submitted", "captured", "approved", "rejected", "produced", "delivered", "activated")
PLACE_KINDS = ("hospital_ward", "home", "other")

NoNul = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f]*$"


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ApplicationInput(_Input):
    pin: str | None = Field(default=None, pattern=r"^\d{12}$", description="12-digit PIN (or give person_id)")
    person_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    kind: Kind
    reason: str = Field(default="", max_length=300, pattern=NoNul)
    unit_id: int = Field(ge=1, le=MAX_UNIT_ID, description="the commune or province where it is taken")

    @model_validator(mode="after")
    def _one_person(self) -> ApplicationInput:
        if (self.pin is None) == (self.person_id is None):
            raise ValueError("give either a PIN or a person id")
        return self


class ApplicationFilter(_Input):
    status: Status | None = None
    kind: Kind | None = None
    channel: Channel | None = None
    person_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    visit_id: int | None = Field(default=None, ge=1, le=MAX_UNIT_ID)
    page: int = Field(default=1, ge=1, le=10_000)
    page_size: int = Field(default=20, ge=1, le=200)


class Decision(_Input):
    note: str = Field(default="", max_length=300, pattern=NoNul)


class LossReport(_Input):
    document_number: str = Field(pattern=r"^C\d{11}$")
    note: str = Field(default="", max_length=300, pattern=NoNul)


class BatchInput(_Input):
    application_ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] | None = Field(default=None, max_length=500)


class BatchResult(BaseModel):
    batch_id: int
    cards: int
    application_ids: list[int]


class ApplicationSummary(BaseModel):
    id: int
    person_id: int
    kind: str
    channel: str
    unit_id: int
    status: str
    created_at: dt.datetime
    created_by: str
    batch_id: int | None


class ApplicationPage(BaseModel):
    items: list[ApplicationSummary]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


class CardView(BaseModel):
    document_number: str
    status: str
    issued_on: dt.date
    expires_on: dt.date | None
    delivered_at: dt.datetime | None
    activated_at: dt.datetime | None
    revoked_at: dt.datetime | None
    revocation_reason: str | None


class EventView(BaseModel):
    at: dt.datetime
    actor: str
    action: str
    note: str


class ApplicationView(ApplicationSummary):
    reason: str
    visit_id: int | None
    decided_at: dt.datetime | None
    decided_by: str | None
    decision_note: str
    unit_label: str
    person_pin: str | None
    person_name: str
    person_birth_date: str
    person_age: int
    needs_biometrics: bool
    biometrics_device: str | None
    biometrics_captured_at: dt.datetime | None
    biometrics_fingers: list[str]
    face_quality: int | None
    card: CardView | None
    previous_cards: list[CardView]
    current_card_expires_on: dt.date | None
    events: list[EventView]


class TeamInput(_Input):
    name: str = Field(min_length=3, max_length=120, pattern=NoNul)
    unit_id: int = Field(ge=1, le=MAX_UNIT_ID)


class VisitInput(_Input):
    visit_on: dt.date
    place_kind: PlaceKind
    place: str = Field(min_length=3, max_length=300, pattern=NoNul)
    unit_id: int = Field(ge=1, le=MAX_UNIT_ID)


class EntryInput(_Input):
    pin: str = Field(pattern=r"^\d{12}$")
    kind: Kind = "first"
    note: str = Field(default="", max_length=300, pattern=NoNul)


class EntryView(BaseModel):
    id: int
    person_id: int
    pin: str | None
    full_name: str
    birth_date: str
    kind: str
    note: str
    application_id: int | None
    application_status: str | None


class VisitView(BaseModel):
    id: int
    team_id: int
    team_name: str
    visit_on: dt.date
    place_kind: str
    place: str
    unit_id: int
    unit_label: str
    status: str
    exported_at: dt.datetime | None
    entry_count: int
    entries: list[EntryView]


class TeamView(BaseModel):
    id: int
    name: str
    unit_id: int
    unit_label: str
    visits: list[VisitView]


class FingerprintUpload(_Input):
    finger: Finger
    template: str = Field(min_length=4, max_length=8000, description="base64 minutiae template")
    quality: int = Field(ge=0, le=100)


class CaptureUpload(_Input):
    """One capture made offline from a visit package, uploaded when the team is back online."""

    capture_id: str = Field(pattern=r"^[A-Za-z0-9-]{16,64}$", description="idempotency key made by the device")
    package_id: str = Field(pattern=r"^[0-9a-f-]{36}$")
    entry_id: int = Field(ge=1, le=MAX_ID)
    captured_at: dt.datetime
    device_id: str = Field(min_length=1, max_length=60, pattern=NoNul)
    face_png: str = Field(min_length=8, max_length=400_000, description="base64 PNG")
    face_quality: int = Field(ge=0, le=100)
    fingerprints: list[FingerprintUpload] = Field(min_length=1, max_length=10)


class CaptureResult(BaseModel):
    application_id: int
    replayed: bool


class VerifyInput(_Input):
    data: str = Field(min_length=1, max_length=65536, description="QR text or the chip data file's content")


class VerifyResult(BaseModel):
    valid: bool
    source: str
    problems: list[str]
    document_number: str | None
    holder: dict

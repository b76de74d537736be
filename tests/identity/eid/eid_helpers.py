"""Shared by the e-ID tests and by other identity tests (OIDC, signatures): seed citizens, sign in in a browser.

Import from elsewhere as ``from identity.eid.eid_helpers import login_citizen``.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass
from pathlib import Path

from dancu.accounts.services import SYSTEM
from dancu.registry import services
from dancu.registry.models import Sex
from dancu.registry.schemas import CorrectionInput, PermanentResidenceInput, PersonRegistration

CITIZEN_PASSWORD = "mat-khau-rat-dai-2026"
STAFF_PASSWORD = "correct horse battery"
PARENT_PIN = "079090000123"
SPOUSE_PIN = "079192000456"
CHILD_PIN = "079315000789"
OTHER_PIN = "079075001234"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
SCREENSHOTS = Path("/tmp/dancu-eid-screenshots")


@dataclass(frozen=True)
class Citizens:
    parent_id: int
    spouse_id: int
    child_id: int
    other_id: int
    commune_id: int


def add_person(session, full_name: str, birth: str, sex: Sex, commune_id: int, pin: str,
               household_id: int | None = None, relationship: str = "head") -> int:
    family, *middle, given = full_name.split(" ")
    person_id = services.register_person(session, SYSTEM, PersonRegistration(
        family_name=family, middle_name=" ".join(middle), given_name=given, birth_date=birth, sex=sex,
        birth_registration_unit_id=commune_id, hometown_unit_id=commune_id, ethnicity_code=1, pin=pin,
    ))
    services.register_permanent_residence(session, SYSTEM, person_id, PermanentResidenceInput(
        unit_id=commune_id, address_line="12 Lê Lợi", household_id=household_id, relationship_to_head=relationship,
        effective_on=dt.date(2020, 1, 1),
    ))
    return person_id


def seed_citizens(session, commune_id: int) -> Citizens:
    """A family in one household: parents, a child under 14 (linked to both parents), and a neighbour."""
    parent = add_person(session, "Nguyễn Văn An", "1990-05-17", Sex.MALE, commune_id, PARENT_PIN)
    household = services.get_person(session, SYSTEM, parent, "seed test data").household.id
    spouse = add_person(session, "Trần Thị Bình", "1992-08-02", Sex.FEMALE, commune_id, SPOUSE_PIN, household,
                        "spouse")
    child = add_person(session, "Nguyễn Thị Ánh", "2015-03-09", Sex.FEMALE, commune_id, CHILD_PIN, household,
                       "child")
    services.correct_person(session, SYSTEM, child, CorrectionInput(father_id=parent, mother_id=spouse,
                                                                    reason="parents from the birth register"))
    other = add_person(session, "Lê Văn Cường", "1975-01-20", Sex.MALE, commune_id, OTHER_PIN)
    return Citizens(parent_id=parent, spouse_id=spouse, child_id=child, other_id=other, commune_id=commune_id)


def login_citizen(page, base_url: str, pin: str, password: str, next: str = "/me") -> None:
    """Sign in on /eid/login with PIN and password (an account without a second factor) and wait for ``next``."""
    page.goto(f"{base_url}/eid/login?next={next}")
    page.fill("#pin", pin)
    page.fill("#password", password)
    page.click("#eid-login-submit")
    page.wait_for_url(f"**{next}*")


def outbox_messages(data_dir: Path) -> list[dict]:
    path = data_dir / "eid-outbox.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def wait_for_message(data_dir: Path, kind: str, to: str | None = None, after: int = 0, timeout: float = 10) -> dict:
    """The first outbox message of ``kind`` (to ``to``) with an id above ``after``, as the file sink wrote it."""
    deadline = time.monotonic() + timeout
    while True:
        for message in outbox_messages(data_dir):
            if message["kind"] == kind and message["id"] > after and (to is None or message["to"] == to):
                return message
        if time.monotonic() > deadline:
            raise AssertionError(f"no {kind} message in the outbox")
        time.sleep(0.1)


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path

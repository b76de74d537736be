"""Shared by the web tests: seed data helpers, staff password, browser helpers."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from dancu.accounts.services import SYSTEM
from dancu.registry import services
from dancu.registry.models import Sex
from dancu.registry.schemas import PermanentResidenceInput, PersonRegistration

PASSWORD = "correct horse battery"
AN_PIN = "079090000123"
BINH_PIN = "079192000456"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


@dataclass(frozen=True)
class Seed:
    an_id: int
    household_id: int
    commune_id: int
    commune_name: str


def add_person(session, full_name: str, birth: str, sex: Sex, commune_id: int, household_id: int | None = None,
               relationship: str = "head", **extra) -> int:
    family, *middle, given = full_name.split(" ")
    person_id = services.register_person(session, SYSTEM, PersonRegistration(
        family_name=family, middle_name=" ".join(middle), given_name=given, birth_date=birth, sex=sex,
        birth_registration_unit_id=commune_id, hometown_unit_id=commune_id, **{"ethnicity_code": 1, **extra},
    ))
    services.register_permanent_residence(session, SYSTEM, person_id, PermanentResidenceInput(
        unit_id=commune_id, address_line="12 Lê Lợi", household_id=household_id, relationship_to_head=relationship,
        effective_on=dt.date(2020, 1, 1),
    ))
    return person_id


def login(page, username: str = "canbo", password: str = PASSWORD) -> None:
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

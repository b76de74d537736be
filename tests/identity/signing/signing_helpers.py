"""Shared by the signature tests: citizens with a level-2 and a level-1 e-ID, their principals."""

from __future__ import annotations

import datetime as dt

from dancu.accounts.services import SYSTEM
from dancu.identity.eid import services as eid
from dancu.registry import services as registry
from dancu.registry.models import Sex
from dancu.registry.schemas import PermanentResidenceInput, PersonRegistration
from dancu.units import services as units

LEVEL2_PIN = "079090000123"
LEVEL1_PIN = "079192000456"
PASSWORD = "mat-khau-rat-dai-2026"


def _person(session, family: str, middle: str, given: str, birth: str, sex: Sex, pin: str) -> int:
    commune = units.list_communes(session, "79")[0]
    person_id = registry.register_person(session, SYSTEM, PersonRegistration(
        family_name=family, middle_name=middle, given_name=given, birth_date=birth, sex=sex,
        birth_registration_unit_id=commune.id, hometown_unit_id=commune.id, ethnicity_code=1, pin=pin))
    registry.register_permanent_residence(session, SYSTEM, person_id, PermanentResidenceInput(
        unit_id=commune.id, address_line="12 Lê Lợi", relationship_to_head="head", effective_on=dt.date(2020, 1, 1)))
    return person_id


def principal_for(session, account_id: int, *, minutes_ago: int = 0) -> eid.Principal:
    account = eid.get_account(session, account_id)
    return eid.Principal(account_id=account.id, person_id=account.person_id, level=account.level,
                         auth_time=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=minutes_ago), amr=("pwd", "otp"))


def seed_citizens(session) -> dict[str, int]:
    """e-ID account ids: "an" at level 2, "binh" at level 1."""
    _person(session, "Nguyễn", "Văn", "An", "1990-05-17", Sex.MALE, LEVEL2_PIN)
    _person(session, "Trần", "Thị", "Bình", "1992-08-02", Sex.FEMALE, LEVEL1_PIN)
    accounts = {
        "an": eid.create_account(session, pin=LEVEL2_PIN, phone=None, password=PASSWORD, level=2),
        "binh": eid.create_account(session, pin=LEVEL1_PIN, phone="0912345678", password=PASSWORD, level=1),
    }
    session.commit()
    return accounts

import datetime as dt

import pytest

from dancu.accounts.models import Role
from dancu.accounts.services import SYSTEM, Actor, create_user
from dancu.identity.cards import services as cards
from dancu.identity.cards.devices import SimulatedCaptureDevice
from dancu.identity.cards.schemas import ApplicationInput
from dancu.registry import services as registry
from dancu.registry.models import Sex
from dancu.registry.schemas import PermanentResidenceInput, PersonRegistration
from dancu.units import services as units

PASSWORD = "correct horse battery"


@pytest.fixture
def province(session):
    return next(u for u in units.list_provinces(session) if u.code == "79")


@pytest.fixture
def commune(session):
    return units.list_communes(session, "79")[0]


@pytest.fixture
def approver(session, province) -> Actor:
    """A registrar of the whole city: takes and approves applications."""
    create_user(session, "canbo.tp", PASSWORD, Role.REGISTRAR, scope_unit_id=province.id)
    session.commit()
    return Actor("canbo.tp", Role.REGISTRAR, province.id)


@pytest.fixture
def clerk(session, commune) -> Actor:
    """A ward registrar: takes applications, may not approve them."""
    create_user(session, "canbo.phuong", PASSWORD, Role.REGISTRAR, scope_unit_id=commune.id)
    session.commit()
    return Actor("canbo.phuong", Role.REGISTRAR, commune.id)


@pytest.fixture
def make_person(session, commune):
    serial = iter(range(100, 10_000))

    def make(full_name="Nguyễn Văn An", birth="1990-05-17", sex=Sex.MALE, pin=None):
        family, *middle, given = full_name.split(" ")
        year = int(birth[:4])
        century_sex = (year // 100 - 19) * 2 + (sex == Sex.FEMALE)
        pin = pin or f"079{century_sex}{year % 100:02d}{next(serial):06d}"
        person_id = registry.register_person(session, SYSTEM, PersonRegistration(
            family_name=family, middle_name=" ".join(middle), given_name=given, birth_date=birth, sex=sex,
            ethnicity_code=1, birth_registration_unit_id=commune.id, hometown_unit_id=commune.id,
            pin=pin,
        ))
        registry.register_permanent_residence(session, SYSTEM, person_id, PermanentResidenceInput(
            unit_id=commune.id, address_line="12 Lê Lợi", effective_on=dt.date(2020, 1, 1)))
        session.commit()
        return person_id

    return make


@pytest.fixture
def issue_card(session, approver, commune):
    """Take an application at the office through to an active card; returns the application id."""

    def issue(person_id: int, kind: str = "first", reason: str = "") -> int:
        application_id = cards.create_application(session, approver, ApplicationInput(
            person_id=person_id, kind=kind, reason=reason, unit_id=commune.id))
        view = cards.get_application(session, approver, application_id, "test")
        if view.needs_biometrics:
            cards.capture_biometrics(session, approver, application_id, SimulatedCaptureDevice())
        cards.decide(session, approver, application_id, approve=True)
        cards.produce_batch(session, approver, [application_id])
        cards.deliver(session, approver, application_id)
        cards.activate(session, approver, application_id)
        session.commit()
        return application_id

    return issue

import datetime as dt

import pytest

from dancu.accounts.models import Role
from dancu.accounts.services import Actor, create_user
from dancu.registry import services
from dancu.registry.models import Sex
from dancu.registry.schemas import PermanentResidenceInput, PersonRegistration
from dancu.units import services as units
from registry.authz_world import signed_world


@pytest.fixture
def communes(session):
    """Three real communes of Hồ Chí Minh City (2025 units)."""
    found = units.list_communes(session, "79")
    assert len(found) > 100
    return found[:3]


@pytest.fixture
def registrar(session) -> Actor:
    create_user(session, "registrar", "correct horse battery", Role.REGISTRAR)
    session.commit()
    return Actor("registrar", Role.REGISTRAR)


@pytest.fixture
def make_person(session, registrar, communes):
    def make(full_name="Nguyễn Văn An", birth="1990-05-17", sex=Sex.MALE, unit=None, household_id=None,
             relationship="head", **extra):
        family, *middle, given = full_name.split(" ")
        person_id = services.register_person(session, registrar, PersonRegistration(
            family_name=family, middle_name=" ".join(middle), given_name=given, birth_date=birth, sex=sex,
            ethnicity_code=1, birth_registration_unit_id=communes[0].id, hometown_unit_id=communes[0].id, **extra,
        ))
        services.register_permanent_residence(session, registrar, person_id, PermanentResidenceInput(
            unit_id=(unit or communes[0]).id, address_line="12 Lê Lợi", household_id=household_id,
            relationship_to_head=relationship, effective_on=dt.date(2020, 1, 1),
        ))
        session.commit()
        return person_id

    return make


@pytest.fixture
def world(session, monkeypatch):
    """Communes inside and outside two registrars' areas, every role signed in (registry/authz_world.py)."""
    return signed_world(session, monkeypatch)

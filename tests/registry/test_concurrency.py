"""Concurrent changes of one person: really concurrent requests, each with its own session and connection.

Every registry change reads the record, decides and writes. Two at once used to
decide on the same state (two moves both closing the same residence and each
opening one); the person is now locked across read-decide-write, a change that
states the version it read is refused once the record changed (409), and
unique indexes make two current residences of one kind impossible.
"""

from __future__ import annotations

import datetime as dt
import re
import sys

import httpx
import pytest
from at_once import at_once, released_together
from migration_helpers import downgrade_below
from serving import free_port, serving
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import IntegrityError

from dancu.accounts.models import Role
from dancu.accounts.services import Actor, create_user
from dancu.db import ConcurrentChange, get_engine
from dancu.migrate import upgrade
from dancu.registry import quality, services
from dancu.registry.models import Household, HouseholdMember, Person, RegistryEvent, Residence, ResidenceKind, Sex
from dancu.registry.schemas import (
    BirthRegistration,
    DeathInput,
    PermanentResidenceInput,
    PersonRegistration,
    TemporaryResidenceInput,
)

CLIENTS = 8
PASSWORD = "correct horse battery"
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


def _current(session, person_id: int, kind: ResidenceKind) -> list[Residence]:
    session.expire_all()
    return list(session.scalars(select(Residence).where(Residence.person_id == person_id, Residence.kind == kind,
                                                        Residence.valid_to.is_(None))))


def _memberships(session, person_id: int) -> list[HouseholdMember]:
    return list(session.scalars(select(HouseholdMember).where(HouseholdMember.person_id == person_id,
                                                              HouseholdMember.valid_to.is_(None))))


def _move(communes, index: int) -> PermanentResidenceInput:
    return PermanentResidenceInput(unit_id=communes[1 + index % 2].id, address_line=f"{index} Hai Bà Trưng",
                                   relationship_to_head="head", effective_on=dt.date(2024, 3, 1))


def test_concurrent_moves_of_one_person_leave_one_current_residence(session, registrar, make_person, communes):
    person_id = make_person()
    for _round in range(3):
        results = at_once(CLIENTS, lambda i, s: services.move_permanent_residence(
            s, registrar, person_id, _move(communes, i)))
        assert [r for r in results if isinstance(r, Exception)] == []
        assert len(_current(session, person_id, ResidenceKind.PERMANENT)) == 1
        assert len(_memberships(session, person_id)) == 1
    # the moves ran one after the other: each closed the residence the one before opened
    person = session.get(Person, person_id)
    assert person.version == 3 + 3 * CLIENTS  # registered, settled, then every move


def test_concurrent_moves_stating_the_version_read_let_exactly_one_through(session, registrar, make_person,
                                                                           communes):
    person_id = make_person()
    version = services.get_person(session, registrar, person_id, "kiểm tra trước khi chuyển").version
    session.commit()
    results = at_once(CLIENTS, lambda i, s: services.move_permanent_residence(
        s, registrar, person_id, _move(communes, i), expected_version=version))
    assert sum(r is None for r in results) == 1
    assert all(isinstance(r, ConcurrentChange) for r in results if r is not None)
    assert len(_current(session, person_id, ResidenceKind.PERMANENT)) == 1
    # no household was opened by a refused move: the old one and the winner's
    households = session.scalar(select(func.count()).select_from(Household).where(Household.head_person_id.is_not(None)))
    assert households == 1


def test_concurrent_first_registrations_of_permanent_residence_accept_one(session, registrar, communes):
    person_id = services.register_person(session, registrar, PersonRegistration(
        family_name="Lê", middle_name="Thị", given_name="Hoa", birth_date="1985-02-03", sex=Sex.FEMALE,
        ethnicity_code=1, birth_registration_unit_id=communes[0].id, hometown_unit_id=communes[0].id))
    session.commit()
    results = at_once(CLIENTS, lambda i, s: services.register_permanent_residence(
        s, registrar, person_id, _move(communes, i)))
    assert sum(r is None for r in results) == 1
    assert all(isinstance(r, services.RegistryError) and "already has a permanent residence" in str(r)
               for r in results if r is not None)
    assert len(_current(session, person_id, ResidenceKind.PERMANENT)) == 1
    assert len(_memberships(session, person_id)) == 1


def test_concurrent_temporary_registrations_leave_one_current(session, registrar, make_person, communes):
    person_id = make_person()
    results = at_once(CLIENTS, lambda i, s: services.register_temporary_residence(
        s, registrar, person_id, TemporaryResidenceInput(
            unit_id=communes[1 + i % 2].id, address_line=f"{i} Nguyễn Huệ", valid_from=dt.date(2024, 5, 1),
            expires_on=dt.date(2025, 5, 1))))
    assert [r for r in results if isinstance(r, Exception)] == []
    assert len(_current(session, person_id, ResidenceKind.TEMPORARY)) == 1


def test_a_death_and_a_move_at_once_leave_no_residence_open(session, registrar, make_person, communes):
    death = DeathInput(date_of_death=dt.date(2024, 6, 1), reason="giấy báo tử số 12")
    for _round in range(3):
        person_id = make_person()
        results = at_once(2, lambda i, s: services.record_death(s, registrar, person_id, death) if i == 0
                           else services.move_permanent_residence(s, registrar, person_id, _move(communes, i)))
        # whichever came second decided on what the first wrote: a move after the death is refused
        assert results[0] is None
        assert results[1] is None or "deceased" in str(results[1])
        assert _current(session, person_id, ResidenceKind.PERMANENT) == []
        assert _memberships(session, person_id) == []


def test_concurrent_births_take_distinct_pins(session, registrar, communes):
    results = at_once(CLIENTS, lambda i, s: services.register_birth(s, registrar, BirthRegistration(
        family_name="Phạm", middle_name="Minh", given_name=f"Khang{i}", birth_date=dt.date(2024, 1, 2),
        sex=Sex.MALE, ethnicity_code=1, birth_registration_unit_id=communes[0].id, registered_on=dt.date(2024, 1, 9))))
    assert all(isinstance(r, int) for r in results), results
    pins = session.scalars(select(Person.pin).where(Person.id.in_(results))).all()
    assert len(set(pins)) == CLIENTS


def test_concurrent_new_households_in_one_commune_take_distinct_codes(session, registrar, make_person, communes):
    persons = [make_person(f"Võ Văn Tài{i}") for i in range(CLIENTS)]
    results = at_once(CLIENTS, lambda i, s: services.move_permanent_residence(
        s, registrar, persons[i], _move(communes, 0)))
    assert [r for r in results if isinstance(r, Exception)] == []
    codes = session.scalars(select(Household.code).where(Household.unit_id == communes[1].id)).all()
    assert len(codes) == len(set(codes)) == CLIENTS


def test_the_database_refuses_a_second_current_residence_or_household(session, make_person, communes):
    person_id = make_person()
    current = _current(session, person_id, ResidenceKind.PERMANENT)[0]
    with pytest.raises(IntegrityError):
        session.execute(insert(Residence).values(person_id=person_id, kind=ResidenceKind.PERMANENT,
                                                 unit_id=communes[1].id, valid_from=dt.date(2024, 1, 1)))
    session.rollback()
    with pytest.raises(IntegrityError):
        session.execute(insert(HouseholdMember).values(household_id=current.household_id, person_id=person_id,
                                                       relationship_to_head="other", valid_from=dt.date(2024, 1, 1)))
    session.rollback()
    # a closed one beside the current one is history, not a duplicate
    session.execute(insert(Residence).values(person_id=person_id, kind=ResidenceKind.PERMANENT, unit_id=communes[1].id,
                                             valid_from=dt.date(2010, 1, 1), valid_to=dt.date(2020, 1, 1)))
    session.commit()


def test_quality_finds_two_current_residences_stored_before_the_constraint(session, registrar, make_person,
                                                                             communes):
    person_id, other = make_person(), make_person("Đỗ Thị Lan", sex=Sex.FEMALE)
    # A register that holds what concurrent moves left before migration 0009.
    session.execute(text("DROP INDEX uq_residence_current"))
    session.execute(text("DROP INDEX uq_household_member_current"))
    household_id = _current(session, other, ResidenceKind.PERMANENT)[0].household_id
    session.execute(insert(Residence).values(person_id=person_id, kind=ResidenceKind.PERMANENT, unit_id=communes[1].id,
                                             valid_from=dt.date(2024, 1, 1)))
    session.execute(insert(HouseholdMember).values(household_id=household_id, person_id=other,
                                                   relationship_to_head="other", valid_from=dt.date(2024, 1, 1)))
    quality.recompute(session)
    session.commit()
    for pid in (person_id, other):
        assert "duplicate_current_residence" in session.get(Person, pid).quality_issues.split(",")
    report = services.quality_report(session, registrar)
    assert report.rule_totals["duplicate_current_residence"] == 2
    failing = services.persons_failing(session, registrar, "duplicate_current_residence", None, "làm sạch dữ liệu")
    assert {p.id for p in failing.items} == {person_id, other}


def test_migration_closes_the_older_of_two_current_residences_with_an_event(database_url, session, make_person,
                                                                           communes):
    person_id, unit_id = make_person(), communes[1].id
    older = _current(session, person_id, ResidenceKind.PERMANENT)[0]
    session.close()
    downgrade_below("0009_residence_integrity")
    with get_engine().begin() as connection:
        connection.execute(insert(Residence.__table__).values(
            person_id=person_id, kind="permanent", unit_id=unit_id, valid_from=dt.date(2024, 2, 1)))
        connection.execute(insert(HouseholdMember.__table__).values(
            household_id=older.household_id, person_id=person_id, relationship_to_head="other",
            valid_from=dt.date(2024, 2, 1)))
    upgrade()
    current = _current(session, person_id, ResidenceKind.PERMANENT)
    assert [(r.unit_id, r.valid_from) for r in current] == [(unit_id, dt.date(2024, 2, 1))]
    assert session.get(Residence, older.id).valid_to == dt.date(2024, 2, 1)
    assert len(_memberships(session, person_id)) == 1
    kinds = session.scalars(select(RegistryEvent.kind).where(RegistryEvent.person_id == person_id,
                                                             RegistryEvent.actor == "migration 0009")).all()
    assert sorted(kinds) == ["duplicate_membership_closed", "duplicate_residence_closed"]
    household = session.get(Household, older.household_id)
    assert household.head_person_id is None  # the person left the household it headed


# ---- over HTTP, against a served app ---------------------------------------------------------


@pytest.fixture
def served(session, make_person, communes):
    create_user(session, "canbo", PASSWORD, Role.REGISTRAR)
    session.commit()
    person_id = make_person()
    port = free_port()
    with serving([sys.executable, "-m", "uvicorn", "--factory", "dancu.web.app:create_app", "--host", "127.0.0.1",
                  "--port", str(port), "--log-level", "warning"], port, timeout=60) as base:
        yield base, person_id


def test_concurrent_api_moves_answer_one_204_and_409s_never_500(served, session, communes):
    base, person_id = served
    token = httpx.post(f"{base}/api/v1/auth/token", json={"username": "canbo", "password": PASSWORD}).json()
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    version = httpx.get(f"{base}/api/v1/persons/{person_id}", params={"purpose": "kiểm tra hồ sơ"},
                        headers=headers).json()["version"]
    body = _move(communes, 0).model_dump(mode="json")
    stated = released_together(CLIENTS, lambda i: httpx.post(
        f"{base}/api/v1/persons/{person_id}/moves", json=body, timeout=60,
        headers={**headers, "If-Match": f'"{version}"'}))
    assert sorted(r.status_code for r in stated) == [204] + [409] * (CLIENTS - 1)
    assert "changed since you opened it" in next(r for r in stated if r.status_code == 409).json()["detail"]
    # without a stated version the moves run one after the other
    plain = released_together(CLIENTS, lambda i: httpx.post(
        f"{base}/api/v1/persons/{person_id}/moves", json=_move(communes, i).model_dump(mode="json"),
        headers=headers, timeout=60))
    assert [r.status_code for r in plain] == [204] * CLIENTS
    assert len(_current(session, person_id, ResidenceKind.PERMANENT)) == 1
    assert len(_memberships(session, person_id)) == 1


def test_a_double_submit_of_the_console_move_form_moves_once(served, session, communes):
    base, person_id = served
    with httpx.Client(base_url=base, timeout=60) as client:
        login = client.get("/login")
        client.post("/login", data={"username": "canbo", "password": PASSWORD,
                                    "csrf_token": CSRF_INPUT.search(login.text)[1]})
        form_page = client.get(f"/registry/persons/{person_id}/move")
        assert form_page.status_code == 200
        version = re.search(r'name="version" value="(\d+)"', form_page.text)[1]
        form = {"csrf_token": CSRF_INPUT.search(form_page.text)[1], "version": version,
                "unit_id": str(communes[1].id), "address_line": "7 Pasteur", "relationship_to_head": "head",
                "effective_on": "2024-04-01", "reason": "chuyển đến nhà mới"}
        responses = released_together(2, lambda i: client.post(f"/registry/persons/{person_id}/move", data=form,
                                                            headers={"Accept-Language": "en"}))
    assert sorted(r.status_code for r in responses) == [303, 409]
    refused = next(r for r in responses if r.status_code == 409)
    assert "This record was changed since you opened it" in refused.text
    current = _current(session, person_id, ResidenceKind.PERMANENT)
    assert [(r.unit_id, r.address_line) for r in current] == [(communes[1].id, "7 Pasteur")]
    households = session.scalars(select(Household).where(Household.unit_id == communes[1].id)).all()
    assert len(households) == 1

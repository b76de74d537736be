"""The scope rule holds for every person an action touches (issue #10), and a residence application is the one
way a commune registers someone from elsewhere.

Each test here failed on the audited code: a ward registrar pulled any person into their ward, linked and then
read a relative from another ward, registered a birth into another ward's household, registered a person they
could then not read, and told "outside your area" (403) from "no such person" (404).
"""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from dancu.accounts.models import Role
from dancu.accounts.services import SYSTEM, Actor
from dancu.audit.models import AccessLogEntry
from dancu.identity.eid import services as eid
from dancu.registry import applications, services
from dancu.registry.models import Person, ResidenceApplication
from dancu.registry.schemas import ApplicationDecision, ApplicationInput, CorrectionInput, TemporaryResidenceInput
from dancu.units import services as units
from dancu.web.app import create_app
from registry.authz_world import (
    CSRF_INPUT,
    PASSWORD,
    World,
    actor,
    build_world,
    card_data,
    cheap_passwords,
    sign_in,
)

PURPOSE = {"purpose": "kiểm tra phân quyền"}
MISSING = 987_654_321


@pytest.fixture
def world(session, monkeypatch) -> World:
    cheap_passwords(monkeypatch)
    w = build_world(session)
    sign_in(w, create_app())
    return w


def _api(w: World, role: str, method: str, path: str, **kwargs):
    return w.signed[role].client.request(method, path, headers=w.signed[role].api_headers, **kwargs)


def _home(w: World, person_id: int) -> int | None:
    w.session.expire_all()
    return w.session.get(Person, person_id).home_unit_id


def _without_ids(response, *ids: int) -> str:
    """The answer with the ids asked about blanked out: what is left must not tell them apart."""
    # A page is compared by its main content: the emblem's drawing is full of small numbers.
    main = re.search(r"<main\b.*</main>", response.text, re.DOTALL)
    text = main[0] if main else response.text
    for value in ids:
        text = re.sub(rf"(?<!\w){value}(?!\w)", "<id>", text)
    return text


def test_a_ward_registrar_cannot_pull_a_person_from_another_ward(world):
    w = world
    elsewhere = w.person(w.ward_b)
    move = {"unit_id": w.ward, "address_line": "1 Lê Lợi"}
    assert _api(w, "registrar_ward", "POST", f"/api/v1/persons/{elsewhere}/moves", json=move).status_code == 404
    stay = {"unit_id": w.ward, "address_line": "1 Lê Lợi", "valid_from": dt.date.today().isoformat(),
            "expires_on": (dt.date.today() + dt.timedelta(days=90)).isoformat()}
    assert _api(w, "registrar_ward", "POST", f"/api/v1/persons/{elsewhere}/temporary-residence",
                json=stay).status_code == 404
    unregistered = w.person(None)
    assert _api(w, "registrar_ward", "POST", f"/api/v1/persons/{unregistered}/permanent-residence",
                json=move).status_code == 404
    # The console's move form: the same refusal, as a 404 page.
    browser = w.signed["registrar_ward"]
    page = browser.client.post(f"/registry/persons/{elsewhere}/move",
                               data={**move, "unit_id": str(w.ward), "csrf_token": browser.csrf})
    assert page.status_code == 404
    assert _home(w, elsewhere) == w.ward_b and _home(w, unregistered) is None
    assert _api(w, "registrar_ward", "GET", f"/api/v1/persons/{elsewhere}", params=PURPOSE).status_code == 404


def test_outside_the_area_answers_exactly_as_missing(world):
    w = world
    elsewhere, household = w.person(w.ward_b), w.household(w.ward_b)
    for path, hidden in ((f"/api/v1/persons/{{}}", elsewhere), (f"/api/v1/households/{{}}", household)):
        out = _api(w, "registrar_ward", "GET", path.format(hidden), params=PURPOSE)
        missing = _api(w, "registrar_ward", "GET", path.format(MISSING), params=PURPOSE)
        assert out.status_code == missing.status_code == 404
        assert _without_ids(out, hidden) == _without_ids(missing, MISSING)
    # A write is no oracle either.
    death = {"date_of_death": "2025-01-01"}
    out = _api(w, "registrar_ward", "POST", f"/api/v1/persons/{elsewhere}/death", json=death)
    missing = _api(w, "registrar_ward", "POST", f"/api/v1/persons/{MISSING}/death", json=death)
    assert out.status_code == missing.status_code == 404
    assert _without_ids(out, elsewhere) == _without_ids(missing, MISSING)
    # The console too: the same page for both.
    browser = w.signed["registrar_ward"].client
    out, missing = browser.get(f"/registry/persons/{elsewhere}"), browser.get(f"/registry/persons/{MISSING}")
    assert out.status_code == missing.status_code == 404
    assert _without_ids(out, elsewhere) == _without_ids(missing, MISSING)


def test_linking_a_relative_outside_the_area_is_refused(world):
    w = world
    own, stranger = w.person(w.ward), w.person(w.ward_b)
    linked = _api(w, "registrar_ward", "PATCH", f"/api/v1/persons/{own}", json={"spouse_id": stranger,
                                                                               "reason": "kết hôn"})
    missing = _api(w, "registrar_ward", "PATCH", f"/api/v1/persons/{own}", json={"spouse_id": MISSING,
                                                                                "reason": "kết hôn"})
    assert linked.status_code == missing.status_code == 404
    assert _without_ids(linked, stranger) == _without_ids(missing, MISSING)
    w.session.expire_all()
    assert w.session.get(Person, own).spouse_id is None


def test_a_record_shows_only_relatives_of_the_area_and_logs_reading_them(world):
    w = world
    own, neighbour, stranger = w.person(w.ward), w.person(w.ward), w.person(w.ward_b)
    # Linked by the administrator, who sees both wards.
    services.correct_person(w.session, SYSTEM, own, CorrectionInput(spouse_id=stranger, father_id=neighbour,
                                                                   reason="theo giấy tờ hộ tịch"))
    w.session.commit()
    before = w.reads_of(neighbour), w.reads_of(stranger)
    record = _api(w, "registrar_ward", "GET", f"/api/v1/persons/{own}", params=PURPOSE)
    assert record.status_code == 200
    relatives = {r["relation"]: r for r in record.json()["relatives"]}
    assert relatives["spouse"] == {"relation": "spouse", "person_id": None, "full_name": None, "birth_date": None}
    assert w.full_name(stranger) not in record.text
    assert relatives["father"]["full_name"] == w.full_name(neighbour)
    # The father's name and birth date were shown: that read is in the access log; the stranger was not read.
    assert (w.reads_of(neighbour), w.reads_of(stranger)) == (before[0] + 1, before[1])
    page = w.signed["registrar_ward"].client.get(f"/registry/persons/{own}")
    assert w.full_name(neighbour) in page.text and w.full_name(stranger) not in page.text
    # The city registrar sees both wards, and both relatives.
    city = _api(w, "registrar_city", "GET", f"/api/v1/persons/{own}", params=PURPOSE).json()
    assert {r["full_name"] for r in city["relatives"]} == {w.full_name(neighbour), w.full_name(stranger)}


def test_a_staying_persons_household_elsewhere_is_not_shown(world):
    w = world
    staying = w.person(w.ward_b, stay=w.ward)
    housemate = w.person(w.ward_b, household_id=w.household_of(staying),
                         relationship="spouse")
    record = _api(w, "registrar_ward", "GET", f"/api/v1/persons/{staying}", params=PURPOSE)
    assert record.status_code == 200 and record.json()["household"] is None
    assert w.full_name(housemate) not in record.text


def test_a_birth_cannot_join_a_household_of_another_ward(world):
    w = world
    mother = w.person(w.ward_b)
    birth = {"family_name": "Đặng", "given_name": "Bé", "birth_date": "2024-02-03", "sex": "F",
             "birth_registration_unit_id": w.ward, "mother_id": mother}
    persons = len(w.session.scalars(select(Person.id)).all())
    assert _api(w, "registrar_ward", "POST", "/api/v1/births", json=birth).status_code == 404
    # Naming a household of the other ward directly does not work either.
    own_mother = w.person(w.ward)
    other_household = w.household(w.ward_b)
    persons = len(w.session.scalars(select(Person.id)).all())
    response = _api(w, "registrar_ward", "POST", "/api/v1/births",
                    json={**birth, "mother_id": own_mother, "household_id": other_household})
    assert response.status_code == 404
    assert len(w.session.scalars(select(Person.id)).all()) == persons
    # A mother of the ward: the child joins her household, in the ward.
    born = _api(w, "registrar_ward", "POST", "/api/v1/births", json={**birth, "mother_id": own_mother})
    assert born.status_code == 201
    child = _api(w, "registrar_ward", "GET", f"/api/v1/persons/{born.json()['id']}", params=PURPOSE)
    assert child.status_code == 200 and child.json()["home_unit_id"] == w.ward


def test_a_ward_registrar_registers_a_person_with_their_residence_in_the_ward(world):
    w = world
    person = {"family_name": "Vũ", "given_name": "Mới", "birth_date": "1985", "sex": "F",
              "birth_registration_unit_id": w.ward, "hometown_unit_id": w.ward}
    # Without a residence the person would be in nobody's area: refused, nothing stored.
    assert _api(w, "registrar_ward", "POST", "/api/v1/persons", json=person).status_code == 422
    outside = {**person, "residence": {"unit_id": w.ward_b, "address_line": "4 Hẻm 4"}}
    assert _api(w, "registrar_ward", "POST", "/api/v1/persons", json=outside).status_code == 403
    inside = {**person, "residence": {"unit_id": w.ward, "address_line": "4 Hẻm 4"}}
    created = _api(w, "registrar_ward", "POST", "/api/v1/persons", json=inside)
    assert created.status_code == 201
    record = _api(w, "registrar_ward", "GET", f"/api/v1/persons/{created.json()['id']}", params=PURPOSE)
    assert record.status_code == 200 and record.json()["home_unit_id"] == w.ward


def _citizen(w: World, level: int = 2) -> tuple[int, TestClient]:
    """A citizen living in the other ward, signed in to the e-ID portal."""
    person = w.person(w.ward_b)
    pin = "079080001234"
    w.session.get(Person, person).pin = pin
    w.session.commit()
    eid.create_account(w.session, pin=pin, phone=None, password=PASSWORD, level=level)
    w.session.commit()
    browser = TestClient(create_app(), follow_redirects=False)
    token = CSRF_INPUT.search(browser.get("/eid/login").text)[1]
    assert browser.post("/eid/login", data={"pin": pin, "password": PASSWORD, "next": "/me/residence",
                                            "csrf_token": token}).status_code == 303
    return person, browser


def test_a_citizens_online_application_lets_the_destination_register_the_move(world):
    w = world
    person, browser = _citizen(w)
    form = browser.get("/me/residence")
    assert form.status_code == 200
    filed = browser.post("/me/residence", data={
        "kind": "permanent", "unit_id": str(w.ward), "address_line": "10 Đường Mới", "relationship_to_head": "head",
        "csrf_token": CSRF_INPUT.search(form.text)[1]})
    assert filed.status_code == 303
    assert "10 Đường Mới" in browser.get("/me/residence").text

    pending = _api(w, "registrar_ward", "GET", "/api/v1/residence-applications", params=PURPOSE).json()
    assert len(pending) == 1
    application = pending[0]
    # What the application shows, and nothing of the record, until it is accepted.
    assert application["applicant_name"] == w.full_name(person) and application["channel"] == "online"
    assert application["person_id"] is None and application["evidence"].endswith("(level 2)")
    assert _api(w, "registrar_ward", "GET", f"/api/v1/persons/{person}", params=PURPOSE).status_code == 404
    # A registrar of neither commune does not see it.
    far = Actor("hanoi", Role.REGISTRAR, w.far)
    assert applications.list_applications(w.session, far, "kiểm tra") == []
    with pytest.raises(LookupError):
        applications.decide(w.session, far, application["id"], ApplicationDecision(accept=True))
    w.session.rollback()

    decided = _api(w, "registrar_ward", "POST", f"/api/v1/residence-applications/{application['id']}/decision",
                   json={"accept": True})
    assert decided.status_code == 204, decided.text
    assert _home(w, person) == w.ward
    record = _api(w, "registrar_ward", "GET", f"/api/v1/persons/{person}", params=PURPOSE)
    assert record.status_code == 200 and record.json()["residences"][0]["address_line"] == "10 Đường Mới"
    shown = _api(w, "registrar_ward", "GET", f"/api/v1/residence-applications/{application['id']}", params=PURPOSE)
    assert shown.json()["status"] == "accepted" and shown.json()["person_id"] == person
    # The commune the person left is told.
    ward_b_registrar = Actor("phuong-b", Role.REGISTRAR, w.ward_b)
    departures = applications.list_departures(w.session, ward_b_registrar, "xóa đăng ký thường trú")
    assert [(d.id, d.unit_id, d.origin_unit_label) for d in departures] == [
        (application["id"], w.ward, units.unit_label(w.session, w.ward_b))]
    assert applications.list_departures(w.session, actor(w, "registrar_ward"), "kiểm tra") == []
    w.session.commit()
    again = _api(w, "registrar_ward", "POST", f"/api/v1/residence-applications/{application['id']}/decision",
                 json={"accept": True})
    assert again.status_code == 422


def test_an_application_is_refused_only_with_a_reason_and_then_authorises_nothing(world):
    w = world
    application_id = w.application(w.ward, home=w.ward_b)
    person = w.session.get(ResidenceApplication, application_id).person_id
    path = f"/api/v1/residence-applications/{application_id}/decision"
    assert _api(w, "registrar_ward", "POST", path, json={"accept": False}).status_code == 422
    assert _api(w, "registrar_ward", "POST", path, json={"accept": False, "reason": "sai địa chỉ"}).status_code == 204
    # A refused application does not stand in for the person's scope.
    move = {"unit_id": w.ward, "address_line": "10 Đường Mới"}
    assert _api(w, "registrar_ward", "POST", f"/api/v1/persons/{person}/moves", json=move).status_code == 404
    assert _home(w, person) == w.ward_b


def test_an_accepted_temporary_application_registers_the_stay(world):
    w = world
    person = w.person(w.far_home)
    application_id = applications.file_online(w.session, account_id=1, level=2, person_id=person, data=ApplicationInput(
        kind="temporary", unit_id=w.ward, address_line="6 Đường Trọ", valid_from=dt.date.today(),
        expires_on=dt.date.today() + dt.timedelta(days=365)))
    applications.decide(w.session, actor(w, "registrar_ward"), application_id, ApplicationDecision(accept=True))
    w.session.commit()
    record = services.get_person(w.session, actor(w, "registrar_ward"), person, "tạm trú")
    assert {(r.kind, r.unit_id) for r in record.residences if r.valid_to is None} == {
        ("permanent", w.far_home), ("temporary", w.ward)}
    # A temporary stay is no departure: the home commune is not told.
    assert w.session.get(ResidenceApplication, application_id).origin_unit_id is None


def test_an_accepted_application_authorises_only_its_person_and_commune(world):
    w = world
    application_id = w.application(w.ward, home=w.ward_b, accept=True)
    application = w.session.get(ResidenceApplication, application_id)
    other = w.person(w.ward_b)
    ward = actor(w, "registrar_ward")
    with pytest.raises(services.PersonNotFound):
        services.register_temporary_residence(w.session, ward, other, TemporaryResidenceInput(
            unit_id=w.ward, address_line="x", valid_from=dt.date.today(),
            expires_on=dt.date.today() + dt.timedelta(days=30)), application=application)


def test_an_online_application_needs_a_level_2_account(world):
    w = world
    with pytest.raises(services.RegistryError, match="level-2"):
        applications.file_online(w.session, account_id=1, level=1, person_id=w.person(w.ward_b),
                                 data=ApplicationInput(kind="permanent", unit_id=w.ward, address_line="x"))


def test_an_in_person_application_needs_a_verified_chip_card(world):
    w = world
    card = card_data(w)
    body = {"card_data": card, "kind": "permanent", "unit_id": w.ward, "address_line": "8 Phố 8"}
    filed = _api(w, "registrar_ward", "POST", "/api/v1/residence-applications", json=body)
    assert filed.status_code == 201, filed.text
    shown = _api(w, "registrar_ward", "GET", f"/api/v1/residence-applications/{filed.json()['id']}", params=PURPOSE)
    assert shown.json()["applicant_pin"] == "079080000777" and shown.json()["channel"] == "in_person"
    assert shown.json()["evidence"].startswith("chip card ")
    # A card whose data was changed (here: the name) fails verification and files nothing.
    document = json.loads(card)
    document["data_groups"]["DG1"] = document["data_groups"]["DG1"][::-1]
    tampered = _api(w, "registrar_ward", "POST", "/api/v1/residence-applications",
                    json={**body, "card_data": json.dumps(document)})
    assert tampered.status_code == 422
    assert len(w.session.scalars(select(ResidenceApplication.id)).all()) == 1
    # An application to a commune outside the registrar's area is refused.
    assert _api(w, "registrar_ward", "POST", "/api/v1/residence-applications",
                json={**body, "unit_id": w.ward_b}).status_code == 403


def test_reading_an_application_is_logged_for_its_person(world):
    w = world
    application_id = w.application(w.ward, home=w.ward_b)
    person = w.session.get(ResidenceApplication, application_id).person_id
    before = w.reads_of(person)
    _api(w, "registrar_ward", "GET", f"/api/v1/residence-applications/{application_id}", params=PURPOSE)
    w.session.expire_all()
    entries = w.session.scalars(select(AccessLogEntry).where(AccessLogEntry.subject_id == str(person))).all()
    assert len(entries) == before + 1 and entries[-1].action == "read_application"

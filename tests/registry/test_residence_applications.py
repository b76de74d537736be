"""Residence applications: the citizen's own request is the one way a commune registers someone from elsewhere.

Filed online from a level-2 e-ID account or at the counter with a verified chip card; the destination registrar
sees only what the application shows until accepting it, which registers the residence; the origin commune lists
the departure. (docs/registry.md, "Residence applications".)
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from dancu.accounts.models import Role
from dancu.accounts.services import Actor
from dancu.audit.models import AccessLogEntry
from dancu.identity.eid import services as eid
from dancu.registry import applications, services
from dancu.registry.models import Person, ResidenceApplication
from dancu.registry.schemas import ApplicationDecision, ApplicationInput, TemporaryResidenceInput
from dancu.units import services as units
from dancu.web.app import create_app
from registry.authz_world import (
    CSRF_INPUT,
    PASSWORD,
    PURPOSE,
    World,
    actor,
    api,
    card_data,
    home_of,
)


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

    pending = api(w, "registrar_ward", "GET", "/api/v1/residence-applications", params=PURPOSE).json()
    assert len(pending) == 1
    application = pending[0]
    # What the application shows, and nothing of the record, until it is accepted.
    assert application["applicant_name"] == w.full_name(person) and application["channel"] == "online"
    assert application["person_id"] is None and application["evidence"].endswith("(level 2)")
    assert api(w, "registrar_ward", "GET", f"/api/v1/persons/{person}", params=PURPOSE).status_code == 404
    # A registrar of neither commune does not see it.
    far = Actor("hanoi", Role.REGISTRAR, w.far)
    assert applications.list_applications(w.session, far, "kiểm tra") == []
    with pytest.raises(LookupError):
        applications.decide(w.session, far, application["id"], ApplicationDecision(accept=True))
    w.session.rollback()

    decided = api(w, "registrar_ward", "POST", f"/api/v1/residence-applications/{application['id']}/decision",
                   json={"accept": True})
    assert decided.status_code == 204, decided.text
    assert home_of(w, person) == w.ward
    record = api(w, "registrar_ward", "GET", f"/api/v1/persons/{person}", params=PURPOSE)
    assert record.status_code == 200 and record.json()["residences"][0]["address_line"] == "10 Đường Mới"
    shown = api(w, "registrar_ward", "GET", f"/api/v1/residence-applications/{application['id']}", params=PURPOSE)
    assert shown.json()["status"] == "accepted" and shown.json()["person_id"] == person
    # The commune the person left is told.
    ward_b_registrar = Actor("phuong-b", Role.REGISTRAR, w.ward_b)
    departures = applications.list_departures(w.session, ward_b_registrar, "xóa đăng ký thường trú")
    assert [(d.id, d.unit_id, d.origin_unit_label) for d in departures] == [
        (application["id"], w.ward, units.unit_label(w.session, w.ward_b))]
    assert applications.list_departures(w.session, actor(w, "registrar_ward"), "kiểm tra") == []
    w.session.commit()
    again = api(w, "registrar_ward", "POST", f"/api/v1/residence-applications/{application['id']}/decision",
                 json={"accept": True})
    assert again.status_code == 422


def test_an_application_is_refused_only_with_a_reason_and_then_authorises_nothing(world):
    w = world
    application_id = w.application(w.ward, home=w.ward_b)
    person = w.session.get(ResidenceApplication, application_id).person_id
    path = f"/api/v1/residence-applications/{application_id}/decision"
    assert api(w, "registrar_ward", "POST", path, json={"accept": False}).status_code == 422
    assert api(w, "registrar_ward", "POST", path, json={"accept": False, "reason": "sai địa chỉ"}).status_code == 204
    # A refused application does not stand in for the person's scope.
    move = {"unit_id": w.ward, "address_line": "10 Đường Mới"}
    assert api(w, "registrar_ward", "POST", f"/api/v1/persons/{person}/moves", json=move).status_code == 404
    assert home_of(w, person) == w.ward_b


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
    filed = api(w, "registrar_ward", "POST", "/api/v1/residence-applications", json=body)
    assert filed.status_code == 201, filed.text
    shown = api(w, "registrar_ward", "GET", f"/api/v1/residence-applications/{filed.json()['id']}", params=PURPOSE)
    assert shown.json()["applicant_pin"] == "079080000777" and shown.json()["channel"] == "in_person"
    assert shown.json()["evidence"].startswith("chip card ")
    # A card whose data was changed (here: the name) fails verification and files nothing.
    document = json.loads(card)
    document["data_groups"]["DG1"] = document["data_groups"]["DG1"][::-1]
    tampered = api(w, "registrar_ward", "POST", "/api/v1/residence-applications",
                    json={**body, "card_data": json.dumps(document)})
    assert tampered.status_code == 422
    assert len(w.session.scalars(select(ResidenceApplication.id)).all()) == 1
    # An application to a commune outside the registrar's area is refused.
    assert api(w, "registrar_ward", "POST", "/api/v1/residence-applications",
                json={**body, "unit_id": w.ward_b}).status_code == 403


def test_reading_an_application_is_logged_for_its_person(world):
    w = world
    application_id = w.application(w.ward, home=w.ward_b)
    person = w.session.get(ResidenceApplication, application_id).person_id
    before = w.reads_of(person)
    api(w, "registrar_ward", "GET", f"/api/v1/residence-applications/{application_id}", params=PURPOSE)
    w.session.expire_all()
    entries = w.session.scalars(select(AccessLogEntry).where(AccessLogEntry.subject_id == str(person))).all()
    assert len(entries) == before + 1 and entries[-1].action == "read_application"


def _moving_in(w: World) -> ApplicationInput:
    return ApplicationInput(kind="permanent", unit_id=w.ward, address_line="10 Đường Mới")


def test_a_double_submit_files_one_application(world):
    """Eight filings of one citizen's application at once: one is filed, the others are told one is waiting."""
    from at_once import at_once

    w = world
    person = w.person(w.ward_b)
    w.session.commit()
    results = at_once(8, lambda _i, s: applications.file_online(s, account_id=1, level=2, person_id=person,
                                                                data=_moving_in(w)))
    filed = [r for r in results if isinstance(r, int)]
    assert len(filed) == 1, results
    assert all(isinstance(r, services.RegistryError) and "waiting for a decision" in str(r)
               for r in results if not isinstance(r, int))
    w.session.expire_all()
    assert w.session.scalars(select(ResidenceApplication.id).where(ResidenceApplication.person_id == person)
                             ).all() == filed
    # a temporary stay is another kind: it may wait beside the move
    assert applications.file_online(w.session, account_id=1, level=2, person_id=person, data=ApplicationInput(
        kind="temporary", unit_id=w.ward, address_line="3 Hẻm", expires_on=dt.date.today() + dt.timedelta(days=90)))


def test_migration_keeps_the_newest_of_two_pending_applications(world):
    from migration_helpers import downgrade_below
    from sqlalchemy import insert

    from dancu.db import get_engine
    from dancu.migrate import upgrade

    w = world
    person = w.person(w.ward_b)
    older = applications.file_online(w.session, account_id=1, level=2, person_id=person, data=_moving_in(w))
    w.session.commit()
    w.session.close()
    downgrade_below("0016_one_pending_application")
    with get_engine().begin() as connection:
        columns = {c: getattr(w.session.get(ResidenceApplication, older), c) for c in (
            "kind", "applicant_pin", "applicant_name", "applicant_birth_date", "unit_id", "address_line",
            "relationship_to_head", "valid_from", "channel", "evidence", "filed_by", "status", "decision_reason")}
        w.session.close()
        newer = connection.execute(insert(ResidenceApplication.__table__).values(
            person_id=person, filed_at=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1), **columns)
        ).inserted_primary_key[0]
    upgrade()
    w.session.expire_all()
    assert w.session.get(ResidenceApplication, newer).status == "pending"
    superseded = w.session.get(ResidenceApplication, older)
    assert (superseded.status, superseded.decided_by, superseded.decision_reason) == (
        "refused", "migration 0016", "superseded")


def test_a_card_that_does_not_verify_is_explained_in_the_pages_language(world):
    w = world
    registrar = w.signed["registrar_ward"]
    form = {"card_data": "không phải dữ liệu thẻ", "kind": "permanent", "unit_id": str(w.ward),
            "address_line": "8 Phố 8", "relationship_to_head": "head", "csrf_token": registrar.csrf}
    refused = registrar.client.post("/registry/applications/new", data=form)
    assert refused.status_code == 422
    assert "Không xác thực được thẻ: Dữ liệu không phải dữ liệu chip hay mã QR của thẻ dancu." in refused.text
    assert "could not be verified" not in refused.text
    english = registrar.client.post("/registry/applications/new?lang=en", data=form)
    assert "The card could not be verified: " in english.text
    problem = api(w, "registrar_ward", "POST", "/api/v1/residence-applications", json={
        "card_data": form["card_data"], "kind": "permanent", "unit_id": w.ward, "address_line": "8 Phố 8"}).json()
    assert problem["code"] == "registry.card_not_verified" and "format" in problem["detail"]
    assert w.session.scalar(select(ResidenceApplication.id)) is None

"""The scope rule holds for every person an action touches (issue #10).

Each test here fails on the audited code (commit b05fa24): a ward registrar pulled any person into their ward,
linked and then read a relative from another ward, registered a birth into another ward's household, registered a
person they could then not read, and told "outside your area" (403) from "no such person" (404). The residence
application that now authorises a move-in is tested in test_residence_applications.py.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select

from dancu.accounts.models import Role
from dancu.accounts.services import SYSTEM, Actor
from dancu.registry import services
from dancu.registry.models import Person
from dancu.registry.schemas import CorrectionInput
from registry.authz_world import PURPOSE, api, home_of

MISSING = 987_654_321


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
    assert api(w, "registrar_ward", "POST", f"/api/v1/persons/{elsewhere}/moves", json=move).status_code == 404
    stay = {"unit_id": w.ward, "address_line": "1 Lê Lợi", "valid_from": dt.date.today().isoformat(),
            "expires_on": (dt.date.today() + dt.timedelta(days=90)).isoformat()}
    assert api(w, "registrar_ward", "POST", f"/api/v1/persons/{elsewhere}/temporary-residence",
                json=stay).status_code == 404
    unregistered = w.person(None)
    assert api(w, "registrar_ward", "POST", f"/api/v1/persons/{unregistered}/permanent-residence",
                json=move).status_code == 404
    # The console's move form: the same refusal, as a 404 page.
    browser = w.signed["registrar_ward"]
    page = browser.client.post(f"/registry/persons/{elsewhere}/move",
                               data={**move, "unit_id": str(w.ward), "csrf_token": browser.csrf})
    assert page.status_code == 404
    assert home_of(w, elsewhere) == w.ward_b and home_of(w, unregistered) is None
    assert api(w, "registrar_ward", "GET", f"/api/v1/persons/{elsewhere}", params=PURPOSE).status_code == 404


def test_outside_the_area_answers_exactly_as_missing(world):
    w = world
    elsewhere, household = w.person(w.ward_b), w.household(w.ward_b)
    for path, hidden in (("/api/v1/persons/{}", elsewhere), ("/api/v1/households/{}", household)):
        out = api(w, "registrar_ward", "GET", path.format(hidden), params=PURPOSE)
        missing = api(w, "registrar_ward", "GET", path.format(MISSING), params=PURPOSE)
        assert out.status_code == missing.status_code == 404
        assert _without_ids(out, hidden) == _without_ids(missing, MISSING)
    # A write is no oracle either.
    death = {"date_of_death": "2025-01-01"}
    out = api(w, "registrar_ward", "POST", f"/api/v1/persons/{elsewhere}/death", json=death)
    missing = api(w, "registrar_ward", "POST", f"/api/v1/persons/{MISSING}/death", json=death)
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
    linked = api(w, "registrar_ward", "PATCH", f"/api/v1/persons/{own}", json={"spouse_id": stranger,
                                                                               "reason": "kết hôn"})
    missing = api(w, "registrar_ward", "PATCH", f"/api/v1/persons/{own}", json={"spouse_id": MISSING,
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
    record = api(w, "registrar_ward", "GET", f"/api/v1/persons/{own}", params=PURPOSE)
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
    city = api(w, "registrar_city", "GET", f"/api/v1/persons/{own}", params=PURPOSE).json()
    assert {r["full_name"] for r in city["relatives"]} == {w.full_name(neighbour), w.full_name(stranger)}


def test_a_staying_persons_household_elsewhere_is_not_shown(world):
    w = world
    staying = w.person(w.ward_b, stay=w.ward)
    housemate = w.person(w.ward_b, household_id=w.household_of(staying),
                         relationship="spouse")
    record = api(w, "registrar_ward", "GET", f"/api/v1/persons/{staying}", params=PURPOSE)
    assert record.status_code == 200 and record.json()["household"] is None
    assert w.full_name(housemate) not in record.text


def test_a_birth_cannot_join_a_household_of_another_ward(world):
    w = world
    mother = w.person(w.ward_b)
    birth = {"family_name": "Đặng", "given_name": "Bé", "birth_date": "2024-02-03", "sex": "F",
             "birth_registration_unit_id": w.ward, "mother_id": mother}
    persons = len(w.session.scalars(select(Person.id)).all())
    assert api(w, "registrar_ward", "POST", "/api/v1/births", json=birth).status_code == 404
    # Naming a household of the other ward directly does not work either.
    own_mother = w.person(w.ward)
    other_household = w.household(w.ward_b)
    persons = len(w.session.scalars(select(Person.id)).all())
    response = api(w, "registrar_ward", "POST", "/api/v1/births",
                    json={**birth, "mother_id": own_mother, "household_id": other_household})
    assert response.status_code == 404
    assert len(w.session.scalars(select(Person.id)).all()) == persons
    # A mother of the ward: the child joins her household, in the ward.
    born = api(w, "registrar_ward", "POST", "/api/v1/births", json={**birth, "mother_id": own_mother})
    assert born.status_code == 201
    child = api(w, "registrar_ward", "GET", f"/api/v1/persons/{born.json()['id']}", params=PURPOSE)
    assert child.status_code == 200 and child.json()["home_unit_id"] == w.ward


def test_a_ward_registrar_registers_a_person_with_their_residence_in_the_ward(world):
    w = world
    person = {"family_name": "Vũ", "given_name": "Mới", "birth_date": "1985", "sex": "F",
              "birth_registration_unit_id": w.ward, "hometown_unit_id": w.ward}
    # Without a residence the person would be in nobody's area: refused, nothing stored.
    assert api(w, "registrar_ward", "POST", "/api/v1/persons", json=person).status_code == 422
    outside = {**person, "residence": {"unit_id": w.ward_b, "address_line": "4 Hẻm 4"}}
    assert api(w, "registrar_ward", "POST", "/api/v1/persons", json=outside).status_code == 403
    inside = {**person, "residence": {"unit_id": w.ward, "address_line": "4 Hẻm 4"}}
    created = api(w, "registrar_ward", "POST", "/api/v1/persons", json=inside)
    assert created.status_code == 201
    record = api(w, "registrar_ward", "GET", f"/api/v1/persons/{created.json()['id']}", params=PURPOSE)
    assert record.status_code == 200 and record.json()["home_unit_id"] == w.ward


def test_merging_a_record_from_outside_the_area_is_refused_as_missing(world):
    from dancu.registry.merge import merge_persons

    w = world
    own, elsewhere = w.person(w.ward), w.person(w.ward_b)
    ward = Actor("registrar_ward", Role.REGISTRAR, w.ward)
    for survivor, retired in ((own, elsewhere), (elsewhere, own)):
        with pytest.raises(services.PersonNotFound, match=f"^no person with id {elsewhere}$"):
            merge_persons(w.session, ward, survivor, retired, "trùng hồ sơ")
        w.session.rollback()
    assert services.get_person(w.session, SYSTEM, own, "kiểm tra").redirected_from is None

import datetime as dt

from dancu.registry.models import Sex
from dancu.registry.pin import make_pin
from dancu.units import services as units

PURPOSE = {"purpose": "xác minh thông tin cư trú"}


def _register(client, headers, session, given="An", middle="Văn", family="Nguyễn", birth="1990-05-17"):
    commune = units.list_communes(session, "79")[0]
    response = client.post("/api/v1/persons", headers=headers, json={
        "family_name": family, "middle_name": middle, "given_name": given, "birth_date": birth, "sex": "M",
        "pin": make_pin("079", int(birth[:4]), Sex.MALE, 1),
        "ethnicity_code": 1, "birth_registration_unit_id": commune.id, "hometown_unit_id": commune.id,
    })
    assert response.status_code == 201, response.text
    person_id = response.json()["id"]
    response = client.post(f"/api/v1/persons/{person_id}/permanent-residence", headers=headers,
                           json={"unit_id": commune.id, "address_line": "12 Lê Lợi", "effective_on": "2020-01-01"})
    assert response.status_code == 204, response.text
    return person_id, commune


def test_requires_authentication(client):
    assert client.get("/api/v1/persons", params={"text": "an", **PURPOSE}).status_code == 401
    assert client.get("/api/v1/persons", params={"text": "an", **PURPOSE},
                      headers={"Authorization": "Bearer nope"}).status_code == 401


def test_search_and_read_with_purpose(client, registrar_headers, session):
    person_id, _ = _register(client, registrar_headers, session)
    response = client.get("/api/v1/persons", headers=registrar_headers, params={"text": "nguyen van an", **PURPOSE})
    assert response.status_code == 200
    assert [item["id"] for item in response.json()["items"]] == [person_id]
    assert client.get("/api/v1/persons", headers=registrar_headers, params={"text": "an"}).status_code == 422
    detail = client.get(f"/api/v1/persons/{person_id}", headers=registrar_headers, params=PURPOSE).json()
    assert detail["full_name"] == "Nguyễn Văn An" and detail["residences"][0]["address_line"] == "12 Lê Lợi"
    past = client.get(f"/api/v1/persons/{person_id}", headers=registrar_headers,
                      params={**PURPOSE, "as_of": "1989-01-01"})
    assert past.status_code == 404 and "not born" in past.json()["detail"]
    assert client.get("/api/v1/persons/999999", headers=registrar_headers, params=PURPOSE).status_code == 404


def test_registrar_actions_and_errors(client, registrar_headers, session):
    person_id, commune = _register(client, registrar_headers, session)
    response = client.post(f"/api/v1/persons/{person_id}/death", headers=registrar_headers,
                           json={"date_of_death": (dt.date.today() + dt.timedelta(days=2)).isoformat()})
    assert response.status_code == 422 and "future" in response.text
    response = client.patch(f"/api/v1/persons/{person_id}", headers=registrar_headers,
                            json={"given_name": "Ân", "reason": "sai dấu"})
    assert response.status_code == 200 and response.json()["changes"]["given_name"] == ["An", "Ân"]
    response = client.patch(f"/api/v1/persons/{person_id}", headers=registrar_headers, json={"reason": "không đổi"})
    assert response.status_code == 422 and "nothing to correct" in response.text
    response = client.post("/api/v1/births", headers=registrar_headers, json={
        "family_name": "Nguyễn", "given_name": "Bé", "birth_date": "2026-11-01", "sex": "F",
        "birth_registration_unit_id": commune.id, "father_id": person_id})
    assert response.status_code == 201
    child = client.get(f"/api/v1/persons/{response.json()['id']}", headers=registrar_headers, params=PURPOSE).json()
    assert child["household"]["members"][0]["full_name"] == "Nguyễn Văn Ân"


def test_auditor_reads_the_log_but_cannot_register(client, registrar_headers, auditor_headers, session):
    person_id, commune = _register(client, registrar_headers, session)
    client.get(f"/api/v1/persons/{person_id}", headers=registrar_headers, params=PURPOSE)
    entries = client.get("/api/v1/audit/entries", headers=auditor_headers, params={"subject_id": str(person_id)})
    assert entries.status_code == 200 and entries.json()[0]["purpose"] == PURPOSE["purpose"]
    assert client.get("/api/v1/audit/entries", headers=registrar_headers).status_code == 403
    verification = client.get("/api/v1/audit/verify", headers=auditor_headers).json()
    assert verification["ok"] and verification["entries_checked"] >= 1
    response = client.post("/api/v1/persons", headers=auditor_headers, json={
        "given_name": "X", "birth_date": "1990", "sex": "M", "birth_place_status": "unknown",
        "hometown_status": "unknown"})
    assert response.status_code == 403


def test_quality_report(client, registrar_headers, session):
    _register(client, registrar_headers, session)
    report = client.get("/api/v1/quality/report", headers=registrar_headers, params={"province_code": "79"}).json()
    assert report["persons"] == 1 and report["rows"][0]["all_ok"] == 1


def test_failed_logins_through_the_api_slow_down_without_revealing_the_account(client):
    unknown = client.post("/api/v1/auth/token", json={"username": "nobody", "password": "wrong"})
    # five free failures, the sixth earns a pause: the right password during it is refused
    for _ in range(6):
        assert client.post("/api/v1/auth/token", json={"username": "admin", "password": "wrong"}).status_code == 401
    throttled = client.post("/api/v1/auth/token", json={"username": "admin", "password": "correct horse battery"})
    assert throttled.status_code == unknown.status_code == 401
    # one answer for an unknown account and a throttled one: nothing tells an outsider the account exists
    assert throttled.json() == {**unknown.json(), "instance": throttled.json()["instance"]}
    assert "locked" not in throttled.text


def test_nul_characters_are_refused_everywhere(client, registrar_headers, session):
    person_id, commune = _register(client, registrar_headers, session)
    nul = "\x00"
    search = client.get("/api/v1/persons", headers=registrar_headers, params={"text": f"an{nul}", **PURPOSE})
    assert search.status_code == 422 and "NUL" in search.json()["detail"]
    assert client.post("/api/v1/auth/token", json={"username": f"reg{nul}", "password": "x"}).status_code == 422
    correction = client.patch(f"/api/v1/persons/{person_id}", headers=registrar_headers,
                              json={"given_name": f"A{nul}n", "reason": "sai dấu"})
    assert correction.status_code == 422
    assert client.get(f"/api/v1/persons/{person_id}%00", headers=registrar_headers, params=PURPOSE).status_code == 422
    # nothing changed
    detail = client.get(f"/api/v1/persons/{person_id}", headers=registrar_headers, params=PURPOSE).json()
    assert detail["given_name"] == "An"


def test_search_takes_search_operators_and_quotes_literally(client, registrar_headers, session):
    person_id, _ = _register(client, registrar_headers, session)
    for text in ('"nguyen', 'nguyen" OR "', "an*", "NEAR(an)", "van -an", "an\t\x01"):
        response = client.get("/api/v1/persons", headers=registrar_headers, params={"text": text, **PURPOSE})
        assert response.status_code == 200, (text, response.text)
    found = client.get("/api/v1/persons", headers=registrar_headers, params={"text": '"nguyen" van', **PURPOSE})
    assert [item["id"] for item in found.json()["items"]] == [person_id]

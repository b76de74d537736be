"""/api/v1/cards: roles, the mobile team's offline round trip, idempotent uploads, biometrics never sent."""

import base64
import datetime as dt
import hashlib
import json

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from dancu.accounts.models import Role
from dancu.accounts.services import create_user
from dancu.cli import app
from dancu.identity.cards.chip import canonical
from dancu.identity.cards.devices import SimulatedCaptureDevice
from dancu.web.app import create_app

PASSWORD = "correct horse battery"


@pytest.fixture
def client(session, approver, clerk):
    create_user(session, "kiemtra", PASSWORD, Role.AUDITOR)
    session.commit()
    with TestClient(create_app()) as test_client:
        yield test_client


@pytest.fixture
def bearer(client):
    def headers_for(username: str) -> dict[str, str]:
        response = client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    return headers_for


def _capture(folder, package_name, queue):
    return CliRunner().invoke(app, ["card", "capture-offline", str(folder / package_name), str(queue),
                                    "--ca", str(folder / "ca.pem")])


def _upload(client, headers, line):
    return client.post("/api/v1/cards/captures", headers={**headers, "Content-Type": "application/json"},
                       content=line)


def _offline_queue(client, headers, commune, make_person, tmp_path):
    """A team, a hospital visit with two patients, the package exported and captured offline."""
    team = client.post("/api/v1/cards/teams", headers=headers,
                       json={"name": "Tổ lưu động số 1", "unit_id": commune.id}).json()["id"]
    visit = client.post(f"/api/v1/cards/teams/{team}/visits", headers=headers, json={
        "visit_on": dt.date.today().isoformat(), "place_kind": "hospital_ward",
        "place": "Khoa Nội, Bệnh viện Chợ Rẫy", "unit_id": commune.id}).json()["id"]
    for name, pin in (("Lê Thị Hoa", "079155000201"), ("Phạm Văn Bình", "079048000202")):
        make_person(full_name=name, birth="1955-02-03" if pin.endswith("1") else "1948-07-09", pin=pin)
        added = client.post(f"/api/v1/cards/visits/{visit}/entries", headers=headers,
                            json={"pin": pin, "kind": "first", "note": "giường 12"})
        assert added.status_code == 201, added.text
    package = client.post(f"/api/v1/cards/visits/{visit}/package", headers=headers)
    assert package.status_code == 200
    (tmp_path / "package.json").write_text(package.text)
    queue = tmp_path / "queue.jsonl"
    trust = CliRunner().invoke(app, ["card", "trust-files", str(tmp_path)])
    assert trust.exit_code == 0, trust.output
    captured = _capture(tmp_path, "package.json", queue)
    assert captured.exit_code == 0, captured.output
    return visit, queue


def test_offline_captures_upload_once_even_when_sent_twice(client, bearer, approver, commune, make_person,
                                                          tmp_path):
    headers = bearer("canbo.tp")
    visit, queue = _offline_queue(client, headers, commune, make_person, tmp_path)
    again = _capture(tmp_path, "package.json", queue)
    assert "0 captured, 2 already" in again.output  # re-running the device after an interruption adds nothing
    lines = queue.read_text().splitlines()
    first = [_upload(client, headers, line) for line in lines]
    assert [r.status_code for r in first] == [200, 200] and not any(r.json()["replayed"] for r in first)
    second = [_upload(client, {**headers, "Idempotency-Key": json.loads(line)["capture_id"]}, line)
              for line in lines]
    assert [r.json() for r in second] == [{**r.json(), "replayed": True} for r in first]
    altered = json.loads(lines[0]) | {"face_quality": 1}
    assert client.post("/api/v1/cards/captures", headers=headers, json=altered).status_code == 409
    listed = client.get(f"/api/v1/cards/applications?visit_id={visit}", headers=headers).json()
    assert listed["total"] == 2 and {a["channel"] for a in listed["items"]} == {"mobile"}
    assert {a["status"] for a in listed["items"]} == {"captured"}


def test_a_damaged_package_is_refused_by_the_device(client, bearer, commune, make_person, tmp_path):
    headers = bearer("canbo.tp")
    _offline_queue(client, headers, commune, make_person, tmp_path)
    package = json.loads((tmp_path / "package.json").read_text())
    package["entries"][0]["name"] = "Người Khác"
    (tmp_path / "damaged.json").write_text(json.dumps(package))
    refused = _capture(tmp_path, "damaged.json", tmp_path / "q2.jsonl")
    assert refused.exit_code == 2 and "checksum" in refused.output
    # A forger who also fixes the checksum still lacks the visit signer's key.
    body = {k: v for k, v in package.items() if k not in ("checksum", "signature")}
    package["checksum"] = "sha256:" + hashlib.sha256(canonical(body)).hexdigest()
    (tmp_path / "forged.json").write_text(json.dumps(package))
    forged = _capture(tmp_path, "forged.json", tmp_path / "q3.jsonl")
    assert forged.exit_code == 2 and "not signed" in forged.output
    assert not (tmp_path / "q2.jsonl").exists() and not (tmp_path / "q3.jsonl").exists()


def test_roles_and_areas_are_enforced(client, bearer, commune, make_person):
    person = make_person()
    auditor, ward = bearer("kiemtra"), bearer("canbo.phuong")
    body = {"person_id": person, "kind": "first", "unit_id": commune.id}
    assert client.post("/api/v1/cards/applications", headers=auditor, json=body).status_code == 403
    assert client.post("/api/v1/cards/applications", json=body).status_code == 401
    created = client.post("/api/v1/cards/applications", headers=ward, json=body)
    assert created.status_code == 201
    application = created.json()["id"]
    assert client.post(f"/api/v1/cards/applications/{application}/capture", headers=ward).status_code == 204
    assert client.post(f"/api/v1/cards/applications/{application}/approve", headers=ward,
                       json={}).status_code == 403
    assert client.post("/api/v1/cards/batches", headers=ward, json={}).status_code == 403
    assert client.post("/api/v1/cards/applications", headers=ward,
                       json={**body, "pin": "079090000999"}).status_code == 422
    assert client.get("/api/v1/cards/applications/987654?purpose=check", headers=ward).status_code == 404


def test_no_api_response_carries_a_face_image_or_a_fingerprint_template(client, bearer, commune, make_person,
                                                                        tmp_path):
    headers = bearer("canbo.tp")
    visit, queue = _offline_queue(client, headers, commune, make_person, tmp_path)
    person = make_person()
    secrets = set()
    for line in queue.read_text().splitlines():
        item = json.loads(line)
        secrets |= {item["face_png"]} | {f["template"] for f in item["fingerprints"]}
        assert _upload(client, headers, line).status_code == 200
    office = client.post("/api/v1/cards/applications", headers=headers,
                         json={"person_id": person, "kind": "first", "unit_id": commune.id}).json()["id"]
    assert client.post(f"/api/v1/cards/applications/{office}/capture", headers=headers).status_code == 204
    capture = SimulatedCaptureDevice().capture(f"application:{office}")
    secrets |= {base64.b64encode(capture.face.image_png).decode()}
    secrets |= {base64.b64encode(f.template).decode() for f in capture.fingerprints}
    responses = []
    ids = [a["id"] for a in client.get("/api/v1/cards/applications", headers=headers).json()["items"]]
    for application in ids:
        client.post(f"/api/v1/cards/applications/{application}/approve", headers=headers, json={"note": "ok"})
    responses.append(client.post("/api/v1/cards/batches", headers=headers, json={}))
    for application in ids:
        for action in ("deliver", "activate"):
            responses.append(client.post(f"/api/v1/cards/applications/{application}/{action}", headers=headers))
        responses.append(client.get(f"/api/v1/cards/applications/{application}?purpose=review", headers=headers))
        responses.append(client.get(f"/api/v1/cards/applications/{application}/chip?purpose=check",
                                    headers=headers))
    responses += [client.get("/api/v1/cards/applications", headers=headers),
                  client.get(f"/api/v1/cards/visits/{visit}?purpose=check", headers=headers),
                  client.get("/api/v1/cards/teams", headers=headers),
                  client.get("/cards/status.jws"),
                  client.post(f"/api/v1/cards/visits/{visit}/package", headers=headers)]
    assert all(r.status_code < 500 for r in responses)
    assert len(secrets) == 15
    for response in responses:
        body = response.text
        for secret in secrets:
            assert secret not in body and secret[:40] not in body
            raw = base64.b64decode(secret)
            assert base64.urlsafe_b64encode(raw).decode()[:40] not in body
            assert raw.hex()[:40] not in body


def test_a_reported_loss_fails_public_verification_at_once(client, bearer, approver, make_person, issue_card,
                                                           session):
    application_id = issue_card(make_person())
    headers = bearer("canbo.tp")
    chip_data = client.get(f"/api/v1/cards/applications/{application_id}/chip?purpose=check", headers=headers).text
    assert client.post("/api/v1/cards/verify", json={"data": chip_data}).json()["valid"] is True
    document = json.loads(client.post("/api/v1/cards/verify", json={"data": chip_data}).text)["document_number"]
    assert client.post("/api/v1/cards/losses", headers=headers, json={"document_number": document}).status_code == 204
    answer = client.post("/api/v1/cards/verify", json={"data": chip_data}).json()
    assert answer["valid"] is False and answer["problems"] == ["revoked_lost"]
    again = client.post("/api/v1/cards/losses", headers=headers, json={"document_number": document})
    assert again.status_code == 422 and "already revoked" in again.json()["detail"]


def test_another_province_sees_none_of_it(client, session, bearer, commune, make_person, issue_card):
    from dancu.units import services as units

    other = next(u for u in units.list_provinces(session) if u.code == "01")
    create_user(session, "canbo.hn", PASSWORD, Role.REGISTRAR, scope_unit_id=other.id)
    session.commit()
    application_id = issue_card(make_person())
    hanoi = bearer("canbo.hn")
    assert client.get(f"/api/v1/cards/applications/{application_id}?purpose=check", headers=hanoi).status_code == 404
    assert client.get("/api/v1/cards/applications", headers=hanoi).json()["total"] == 0
    assert client.post(f"/api/v1/cards/applications/{application_id}/deliver", headers=hanoi).status_code == 404
    taken_elsewhere = client.post("/api/v1/cards/applications", headers=hanoi,
                                  json={"person_id": make_person(full_name="Đỗ Văn Hùng"), "kind": "first",
                                        "unit_id": commune.id})
    assert taken_elsewhere.status_code == 403

"""The card pages through the real app: registrar workflow, mobile team, public verification."""

import base64
import re

import pytest
from fastapi.testclient import TestClient

from dancu.identity.cards import services as cards
from dancu.identity.cards.devices import SimulatedCaptureDevice
from dancu.web.app import create_app

PASSWORD = "correct horse battery"


@pytest.fixture
def client(database_url):
    with TestClient(create_app()) as c:
        yield c


def _login(client, username="canbo.tp"):
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)[1]
    client.post("/login", data={"csrf_token": token, "username": username, "password": PASSWORD})


def _token(client, path):
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)[1]


def test_registrar_takes_an_application_through_to_activation_in_the_pages(client, approver, commune, make_person,
                                                                          session):
    make_person(pin="079090000123")
    _login(client)
    token = _token(client, "/cards/new")
    refused = client.post("/cards/new", data={"csrf_token": token, "pin": "12", "kind": "first",
                                              "unit_id": str(commune.id)})
    assert refused.status_code == 422 and "field-error" in refused.text
    created = client.post("/cards/new", data={"csrf_token": token, "pin": "079090000123", "kind": "first",
                                              "unit_id": str(commune.id)}, follow_redirects=False)
    assert created.status_code == 303
    detail_url = created.headers["location"]
    assert "Nguyễn Văn An" in client.get(detail_url).text
    for action in ("capture", "approve"):
        assert client.post(f"{detail_url}/{action}", data={"csrf_token": token}).status_code == 200
    assert client.post("/cards/batches", data={"csrf_token": token}).status_code == 200
    for action in ("deliver", "activate"):
        client.post(f"{detail_url}/{action}", data={"csrf_token": token})
    page = client.get(detail_url)
    assert "Thẻ đã kích hoạt" in page.text
    capture = SimulatedCaptureDevice().capture(f"application:{detail_url.rsplit('/', 1)[1]}")
    for secret in (capture.face.image_png, *(f.template for f in capture.fingerprints)):
        for encoded in (base64.b64encode(secret).decode()[:40], secret.hex()[:40]):
            assert encoded not in page.text
    qr = client.get(f"{detail_url}/qr.svg")
    assert qr.status_code == 200 and qr.headers["content-type"].startswith("image/svg+xml")
    listing = client.get("/cards?status=activated&lang=en")
    assert "Card active" in listing.text


def test_public_verify_page_needs_no_login_and_shows_the_verdict(client, approver, make_person, issue_card,
                                                                 session):
    application_id = issue_card(make_person())
    chip_data, qr_text = cards.chip_data(session, approver, application_id, "test")
    session.commit()
    token = _token(client, "/cards/verify")
    by_qr = client.post("/cards/verify", data={"csrf_token": token, "qr_text": qr_text})
    assert by_qr.status_code == 200 and "Thẻ hợp lệ" in by_qr.text and "Nguyễn Văn An" in by_qr.text
    by_file = client.post("/cards/verify?lang=en", data={"csrf_token": token},
                          files={"chip_file": ("chip.json", chip_data.encode(), "application/json")})
    assert "Valid card" in by_file.text
    forged = client.post("/cards/verify?lang=en", data={"csrf_token": token,
                                                         "qr_text": qr_text[:-6] + "AAAAAA"})
    assert "NOT valid" in forged.text
    empty = client.post("/cards/verify", data={"csrf_token": token})
    assert empty.status_code == 422
    assert client.get("/cards/status.jws").text.count(".") == 2


def test_unknown_application_is_a_404_page_not_an_error(client, approver):
    _login(client)
    assert client.get("/cards/applications/999999").status_code == 404
    assert client.get("/cards/applications/999999/qr.svg").status_code == 404
    assert client.get("/cards/visits/999999").status_code == 404

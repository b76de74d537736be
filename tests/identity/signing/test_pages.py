"""The public verification page and the citizen's /me/signatures, through the real app (TestClient)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from fastapi.testclient import TestClient
from signing_helpers import LEVEL1_PIN, LEVEL2_PIN, PASSWORD
from signing_pdfs import one_page_pdf

from dancu import db
from dancu.identity.pki import services as pki
from dancu.identity.signing import services as signing
from dancu.web.app import create_app


@pytest.fixture
def client(citizens):
    with TestClient(create_app(), base_url="http://127.0.0.1", follow_redirects=False) as test_client:
        yield test_client


def _csrf(client: TestClient, path: str) -> str:
    page = client.get(path, follow_redirects=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def _verify(client: TestClient, data: bytes, name: str = "ket-qua.pdf", lang: str = "vi"):
    token = _csrf(client, f"/signatures/verify?lang={lang}")
    return client.post("/signatures/verify", data={"csrf_token": token},
                       files={"document": (name, data, "application/pdf")})


def _sealed() -> bytes:
    with db.new_session() as session:
        signed = signing.sign_pdf_as_state(session, one_page_pdf(), "Kết quả giải quyết thủ tục hành chính")
        session.commit()
    return signed


def test_verify_page_is_public_and_gives_a_verdict(client):
    assert client.get("/signatures/verify").status_code == 200
    signed = _sealed()
    ok = _verify(client, signed)
    assert ok.status_code == 200 and 'data-verdict="valid"' in ok.text and "dancu State Seal" in ok.text
    assert "Chữ ký hợp lệ" in ok.text

    english = _verify(client, signed, lang="en")
    assert "Signature valid" in english.text

    at = signed.index(b"Ket qua")
    altered = _verify(client, signed[:at] + b"L" + signed[at + 1:])
    assert altered.status_code == 200 and 'data-verdict="altered"' in altered.text
    assert "bị sửa đổi sau khi ký" in altered.text

    unsigned = _verify(client, one_page_pdf())
    assert unsigned.status_code == 422 and "không có chữ ký số" in unsigned.text
    not_pdf = _verify(client, "Xin chào".encode(), name="thu.txt")
    assert not_pdf.status_code == 422 and "không phải là tài liệu PDF" in not_pdf.text
    empty = _verify(client, b"")
    assert empty.status_code == 422 and 'data-verdict="empty"' in empty.text


def test_verify_page_reports_a_revoked_signer(client):
    signed = _sealed()
    with db.new_session() as session:
        pki.revoke(session, pki.state_signer(session)[1].serial_number, "key_compromise")
        session.commit()
    response = _verify(client, signed, lang="en")
    assert response.status_code == 200 and 'data-verdict="revoked"' in response.text
    assert "certificate has been revoked" in response.text


def test_verify_upload_needs_the_csrf_token(client):
    response = client.post("/signatures/verify", files={"document": ("a.pdf", one_page_pdf(), "application/pdf")})
    assert response.status_code == 403


def _login(client: TestClient, pin: str) -> None:
    token = _csrf(client, "/eid/login?next=/me/signatures")
    response = client.post("/eid/login", data={"csrf_token": token, "pin": pin, "password": PASSWORD,
                                               "next": "/me/signatures"})
    assert response.status_code == 303 and response.headers["location"] == "/me/signatures", response.text


def test_citizen_forms_need_the_csrf_token(client):
    _login(client, LEVEL2_PIN)
    for path in ("/me/signatures/certificate", "/me/signatures/revoke", "/me/signatures/sign"):
        assert client.post(path, data={"reason": "key_compromise"}).status_code == 403, path
    assert "obtain-form" in client.get("/me/signatures").text  # nothing was issued


def test_an_old_login_is_sent_back_to_log_in_before_signing(client, monkeypatch):
    _login(client, LEVEL2_PIN)
    monkeypatch.setattr(signing, "RECENT_LOGIN", dt.timedelta(0))
    page = client.get("/me/signatures")
    assert 'id="fresh-login"' in page.text and "prompt=login" in page.text
    token = _csrf(client, "/me/signatures")
    response = client.post("/me/signatures/certificate", data={"csrf_token": token})
    assert response.status_code == 303
    assert response.headers["location"] == "/eid/login?next=%2Fme%2Fsignatures&acr=2&prompt=login"
    monkeypatch.undo()
    assert 'id="fresh-login"' not in client.get("/me/signatures").text


def test_my_signatures_needs_an_eid_login(client):
    response = client.get("/me/signatures")
    assert response.status_code == 303 and response.headers["location"].startswith("/eid/login?next=")


def test_level_1_citizen_sees_the_policy_but_cannot_obtain(client):
    _login(client, LEVEL1_PIN)
    page = client.get("/me/signatures")
    assert page.status_code == 200 and "Chính sách miễn phí" in page.text and 'id="obtain-form"' not in page.text
    token = _csrf(client, "/me/signatures")
    refused = client.post("/me/signatures/certificate", data={"csrf_token": token})
    assert refused.status_code == 422 and "mức 2" in refused.text


def test_level_2_citizen_obtains_signs_and_revokes(client):
    _login(client, LEVEL2_PIN)
    page = client.get("/me/signatures?lang=en")
    assert "Free-of-charge policy" in page.text and "Signing for public services is free of charge" in page.text
    token = _csrf(client, "/me/signatures")
    assert client.post("/me/signatures/certificate", data={"csrf_token": token}).status_code == 303
    page = client.get("/me/signatures")
    assert "Nguyễn Văn An" in page.text and 'id="sign-form"' in page.text

    signed = client.post("/me/signatures/sign", data={"csrf_token": token, "reason": "Nộp hồ sơ",
                                                      "public_service": "true"},
                         files={"document": ("don.pdf", one_page_pdf(), "application/pdf")})
    assert signed.status_code == 200 and signed.headers["content-type"] == "application/pdf"
    assert 'filename="don-signed.pdf"' in signed.headers["content-disposition"]
    verdict = _verify(client, signed.content)
    assert 'data-verdict="valid"' in verdict.text and "Nguyễn Văn An" in verdict.text

    bad = client.post("/me/signatures/sign", data={"csrf_token": token},
                      files={"document": ("x.pdf", b"not a pdf", "application/pdf")})
    assert bad.status_code == 422 and "không phải là tài liệu PDF" in bad.text

    assert client.post("/me/signatures/revoke", data={"csrf_token": token, "reason": "key_compromise"}
                       ).status_code == 303
    page = client.get("/me/signatures")
    assert 'id="obtain-form"' in page.text and "Đã thu hồi chứng thư số" in page.text
    assert 'data-verdict="revoked"' in _verify(client, signed.content).text

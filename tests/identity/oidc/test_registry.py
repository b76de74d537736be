"""The relying-party registry: API role checks and validation, the console pages, the CLI."""

from __future__ import annotations

import json

import pytest
from oidc_helpers import csrf_of
from typer.testing import CliRunner

from dancu import db
from dancu.accounts.models import Role
from dancu.accounts.services import create_user
from dancu.cli import app as cli
from dancu.identity.oidc import services

PASSWORD = "correct horse battery"
NEW_CLIENT = {"name": "Cổng dịch vụ công Hà Nội", "redirect_uris": ["https://dichvucong.hanoi.gov.vn/cb"],
              "post_logout_redirect_uris": ["https://dichvucong.hanoi.gov.vn/"], "allowed_claims": ["name", "pin"],
              "min_level": 2}


@pytest.fixture
def staff(database_url):
    with db.session_scope() as session:
        for username, role in (("admin", Role.ADMIN), ("auditor", Role.AUDITOR), ("registrar", Role.REGISTRAR)):
            create_user(session, username, PASSWORD, role)


def _headers(client, username: str) -> dict:
    token = client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD}).json()
    return {"Authorization": f"Bearer {token['access_token']}"}


def test_only_administrators_manage_relying_parties_through_the_api(staff, rp_http):
    admin = _headers(rp_http, "admin")
    assert rp_http.get("/api/v1/oidc/clients").status_code == 401
    for other in ("auditor", "registrar"):
        headers = _headers(rp_http, other)
        assert rp_http.get("/api/v1/oidc/clients", headers=headers).status_code == 403
        assert rp_http.post("/api/v1/oidc/clients", json=NEW_CLIENT, headers=headers).status_code == 403
    created = rp_http.post("/api/v1/oidc/clients", json=NEW_CLIENT, headers=admin)
    assert created.status_code == 201
    body = created.json()
    assert body["client_secret"] and body["sector_identifier"] == "dichvucong.hanoi.gov.vn" and not body["public"]
    client_id = body["client_id"]
    listed = rp_http.get("/api/v1/oidc/clients", headers=admin).json()
    assert [c["client_id"] for c in listed] == [client_id] and "client_secret" not in listed[0]
    for other in ("auditor", "registrar"):
        headers = _headers(rp_http, other)
        assert rp_http.get(f"/api/v1/oidc/clients/{client_id}", headers=headers).status_code == 403
        assert rp_http.post(f"/api/v1/oidc/clients/{client_id}/secret", headers=headers).status_code == 403
    new_secret = rp_http.post(f"/api/v1/oidc/clients/{client_id}/secret", headers=admin).json()["client_secret"]
    assert new_secret != body["client_secret"]
    with db.session_scope() as session:
        client = services.get_client(session, client_id)
        assert services.client_secret_matches(client, new_secret)
        assert not services.client_secret_matches(client, body["client_secret"])
    suspended = rp_http.put(f"/api/v1/oidc/clients/{client_id}/active", json={"active": False}, headers=admin)
    assert suspended.json()["active"] is False
    assert rp_http.get("/api/v1/oidc/clients/nope", headers=admin).status_code == 404


@pytest.mark.parametrize("change, message", [
    ({"redirect_uris": ["http://example.com/cb"]}, "https"),
    ({"redirect_uris": ["https://a.example/cb#x"]}, "fragment"),
    ({"redirect_uris": ["not a url"]}, "https"),
    ({"redirect_uris": ["https://a.example/cb", "https://b.example/cb"]}, "sector identifier"),
    ({"allowed_claims": ["email"]}, "allowed_claims"),
    ({"min_level": 3}, "min_level"),
    ({"redirect_uris": []}, "redirect_uris"),
])
def test_bad_registrations_get_a_422_with_the_reason(staff, rp_http, change, message):
    answer = rp_http.post("/api/v1/oidc/clients", json={**NEW_CLIENT, **change}, headers=_headers(rp_http, "admin"))
    assert answer.status_code == 422 and message in json.dumps(answer.json())


def test_console_registers_a_client_shows_the_secret_once_and_explains_errors(staff, browser):
    token = csrf_of(browser.get("/login").text)
    browser.post("/login", data={"username": "admin", "password": PASSWORD, "csrf_token": token})
    page = browser.get("/console/oidc/clients?lang=vi")
    assert page.status_code == 200 and "Đăng ký ứng dụng" in page.text
    bad = browser.post("/console/oidc/clients", data={
        "name": "iHaNoi", "redirect_uris": "http://ihanoi.example/cb", "min_level": "1", "kind": "confidential",
        "csrf_token": csrf_of(page.text)})
    assert bad.status_code == 422 and "https" in bad.text and 'value="iHaNoi"' in bad.text
    good = browser.post("/console/oidc/clients", data={
        "name": "iHaNoi", "redirect_uris": "https://ihanoi.example/cb", "claim": ["name", "address"],
        "min_level": "1", "kind": "confidential", "csrf_token": csrf_of(page.text)})
    assert good.status_code == 200 and 'id="created-client-secret"' in good.text
    with db.session_scope() as session:
        (client,) = services.list_clients(session, services.Actor("admin", Role.ADMIN))
        assert client.allowed_claims == ["name", "address"]
        client_id = client.client_id
    detail = browser.get(f"/console/oidc/clients/{client_id}")
    assert detail.status_code == 200 and "created-client-secret" not in detail.text
    assert browser.get("/console/oidc/clients/unknown").status_code == 404


def test_registrars_cannot_open_the_console_registry(staff, browser):
    token = csrf_of(browser.get("/login").text)
    browser.post("/login", data={"username": "registrar", "password": PASSWORD, "csrf_token": token})
    assert browser.get("/console/oidc/clients").status_code == 403


def test_cli_registers_a_client_and_rotates_keys(database_url):
    runner = CliRunner()
    added = runner.invoke(cli, ["oidc", "add-client", "iHaNoi", "--redirect-uri", "http://localhost:9000/callback",
                                "--claim", "name"])
    assert added.exit_code == 0, added.output
    credentials = json.loads(added.output)
    assert credentials["client_secret"]
    listed = runner.invoke(cli, ["oidc", "clients"])
    assert credentials["client_id"] in listed.output
    assert runner.invoke(cli, ["oidc", "rotate-keys"]).exit_code == 0
    assert runner.invoke(cli, ["oidc", "purge"]).output.strip() == "deleted 0 code(s) and 0 token(s)"
    rotated = runner.invoke(cli, ["oidc", "rotate-keys", "--propagation-hours", "2"])
    assert rotated.exit_code == 0 and "new key" in rotated.output
    assert len(runner.invoke(cli, ["oidc", "keys"]).output.strip().splitlines()) == 2
    refused = runner.invoke(cli, ["oidc", "add-client", "x", "--redirect-uri", "ftp://a/b"])
    assert refused.exit_code != 0 and "https" in refused.output

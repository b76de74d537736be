"""A stranger who knows a citizen's PIN cannot lock the citizen out, and a lock does not reveal that a PIN has an account.

The app runs in process behind a trusted proxy (``DANCU_TRUSTED_PROXIES``), so
``X-Forwarded-For`` sets each client's address.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from eid_helpers import CITIZEN_PASSWORD, PARENT_PIN
from fastapi.testclient import TestClient

from dancu import db
from dancu.config import get_settings
from dancu.identity.eid import services as eid
from dancu.web.app import create_app

UNUSED_PIN = "079088000999"  # a valid PIN with no e-ID account


@pytest.fixture
def app(citizens, monkeypatch):
    with db.session_scope() as session:
        eid.create_account(session, pin=PARENT_PIN, phone="0912345678", password=CITIZEN_PASSWORD)
    monkeypatch.setenv("DANCU_TRUSTED_PROXIES", "testclient")
    get_settings.cache_clear()
    return create_app()


@pytest.fixture
def owner(app) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://127.0.0.1", headers={"X-Forwarded-For": "198.51.100.20"}) as client:
        yield client


@pytest.fixture
def stranger(app) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://127.0.0.1", headers={"X-Forwarded-For": "203.0.113.20"}) as client:
        yield client


def _login(client: TestClient, pin: str, password: str):
    form = client.get("/eid/login?prompt=login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)[1]
    return client.post("/eid/login", data={"pin": pin, "password": password, "next": "/me", "csrf_token": token},
                       follow_redirects=False)


def test_the_owners_browser_gets_in_while_a_stranger_has_the_account_locked(owner, stranger):
    assert _login(owner, PARENT_PIN, CITIZEN_PASSWORD).status_code == 303  # the browser is now known
    for _ in range(eid.MAX_FAILED_ATTEMPTS):
        stranger_attempt = _login(stranger, PARENT_PIN, "wrong password")
    assert stranger_attempt.status_code == 429
    # Locked for everyone else, even with the right password...
    assert _login(stranger, PARENT_PIN, CITIZEN_PASSWORD).status_code == 429
    # ...but not for the owner's own browser (the old code locked it out for 15 minutes).
    assert _login(owner, PARENT_PIN, CITIZEN_PASSWORD).status_code == 303


def _alert(response) -> str:
    return re.search(r'role="alert"[^>]*>(.*?)</', response.text, re.S)[1].strip()


def test_a_pin_without_an_account_locks_like_one_with_an_account(stranger):
    known = [_login(stranger, PARENT_PIN, "wrong password") for _ in range(eid.MAX_FAILED_ATTEMPTS)]
    unknown = [_login(stranger, UNUSED_PIN, "wrong password") for _ in range(eid.MAX_FAILED_ATTEMPTS)]
    assert [r.status_code for r in known] == [r.status_code for r in unknown] == [401] * 4 + [429]
    # The lock message differs only by its end time (the old code never locked an unused PIN).
    assert re.sub(r"\d", "0", _alert(known[-1])) == re.sub(r"\d", "0", _alert(unknown[-1]))
    assert _login(stranger, UNUSED_PIN, CITIZEN_PASSWORD).status_code == 429

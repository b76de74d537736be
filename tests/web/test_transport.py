"""Transport security: Secure cookies and HSTS over HTTPS, forwarded headers only from trusted proxies."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from dancu.accounts.models import LoginThrottle
from dancu.config import get_settings
from dancu.web.app import create_app


def _client(monkeypatch: pytest.MonkeyPatch, trusted: str, base_url: str = "http://127.0.0.1") -> TestClient:
    monkeypatch.setenv("DANCU_TRUSTED_PROXIES", trusted)
    get_settings.cache_clear()
    return TestClient(create_app(), base_url=base_url)


@pytest.fixture
def behind_proxy(seed, monkeypatch) -> Iterator[TestClient]:
    with _client(monkeypatch, "10.0.0.0/8,testclient") as client:
        yield client


@pytest.fixture
def exposed(seed, monkeypatch) -> Iterator[TestClient]:
    """No proxy configured: whoever connects could forge the forwarded headers."""
    with _client(monkeypatch, "") as client:
        yield client


def _cookies(response) -> list[str]:
    return response.headers.get_list("set-cookie")


def test_https_through_a_trusted_proxy_gets_secure_cookies_and_hsts(behind_proxy):
    response = behind_proxy.get("/login?lang=en", headers={"X-Forwarded-Proto": "https"})
    cookies = _cookies(response)
    assert {cookie.split("=", 1)[0] for cookie in cookies} == {"lang", "dancu_session"}
    assert all(re.search(r";\s*secure\b", cookie, re.I) for cookie in cookies), cookies
    assert response.headers["strict-transport-security"] == "max-age=31536000"


def test_plain_http_gets_neither_secure_nor_hsts(behind_proxy):
    response = behind_proxy.get("/login?lang=en", headers={"X-Forwarded-Proto": "http"})
    assert _cookies(response) and not any("secure" in cookie.lower() for cookie in _cookies(response))
    assert "strict-transport-security" not in response.headers


def test_direct_https_gets_secure_cookies(seed, monkeypatch):
    with _client(monkeypatch, "", base_url="https://127.0.0.1") as client:
        response = client.get("/login")
    assert all("; secure" in cookie.lower() for cookie in _cookies(response))
    assert "strict-transport-security" in response.headers


def test_forwarded_headers_from_an_untrusted_peer_are_ignored(exposed, session):
    response = exposed.get("/login", headers={"X-Forwarded-Proto": "https"})
    assert not any("secure" in cookie.lower() for cookie in _cookies(response))
    assert "strict-transport-security" not in response.headers
    # A forged X-Forwarded-For cannot give a guesser a fresh source (and a fresh budget) per attempt.
    for forged in ("192.0.2.1", "192.0.2.2"):
        refused = exposed.post("/api/v1/auth/token", json={"username": "canbo", "password": "wrong password"},
                               headers={"X-Forwarded-For": forged})
        assert refused.status_code == 401
    source = session.get(LoginThrottle, "source:testclient")
    assert source is not None and source.failures == 2
    assert not session.scalars(select(LoginThrottle.key).where(LoginThrottle.key.like("source:192.%"))).all()

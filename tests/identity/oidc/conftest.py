"""OIDC fixtures: a seeded family and the real app in process (its session cookie kept like a browser's)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from identity.eid.eid_helpers import Citizens, seed_citizens

from dancu.config import get_settings
from dancu.units import services as units
from dancu.web.app import create_app

ISSUER = "http://localhost"


@pytest.fixture
def citizens(session) -> Citizens:
    commune = units.list_communes(session, "79")[0]
    seeded = seed_citizens(session, commune.id)
    session.commit()
    return seeded


@pytest.fixture
def issuer(monkeypatch) -> str:
    """The provider's configured issuer: the origin the test clients below reach."""
    monkeypatch.setenv("DANCU_OIDC_ISSUER", ISSUER)
    get_settings.cache_clear()
    yield ISSUER
    get_settings.cache_clear()


@pytest.fixture
def app(citizens, issuer):
    return create_app()


@pytest.fixture
def browser(app) -> Iterator[TestClient]:
    """The citizen's browser: keeps cookies, does not follow redirects, on a loopback origin."""
    with TestClient(app, base_url="http://localhost", follow_redirects=False) as client:
        yield client


@pytest.fixture
def rp_http(app) -> Iterator[TestClient]:
    """The relying party's back channel: no cookies of the citizen."""
    with TestClient(app, base_url="http://localhost", follow_redirects=False) as client:
        yield client

import pytest
from fastapi.testclient import TestClient

from dancu.accounts.models import Role
from dancu.accounts.services import create_user
from dancu.web.app import create_app

PASSWORD = "correct horse battery"


@pytest.fixture
def client(session):
    create_user(session, "admin", PASSWORD, Role.ADMIN)
    create_user(session, "auditor", PASSWORD, Role.AUDITOR)
    create_user(session, "registrar", PASSWORD, Role.REGISTRAR)
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


@pytest.fixture
def registrar_headers(bearer):
    return bearer("registrar")


@pytest.fixture
def auditor_headers(bearer):
    return bearer("auditor")

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dancu.units.api import router


@pytest.fixture
def client(database_url: str) -> TestClient:
    # the real app is assembled elsewhere; the router must work on its own
    app = FastAPI()
    app.include_router(router)
    return TestClient(app)

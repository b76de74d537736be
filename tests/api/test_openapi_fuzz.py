"""Schemathesis generates requests from the OpenAPI document: no input may cause a 5xx."""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import not_a_server_error


@pytest.fixture
def api_schema(client):
    return schemathesis.openapi.from_asgi("/api/v1/openapi.json", client.app)


@pytest.fixture
def auth_headers(bearer):
    return bearer("admin")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case, auth_headers):
    case.call_and_validate(headers=auth_headers, checks=[not_a_server_error])

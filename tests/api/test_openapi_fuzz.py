"""Schemathesis generates requests for every operation of the OpenAPI document and checks each answer:
no 5xx, a status the operation documents, a documented content type, and a body that matches the
documented schema (RFC 9457 problem details for every error).

Driven from inside one test (rather than schemathesis' pytest plugin) so that
each run gets its own fresh database from the fixtures. Examples per operation
are few so that the whole run stays within a couple of minutes on two cores;
the point is breadth (every operation, every error path the generator reaches),
not depth.
"""

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

EXAMPLES_PER_OPERATION = 8
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def test_every_operation_keeps_its_documented_contract(client, bearer):
    headers = bearer("admin")
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", client.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 50

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case):
            case.call_and_validate(headers=headers, checks=CHECKS)

        check()

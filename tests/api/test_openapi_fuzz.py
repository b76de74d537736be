"""Schemathesis generates requests from the OpenAPI document: no input may cause a 5xx.

Driven from inside one test (rather than schemathesis' pytest plugin) so that
each run gets its own fresh database from the fixtures.
"""

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

EXAMPLES_PER_OPERATION = 25


def test_no_input_causes_a_server_error(client, bearer):
    headers = bearer("admin")
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", client.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case):
            case.call_and_validate(headers=headers, checks=[not_a_server_error])

        check()

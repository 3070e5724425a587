"""Schemathesis against the server's own OpenAPI document (/api/v1/openapi.json), on both
backends, as an authenticated administrator (a service account's API token): generated requests
for every documented operation must never get a 5xx, and every answer must match the status
codes, content types and schemas the document gives for that operation.

Bounded for the test command: SCHEMATHESIS_EXAMPLES examples per operation (default 5); the
fuller run in README raises it. Schemathesis' pytest plugin does not load under the pinned
pytest, so each operation's strategy is driven with hypothesis directly.
"""

import json
import os

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "5"))

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]


@schemathesis.serializer("application/x-ndjson")
def json_lines(ctx, value):
    """Bodies of `POST /api/v1/decisions:batch`: generated text is sent as it is (lines or
    not), any other generated value as one JSON line."""
    if isinstance(value, str):
        return value.encode()
    return (json.dumps(value) + "\n").encode()


def test_every_operation_keeps_its_contract(server):
    token = server.service_token("schemathesis-caller", "admin")
    headers = {"Authorization": f"Bearer {token}"}
    # The document itself is behind authentication too.
    schema = schemathesis.openapi.from_url(f"{server.url}/api/v1/openapi.json", headers=headers)
    failures = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def exercise(case):
            case.call_and_validate(base_url=server.url, headers=headers, checks=CHECKS)

        try:
            exercise()
        except Exception as e:  # every operation is tried; all failures are reported together
            failures.append(f"{operation.label}: {str(e)[:600]}")
    assert operations > 50, f"only {operations} operations in the document"
    assert not failures, f"{len(failures)} operations broke their contract:\n" + "\n".join(failures)

"""Schema-driven fuzzing of the REST API with schemathesis: requests generated from the
served OpenAPI document (valid and invalid ones) must never get a 5xx, and every answer
must have a documented status code, content type and body shape.

A server of its own (the fuzzer creates and deletes whatever it likes); a bounded number
of examples per operation, so the run takes well under a minute.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from pravega.testing import ServerProcess

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def fuzzed_server() -> Iterator[ServerProcess]:
    with ServerProcess(in_memory=True) as proc:
        # Some resources to find, so that generated names sometimes hit existing ones.
        for scope in ("a", "b"):
            requests.post(f"{proc.rest_uri}/v1/scopes", json={"scopeName": scope}, timeout=60).raise_for_status()
            requests.post(
                f"{proc.rest_uri}/v1/scopes/{scope}/streams", json={"streamName": "a"}, timeout=60
            ).raise_for_status()
        yield proc


def operations(server: ServerProcess) -> list[schemathesis.APIOperation]:
    loaded = schemathesis.openapi.from_url(f"{server.rest_uri}/v1/openapi.json")
    return [result.ok() for result in loaded.get_all_operations()]


@pytest.mark.parametrize("mode", list(schemathesis.GenerationMode), ids=lambda m: m.value)
def test_no_server_errors_and_answers_match_the_document(
    fuzzed_server: ServerProcess, mode: schemathesis.GenerationMode
) -> None:
    ops = operations(fuzzed_server)
    assert len(ops) >= 15  # every documented operation is fuzzed
    session = requests.Session()
    fuzzed = 0
    for operation in ops:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def fuzz(case: schemathesis.Case) -> None:
            case.call_and_validate(session=session, checks=CHECKS)

        try:
            fuzz()
        except Unsatisfiable:
            # Nothing in the request can be made invalid (no parameters, no body).
            assert mode == schemathesis.GenerationMode.NEGATIVE, operation.label
            continue
        fuzzed += 1
    assert fuzzed >= (15 if mode == schemathesis.GenerationMode.POSITIVE else 10)


def test_the_server_still_serves_after_the_fuzzing(fuzzed_server: ServerProcess) -> None:
    assert fuzzed_server.alive()
    assert requests.get(f"{fuzzed_server.rest_uri}/health/readiness", timeout=60).json() is True

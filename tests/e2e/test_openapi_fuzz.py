"""Schemathesis against the live server's own OpenAPI document: no server error, every
answer's status code declared and its body valid against the declared schema.

Bounded and derandomized (a few examples per operation), so it runs in about a minute on
two cores and fails the same way every time.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from processes import Processes, ServerProcess, client_for, sluice_env
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

EXAMPLES_PER_OPERATION = 6
POSITIVE, NEGATIVE = schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    workdir = tmp_path_factory.mktemp("fuzz")
    files = workdir / "files"
    files.mkdir()
    with Processes(workdir) as processes:
        env = sluice_env(workdir / "data", local_file_roots=str(files))
        yield processes.serve(env, "--no-demo")


@pytest.fixture(scope="module")
def auth_headers(live_server: ServerProcess) -> dict[str, str]:
    client = client_for(live_server)
    token = client.fetch_token()
    client.close()
    return {
        "Authorization": f"Bearer {token}",
        "x-api-key": client.client_id,
        "x-gw-ims-org-id": client.org_id,
        "x-sandbox-name": "prod",
    }


def _fuzz(
    operation: schemathesis.APIOperation,
    mode: schemathesis.GenerationMode,
    base_url: str,
    headers: dict[str, str],
) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case) -> None:
        sent = {} if case.path == "/ims/token/v3" else headers
        case.call_and_validate(base_url=base_url, headers=sent, checks=CHECKS)

    run()


def test_every_operation_answers_as_documented(
    live_server: ServerProcess, auth_headers: dict[str, str]
) -> None:
    # The first calls of a fresh process load the connectors: done before the fuzzing, so
    # that a slow first answer on a busy machine cannot look like a flaky one.
    for path in ("connectionSpecs", "flowSpecs"):
        warm = httpx.get(f"{live_server.url}/data/foundation/flowservice/{path}",
                         headers=auth_headers, timeout=120)
        assert warm.status_code == 200, warm.text
    schema = schemathesis.openapi.from_url(f"{live_server.url}/openapi.json")
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 50
    for operation in operations:
        # Invalid data only where there is some to make: a body (bad query values are in
        # the positive runs already, through each parameter's declared bounds).
        for mode in (POSITIVE, NEGATIVE) if len(operation.body) else (POSITIVE,):
            try:
                _fuzz(operation, mode, live_server.url, auth_headers)
            except Unsatisfiable:
                # Nothing of the operation can be made invalid (no body, free-form strings).
                assert mode is schemathesis.GenerationMode.NEGATIVE, operation.label
            except Exception as failure:  # every operation is tried; all failures reported
                causes = getattr(failure, "exceptions", ())
                detail = "; ".join(repr(c)[:800] for c in causes) or repr(failure)[:800]
                failures.append(f"{operation.label} ({mode.value}): {failure}: {detail}")
    assert not failures, "\n\n".join(failures)


def test_the_document_declares_list_parameters(live_server: ServerProcess) -> None:
    document = httpx.get(f"{live_server.url}/openapi.json", timeout=30).json()
    flows = document["paths"]["/data/foundation/flowservice/flows"]["get"]
    names = {p["name"] for p in flows["parameters"] if p["in"] == "query"}
    assert names >= {"property", "orderby", "limit", "count", "continuationToken", "start",
                     "properties"}
    catalog = document["paths"]["/data/foundation/catalog/dataSets"]["get"]
    assert {p["name"] for p in catalog["parameters"]} >= {"start", "limit", "orderBy",
                                                            "properties", "property"}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, answer in operation["responses"].items():
                content = answer.get("content", {})
                assert all(c.get("schema") for c in content.values()), (method, path, status)
            if path != "/ims/token/v3":
                error = operation["responses"]["400"]["content"]["application/json"]["schema"]
                assert error == {"$ref": "#/components/schemas/Error"}, (method, path)
    assert "422" not in str(document["paths"])

"""`Idempotency-Key` on create requests, over HTTP, on both metadata stores: a retry gets the
first answer and creates nothing; another body is a 409; keys are per tenant and client."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from support.api_bodies import CATALOG, FS, created_id, dataset
from support.callers import Caller, error_code
from support.flow_bodies import FILE_SPEC, file_flow_parts, flow_body


def _count(caller: Caller, path: str) -> int:
    return int(caller.get(f"{path}?count=true").json()["count"])


def _key(key: str) -> dict[str, str]:
    return {"Idempotency-Key": key}


@pytest.fixture
def flow_parts(caller: Caller, settings: Any) -> tuple[str, str]:
    return file_flow_parts(caller, Path(settings.allowed_file_roots[0]))


def test_a_retried_create_gets_the_first_answer_and_creates_nothing(
    caller: Caller, flow_parts: tuple[str, str]
) -> None:
    body = flow_body(*flow_parts, spec=FILE_SPEC)
    first = caller.post(f"{FS}/flows", json=body, headers=_key("flow-1"))
    # The same fields in another order are the same request (canonical JSON).
    again = caller.post(f"{FS}/flows", json=dict(reversed(body.items())), headers=_key("flow-1"))
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["ETag"] == first.headers["ETag"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert _count(caller, f"{FS}/flows") == 1


def test_runs_and_datasets_replay_their_own_answer_shapes(
    caller: Caller, flow_parts: tuple[str, str]
) -> None:
    flow_id = created_id(caller.post(f"{FS}/flows", json=flow_body(*flow_parts, spec=FILE_SPEC)))
    run = {"flowId": flow_id, "params": {"startTime": "0", "windowStartTime": "100",
                                          "windowEndTime": "200"}}
    first = caller.post(f"{FS}/runs", json=run, headers=_key("run-1"))
    again = caller.post(f"{FS}/runs", json=run, headers=_key("run-1"))
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() == {"items": [first.json()["items"][0]]}
    assert _count(caller, f"{FS}/runs") == 1

    made = caller.post(f"{CATALOG}/dataSets", json=dataset("d"), headers=_key("ds-1"))
    remade = caller.post(f"{CATALOG}/dataSets", json=dataset("d"), headers=_key("ds-1"))
    assert made.status_code == remade.status_code == 201
    assert remade.json() == made.json()


def test_the_same_key_with_another_body_is_a_coded_409_and_creates_nothing(
    caller: Caller,
) -> None:
    first = caller.post(f"{CATALOG}/dataSets", json=dataset("a"), headers=_key("k"))
    assert first.status_code == 201
    before = caller.get(f"{CATALOG}/dataSets").json()
    other = caller.post(f"{CATALOG}/dataSets", json=dataset("b"), headers=_key("k"))
    assert other.status_code == 409
    assert error_code(other) == "FLOW-1490-409"
    assert "'k'" in other.json()["report"]["detailed-message"]
    assert caller.get(f"{CATALOG}/dataSets").json() == before
    # The same body on another path is another request too.
    assert caller.post(f"{FS}/flows", json=dataset("a"), headers=_key("k")).status_code == 409


def test_keys_are_per_tenant(caller: Caller, other_caller: Caller) -> None:
    mine = created_id(caller.post(f"{CATALOG}/dataSets", json=dataset(), headers=_key("same")))
    theirs = other_caller.post(f"{CATALOG}/dataSets", json=dataset(), headers=_key("same"))
    assert created_id(theirs) != mine
    assert "Idempotent-Replayed" not in theirs.headers


def test_a_refused_request_stores_no_key(caller: Caller, flow_parts: tuple[str, str]) -> None:
    bad = caller.post(f"{FS}/flows", json={"name": "x"}, headers=_key("fix-me"))
    assert bad.status_code == 400
    body = flow_body(*flow_parts, spec=FILE_SPEC)
    good = caller.post(f"{FS}/flows", json=body, headers=_key("fix-me"))
    assert good.status_code == 201, good.text


def test_a_malformed_key_is_a_coded_400(caller: Caller) -> None:
    for key in ["", " ", "x" * 256, "caf\u00e9", "tab\there"]:
        response = caller.post(
            f"{CATALOG}/dataSets", json=dataset(), headers={"Idempotency-Key": key.encode()}
        )
        assert response.status_code == 400, key
        assert error_code(response) == "FLOW-1492-400"
    assert caller.get(f"{CATALOG}/dataSets").json() == {}

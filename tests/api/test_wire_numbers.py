"""Numbers on the wire are ASCII digits: anything else is a coded 400 that changes nothing.

`str.isdigit()` takes superscripts that `int()` then refuses (a 500), and `int()` takes
full-width digits nobody means (silently accepted); both are refused at the door.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from support.api_bodies import FS, created_id, postgres_string_connection, sqlalchemy_connection
from support.callers import Caller, error_code
from support.flow_bodies import flow_body, table_flow_parts

# Superscripts, full-width and Arabic-Indic digits (all `isdigit()`), underscores, NBSP.
FULL_WIDTH_17 = "\uff11\uff17"
NOT_ASCII = [
    "\u00b2",
    "\u00b3",
    FULL_WIDTH_17 + "\uff10" * 8,
    "\u0661\u0667" + "\u0660" * 8,
    "1_700_000_000",
    "\u00a01700000000",
]


@pytest.fixture
def table_flow(caller: Caller, settings: Any) -> str:
    _base, source, target_id = table_flow_parts(caller, Path(settings.allowed_file_roots[0]))
    return created_id(caller.post(f"{FS}/flows", json=flow_body(source, target_id)))


def _run_count(caller: Caller, flow_id: str) -> int:
    return int(caller.get(f"{FS}/runs?property=flowId=={flow_id}&count=true").json()["count"])


@pytest.mark.parametrize("text", NOT_ASCII)
@pytest.mark.parametrize("field", ["windowStartTime", "windowEndTime", "startTime"])
def test_run_times_in_other_digits_are_1384(
    caller: Caller, table_flow: str, field: str, text: str
) -> None:
    params = {"windowStartTime": "1651584991", "windowEndTime": "1700000000", field: text}
    response = caller.post(f"{FS}/runs", json={"flowId": table_flow, "params": params})
    assert response.status_code == 400, response.text
    assert error_code(response) == "FLOW-1384-400"
    assert _run_count(caller, table_flow) == 0


@pytest.mark.parametrize("text", NOT_ASCII)
@pytest.mark.parametrize("field", ["startTime", "interval"])
def test_schedule_numbers_in_other_digits_are_refused(
    caller: Caller, settings: Any, field: str, text: str
) -> None:
    _base, source, target_id = table_flow_parts(caller, Path(settings.allowed_file_roots[0]))
    schedule = {"startTime": "4102444800", "frequency": "hour", "interval": "1", field: text}
    body = flow_body(source, target_id, schedule=schedule)
    response = caller.post(f"{FS}/flows", json=body)
    assert response.status_code == 400, response.text
    assert caller.get(f"{FS}/flows?count=true").json()["count"] == 0


@pytest.mark.parametrize("text", NOT_ASCII)
def test_limit_in_other_digits_is_1452(caller: Caller, text: str) -> None:
    response = caller.get(f"{FS}/flows", params={"limit": text})
    assert response.status_code == 400, response.text
    assert error_code(response) == "FLOW-1452-400"


@pytest.mark.parametrize("text", ["\u00b2", FULL_WIDTH_17])
def test_numeric_filters_in_other_digits_are_1452(caller: Caller, text: str) -> None:
    response = caller.get(f"{FS}/runs", params={"property": f"createdAt>{text}"})
    assert response.status_code == 400, response.text
    assert error_code(response) == "FLOW-1452-400"


@pytest.mark.parametrize("port", ["\u00b2", FULL_WIDTH_17, "0", "65536", "54x"])
def test_postgresql_connection_string_ports_are_refused_at_create(
    caller: Caller, port: str
) -> None:
    conninfo = f"host=127.0.0.1 port={port} dbname=test user=postgres password=pw"
    body = postgres_string_connection(conninfo)
    response = caller.post(f"{FS}/connections", json=body)
    assert response.status_code == 400, response.text
    assert error_code(response) == "FLOW-1000-400"
    assert caller.get(f"{FS}/connections?count=true").json()["count"] == 0


@pytest.mark.parametrize("port", ["\u00b2", FULL_WIDTH_17])
def test_sqlalchemy_url_ports_in_other_digits_are_refused_at_create(
    caller: Caller, port: str
) -> None:
    response = caller.post(
        f"{FS}/connections", json=sqlalchemy_connection(f"postgresql+psycopg://u:pw@127.0.0.1:{port}/test")
    )
    assert response.status_code == 400, response.text
    assert caller.get(f"{FS}/connections?count=true").json()["count"] == 0

"""The example third-party connector (examples/sluice-calendar), installed as a package of
its own, is found through the `sluice.connectors` entry point and works through the HTTP API
like a built-in one; and the contract kit fails a connector that breaks the contract."""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest
from sluice_calendar import CONNECTOR, CalendarConnector

from sluice.connectors.contract import ConnectorContext
from sluice.connectors.errors import ConnectionTestFailed
from sluice.connectors.reading import ReadRequest, SourceRead
from sluice.connectors.registry import ENTRY_POINT_GROUP, all_specs, find_connector
from sluice.domain.windows import Window
from sluice.testing import (
    ContractCase,
    WindowCase,
    check_connection_test,
    check_half_open_window,
)
from support.api_runs import FS, created_id
from support.callers import Caller

SPEC_ID = "3f1c9b0e-2a47-4d5e-8b6f-0c9d8e7a6b51"
TOKEN = "cal-Api-Secret-Token"
START = 1_714_521_600  # 2024-05-01T00:00:00Z


def test_the_entry_point_brings_the_connector_into_the_registry() -> None:
    names = {e.name: e.value for e in entry_points(group=ENTRY_POINT_GROUP)}
    assert names["calendar"] == "sluice_calendar:CONNECTOR"
    assert find_connector(SPEC_ID) is CONNECTOR
    assert [s.name for s in all_specs()][-1] == "Calendar (example)"


def calendar_connection(token: str = TOKEN) -> dict[str, Any]:
    return {
        "name": "calendar",
        "auth": {"specName": "Token Authentication",
                 "params": {"token": token, "startDate": "2024-05-01"}},
        "connectionSpec": {"id": SPEC_ID, "version": "1.0"},
    }


def test_the_connector_works_through_the_api(caller: Caller) -> None:
    specs = caller.get(f"{FS}/connectionSpecs").json()["items"]
    wire = next(s for s in specs if s["id"] == SPEC_ID)
    assert wire["name"] == "Calendar (example)" and wire["attributes"]["isSource"] is True
    good = created_id(caller.post(f"{FS}/connections", json=calendar_connection()))
    assert caller.get(f"{FS}/connections/{good}/test").json() == {"result": True}
    shown = caller.get(f"{FS}/connections/{good}").json()["items"][0]
    assert TOKEN not in str(shown)
    refused = created_id(caller.post(f"{FS}/connections", json=calendar_connection("nope-1234")))
    result = caller.get(f"{FS}/connections/{refused}/test").json()
    assert result["result"] is False and "nope-1234" not in result["message"]
    root = caller.get(f"{FS}/connections/{good}/explore", params={"objectType": "root"})
    assert [item["name"] for item in root.json()] == ["days", "hours"]
    preview = caller.get(f"{FS}/connections/{good}/explore", params={
        "objectType": "table", "object": "hours", "preview": "true", "previewRows": "3"})
    assert preview.status_code == 200, preview.text
    body = preview.json()
    assert body["schema"]["columns"] == [
        {"name": "at", "type": "timestamp"}, {"name": "day", "type": "date"},
        {"name": "hour", "type": "byte"}]
    assert [row["hour"] for row in body["data"]] == [0, 1, 2]


# -- the kit fails connectors that break the contract -------------------------------------------


class LeakyCalendar(CalendarConnector):
    """Repeats the token it refuses."""

    def test(self, context: ConnectorContext, auth: Mapping[str, Any]) -> None:
        if auth.get("token") != TOKEN:
            raise ConnectionTestFailed(f"The token {auth.get('token')} was refused.")


class ClosedWindowCalendar(CalendarConnector):
    """Reads a window's end too: `[start, end]`."""

    def read(self, context: ConnectorContext, auth: Mapping[str, Any],
             source: Mapping[str, Any], request: ReadRequest) -> SourceRead:
        if request.window is not None:
            window = Window(request.window.start, request.window.end + 1)
            request = ReadRequest(window=window, delta_column=request.delta_column)
        return super().read(context, auth, source, request)


def kit_case(connector: CalendarConnector, tmp_path: Path) -> ContractCase:
    from datetime import UTC, datetime

    at = lambda epoch: datetime.fromtimestamp(epoch, UTC)  # noqa: E731
    hours = {"params": {"tableName": "hours"}}
    return ContractCase(
        connector=connector,
        context=ConnectorContext((tmp_path,), tmp_path / "lake", "sqlite:///unused.db"),
        auth={"token": TOKEN, "startDate": "2024-05-01"},
        refused_auth={"token": "Wrong-Token-Value", "startDate": "2024-05-01"},
        windows=WindowCase(hours, Window(START, START + 3600), "at", frozenset({at(START)}),
                           frozenset({at(START + 3600)}), "at"),
        secrets=(TOKEN, "Wrong-Token-Value"),
    )


def test_the_kit_fails_a_connector_that_leaks_a_secret(tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match="a secret leaked"):
        check_connection_test(kit_case(LeakyCalendar(), tmp_path))


def test_the_kit_fails_a_window_closed_at_its_end(tmp_path: Path) -> None:
    check_half_open_window(kit_case(CalendarConnector(), tmp_path))
    with pytest.raises(AssertionError, match="outside the half-open window"):
        check_half_open_window(kit_case(ClosedWindowCalendar(), tmp_path))

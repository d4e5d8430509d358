"""The run page's log panel: the worker's entries after a run, refreshed on its own endpoint."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from ui_support import BASE, login, orders_flow, start_api_run

from sluice.config import Settings
from support.api_runs import make_worker, run_all
from support.callers import Caller


def test_run_page_shows_the_log_and_its_live_endpoint_refreshes_it(
    app_client: TestClient, caller: Caller, settings: Settings
) -> None:
    built = orders_flow(caller, settings)
    run_id = start_api_run(caller, built.flow_id, BASE, BASE + timedelta(hours=10))
    login(app_client, caller)

    waiting = app_client.get(f"/ui/runs/{run_id}")
    assert waiting.status_code == 200
    assert f'data-live="/ui/live/runs/{run_id}/log"' in waiting.text
    assert "Nothing logged yet" in waiting.text

    assert run_all(make_worker(settings)) == 1
    live = app_client.get(f"/ui/live/runs/{run_id}/log")
    assert live.status_code == 200 and live.headers["cache-control"] == "no-store"
    body = live.json()
    assert body["entries"] >= 7
    assert "Committed Delta version 0: 10 rows" in body["html"]
    assert "Run succeeded: 10 records read" in body["html"]

    page = app_client.get(f"/ui/runs/{run_id}").text
    panel = page.split('class="run-log"', 1)[1]
    stages = [s.split("</td>", 1)[0] for s in panel.split("<td>")[1:] if "</td>" in s]
    assert "plan" in stages and "commit" in stages and "end" in stages
    assert "2024-05-01T00:00:00Z" in panel  # the window in the plan entry, in UTC

    missing = "/ui/live/runs/00000000-0000-0000-0000-000000000000/log"
    assert app_client.get(missing).status_code == 404

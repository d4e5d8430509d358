"""The backfill pages over the in-process app: a refused action shows its code and changes
nothing, forms need the CSRF token, names are escaped, and another tenant's backfill is not
found, page, live data and actions alike."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from ui_support import BASE, FS, login, orders_flow, post_form

from sluice.config import Settings
from support.callers import Caller

XSS = "<script>alert(1)</script>"


def _backfill(caller: Caller, flow_id: str) -> str:
    response = caller.post(
        f"{FS}/backfills",
        json={
            "flowId": flow_id,
            "windowStartTime": int(BASE.timestamp()),
            "windowEndTime": int((BASE + timedelta(days=2)).timestamp()),
            "chunk": {"unit": "day"},
            "deltaColumn": {"name": "updated_at"},
        },
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _status(caller: Caller, backfill_id: str) -> str:
    return str(caller.get(f"{FS}/backfills/{backfill_id}").json()["items"][0]["status"])


def test_actions_change_the_status_and_a_refused_one_shows_its_code(
    app_client: TestClient, caller: Caller, settings: Settings
) -> None:
    built = orders_flow(caller, settings, name=XSS)
    backfill_id = _backfill(caller, built.flow_id)
    csrf = login(app_client, caller)
    listing = app_client.get("/ui/backfills")
    assert listing.status_code == 200
    assert f'href="/ui/backfills/{backfill_id}"' in listing.text
    assert XSS not in listing.text and "&lt;script&gt;" in listing.text
    page = app_client.get(f"/ui/backfills/{backfill_id}")
    assert page.status_code == 200 and 'id="chunk-1"' in page.text
    assert "Pause</button>" in page.text and "Resume</button>" not in page.text

    assert post_form(app_client, f"/ui/backfills/{backfill_id}/pause", None).status_code == 403
    assert _status(caller, backfill_id) == "running"
    paused = post_form(app_client, f"/ui/backfills/{backfill_id}/pause", csrf)
    assert paused.status_code == 303
    assert paused.headers["location"] == f"/ui/backfills/{backfill_id}?notice=backfill-pause"
    assert _status(caller, backfill_id) == "paused"
    refused = post_form(app_client, f"/ui/backfills/{backfill_id}/retry", csrf)
    assert refused.status_code == 409
    assert "FLOW-2304-409" in refused.text
    assert _status(caller, backfill_id) == "paused"
    live = app_client.get(f"/ui/live/backfills/{backfill_id}").json()
    assert live["status"] == "paused" and "Resume</button>" in live["html"]
    assert post_form(app_client, f"/ui/backfills/{backfill_id}/frobnicate", csrf).status_code == 404


def test_another_tenants_backfill_is_not_found(
    app_client: TestClient, caller: Caller, other_caller: Caller, settings: Settings
) -> None:
    theirs = orders_flow(other_caller, settings, name="their flow")
    backfill_id = _backfill(other_caller, theirs.flow_id)
    csrf = login(app_client, caller)
    for path in (f"/ui/backfills/{backfill_id}", f"/ui/live/backfills/{backfill_id}"):
        assert app_client.get(path).status_code == 404, path
    assert backfill_id not in app_client.get("/ui/backfills").text
    for action in ("pause", "cancel"):
        response = post_form(app_client, f"/ui/backfills/{backfill_id}/{action}", csrf)
        assert response.status_code == 404
    assert _status(other_caller, backfill_id) == "running"

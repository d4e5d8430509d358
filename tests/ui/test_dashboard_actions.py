"""Dashboard actions go through the API's service functions: same rules, same coded errors,
shown as messages; and every one of them needs the session's CSRF token and our origin."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from ui_support import (
    BASE,
    FS,
    ORIGIN,
    failed_run,
    login,
    orders_flow,
    post_form,
    rename_orders_table,
    run_status,
    start_api_run,
    utc_input,
)

from sluice.config import Settings
from support.api_runs import make_worker, run_all
from support.callers import Caller


def flow_runs(caller: Caller, flow_id: str) -> list[dict[str, object]]:
    items = caller.get(f"{FS}/runs?property=flowId=={flow_id}").json()["items"]
    return list(items)


def flow_item(caller: Caller, flow_id: str) -> dict[str, object]:
    return dict(caller.get(f"{FS}/flows/{flow_id}").json()["items"][0])


def test_run_now_creates_a_run_over_the_window_and_sets_the_delta_column(
    app_client: TestClient, caller: Caller, settings: Settings
) -> None:
    built = orders_flow(caller, settings)
    csrf = login(app_client, caller)
    page = app_client.get(f"/ui/flows/{built.flow_id}").text
    assert 'name="delta_column"' in page  # the flow has none yet
    response = post_form(app_client, f"/ui/flows/{built.flow_id}/runs", csrf,
                         window_start=utc_input(BASE),
                         window_end=utc_input(BASE + timedelta(hours=6)),
                         delta_column="updated_at")
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith(f"/ui/flows/{built.flow_id}?notice=run-started&run=")
    [run] = flow_runs(caller, built.flow_id)
    assert run["params"] == {"windowStartTime": int(BASE.timestamp()),
                             "windowEndTime": int((BASE + timedelta(hours=6)).timestamp()),
                             "deltaColumn": {"name": "updated_at"}}
    assert str(run["id"]) in location
    shown = app_client.get(location).text
    assert "Run created" in shown and f'id="run-{run["id"]}" data-run-id' in shown
    assert 'class="highlight"' in shown
    assert 'name="delta_column"' not in shown  # now held by the flow's Copy transformation
    run_all(make_worker(settings))
    assert run_status(caller, str(run["id"])) == "success"
    # Later runs omit the column and keep the flow's.
    again = post_form(app_client, f"/ui/flows/{built.flow_id}/runs", csrf,
                      window_start=utc_input(BASE + timedelta(hours=6)),
                      window_end=utc_input(BASE + timedelta(hours=12)))
    assert again.status_code == 303
    assert len(flow_runs(caller, built.flow_id)) == 2


def test_run_now_may_start_later(
    app_client: TestClient, caller: Caller, settings: Settings
) -> None:
    built = orders_flow(caller, settings)
    csrf = login(app_client, caller)
    later = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    response = post_form(app_client, f"/ui/flows/{built.flow_id}/runs", csrf,
                         window_start=utc_input(BASE),
                         window_end=utc_input(BASE + timedelta(hours=1)),
                         delta_column="updated_at",
                         start_at=later.strftime("%Y-%m-%dT%H:%M:%S"))
    assert response.status_code == 303
    [run] = flow_runs(caller, built.flow_id)
    assert run["params"]["startTime"] == int(later.timestamp())  # type: ignore[index]
    assert run_all(make_worker(settings)) == 0  # not due yet
    assert run_status(caller, str(run["id"])) == "scheduled"


def test_run_now_shows_the_services_coded_errors_and_creates_nothing(
    app_client: TestClient, caller: Caller, settings: Settings
) -> None:
    built = orders_flow(caller, settings)
    csrf = login(app_client, caller)
    path = f"/ui/flows/{built.flow_id}/runs"
    cases = [
        ({"window_start": utc_input(BASE + timedelta(hours=2)), "window_end": utc_input(BASE),
          "delta_column": "updated_at"}, "FLOW-1381-400", "cannot be before"),
        ({"window_start": utc_input(BASE), "window_end": utc_input(BASE + timedelta(hours=2))},
         "FLOW-1383-400", "delta column is missing"),
        ({"window_start": "", "window_end": utc_input(BASE), "delta_column": "updated_at"},
         "FLOW-1384-400", "windowStartTime"),
        ({"window_start": utc_input(BASE), "window_end": utc_input(BASE + timedelta(hours=2)),
          "delta_column": "no_such_column"}, "-400<", "no_such_column"),
    ]
    for fields, code, words in cases:
        response = post_form(app_client, path, csrf, **fields)
        assert response.status_code == 400, fields
        assert code in response.text and words in response.text
        assert 'role="alert"' in response.text
        # What was typed stays in the form.
        if fields["window_start"]:
            assert f'value="{fields["window_start"]}"' in response.text
    assert flow_runs(caller, built.flow_id) == []
    assert flow_item(caller, built.flow_id)["transformations"] == []


def test_disable_and_enable_a_flow_and_runs_of_a_disabled_flow_are_refused(
    app_client: TestClient, caller: Caller, settings: Settings
) -> None:
    built = orders_flow(caller, settings)
    csrf = login(app_client, caller)
    state_path = f"/ui/flows/{built.flow_id}/state"
    disabled = post_form(app_client, state_path, csrf, op="disable")
    assert disabled.status_code == 303 and "notice=flow-disabled" in disabled.headers["location"]
    assert flow_item(caller, built.flow_id)["state"] == "disabled"
    refused = post_form(app_client, f"/ui/flows/{built.flow_id}/runs", csrf,
                        window_start=utc_input(BASE),
                        window_end=utc_input(BASE + timedelta(hours=1)),
                        delta_column="updated_at")
    assert refused.status_code == 400 and "FLOW-1444-400" in refused.text
    assert post_form(app_client, state_path, csrf, op="publish").status_code == 400
    enabled = post_form(app_client, state_path, csrf, op="enable")
    assert enabled.status_code == 303
    assert flow_item(caller, built.flow_id)["state"] == "enabled"
    assert "Flow enabled." in app_client.get(enabled.headers["location"]).text


def test_cancel_a_scheduled_run_and_cancelling_an_ended_run_is_refused_with_its_code(
    app_client: TestClient, caller: Caller, settings: Settings
) -> None:
    built = orders_flow(caller, settings)
    run_id = start_api_run(caller, built.flow_id, BASE, BASE + timedelta(hours=2))
    csrf = login(app_client, caller)
    assert "Cancel run" in app_client.get(f"/ui/runs/{run_id}").text
    response = post_form(app_client, f"/ui/runs/{run_id}/cancel", csrf)
    assert response.status_code == 303
    assert run_status(caller, run_id) == "cancelled"
    page = app_client.get(response.headers["location"]).text
    assert "Cancellation requested." in page and "Cancel run" not in page
    again = post_form(app_client, f"/ui/runs/{run_id}/cancel", csrf)
    assert again.status_code == 400 and "FLOW-1387-400" in again.text


def test_retrigger_a_failed_run_creates_a_run_over_the_same_window(
    app_client: TestClient, caller: Caller, settings: Settings
) -> None:
    built = orders_flow(caller, settings)
    run_id = failed_run(caller, settings, built, BASE + timedelta(hours=4))
    assert run_status(caller, run_id) == "failed"
    csrf = login(app_client, caller)
    response = post_form(app_client, f"/ui/runs/{run_id}/retrigger", csrf)
    assert response.status_code == 303
    new_id = response.headers["location"].split("/ui/runs/", 1)[1].split("?", 1)[0]
    assert new_id != run_id
    page = app_client.get(response.headers["location"]).text
    assert "A new run was created over the same window." in page
    assert f'href="/ui/runs/{run_id}"' in page  # "retrigger of" the original
    rename_orders_table(built, "hidden", "orders")
    run_all(make_worker(settings))
    assert run_status(caller, new_id) == "success"
    # A successful run that ingested rows cannot be re-triggered: the service's code shows.
    refused = post_form(app_client, f"/ui/runs/{new_id}/retrigger", csrf)
    assert refused.status_code == 400 and "FLOW-1387-400" in refused.text


def test_actions_refuse_a_missing_or_wrong_csrf_token_and_change_nothing(
    app_client: TestClient, caller: Caller, settings: Settings
) -> None:
    built = orders_flow(caller, settings)
    run_id = start_api_run(caller, built.flow_id, BASE, BASE + timedelta(hours=2))
    csrf = login(app_client, caller)
    window = {"window_start": utc_input(BASE), "window_end": utc_input(BASE + timedelta(hours=1))}
    for token in (None, "", "0" * 64, csrf[:-1] + ("0" if csrf[-1] != "0" else "1")):
        for path, fields in ((f"/ui/flows/{built.flow_id}/state", {"op": "disable"}),
                             (f"/ui/flows/{built.flow_id}/runs", window),
                             (f"/ui/runs/{run_id}/cancel", {}),
                             ("/ui/sandbox", {"sandbox": "prod"})):
            response = post_form(app_client, path, token, **fields)
            assert response.status_code == 403, (path, token)
            assert "security token" in response.text
    assert flow_item(caller, built.flow_id)["state"] == "enabled"
    assert run_status(caller, run_id) == "scheduled"
    assert len(flow_runs(caller, built.flow_id)) == 1


def test_actions_refuse_a_foreign_origin_even_with_the_right_token(
    app_client: TestClient, caller: Caller, settings: Settings
) -> None:
    built = orders_flow(caller, settings)
    csrf = login(app_client, caller)
    path = f"/ui/flows/{built.flow_id}/state"
    for headers in ({"Origin": "https://evil.example"}, {"Origin": "null"},
                    {"Referer": "https://evil.example/page"}, {}):
        response = app_client.post(path, data={"op": "disable", "csrf_token": csrf},
                                   headers=headers, follow_redirects=False)
        assert response.status_code == 403, headers
        assert "origin" in response.text
    assert flow_item(caller, built.flow_id)["state"] == "enabled"
    # A same-origin Referer (a browser that sends no Origin) is accepted.
    ok = app_client.post(path, data={"op": "disable", "csrf_token": csrf},
                         headers={"Referer": f"{ORIGIN}/ui/flows/{built.flow_id}"},
                         follow_redirects=False)
    assert ok.status_code == 303
    assert flow_item(caller, built.flow_id)["state"] == "disabled"

"""Authoring in a real headless Chromium against a real `sluice serve` (no demo): a PostgreSQL
table and a folder of files become flows without a line of JSON.

One server and one browser for the module; the tests run in order and build on each other
(connection -> explore -> wizard -> edit -> run -> dataset). Takes the authoring screenshots
of docs/dashboard.md (docs/images/*.png).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from browser_support import CHROMIUM, CHROMIUM_ARGS, VIEWPORT, WAIT_MS, require_browser, shot

from e2e.processes import PG_ADMIN_DSN, Processes, ServerProcess, sluice_env, unique_name

pytestmark = pytest.mark.e2e

ORDERS = 48  # one an hour from 2024-05-01 00:00 UTC
EVENTS_CSV = "event_id,kind\n1,click\n2,view\n"
BROWSER_ZONE = "Europe/Paris"  # not UTC, so local times read differently
GATE = 4242  # the advisory lock key that holds reads of `orders`


@dataclass
class Setup:
    server: ServerProcess
    credentials: dict[str, str]
    database: str
    files: Path


def _pg(database: str, sql: str) -> None:
    dsn = PG_ADMIN_DSN.replace("dbname=postgres", f"dbname={database}")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    workdir = tmp_path_factory.mktemp("authoring")
    database = unique_name("shop")
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    _pg(database, "CREATE TABLE orders_data (id bigint PRIMARY KEY, customer text, "
                  "amount numeric(10,2), updated_at timestamptz)")
    _pg(database, f"INSERT INTO orders_data SELECT i, 'c' || (i % 5), i + 0.25, "
                  f"timestamptz '2024-05-01 00:00+00' + i * interval '1 hour' "
                  f"FROM generate_series(0, {ORDERS - 1}) AS i")
    _pg(database, "ANALYZE orders_data")
    # `orders` reads through a gate: while the test holds the advisory lock, a read waits
    # on its first row (a planner's EXPLAIN does not call the gate).
    _pg(database, f"CREATE FUNCTION gate() RETURNS boolean VOLATILE LANGUAGE plpgsql AS $$ "
                  f"BEGIN PERFORM pg_advisory_lock_shared({GATE}); "
                  f"PERFORM pg_advisory_unlock_shared({GATE}); RETURN true; END $$")
    _pg(database, "CREATE VIEW orders AS SELECT * FROM orders_data WHERE gate()")
    files = workdir / "files"
    (files / "events" / "2024").mkdir(parents=True)
    (files / "events" / "a.csv").write_text(EVENTS_CSV)
    try:
        with Processes(workdir) as processes:
            env = sluice_env(workdir / "data", local_file_roots=str(files),
                             scheduler_interval_seconds="1")
            server = processes.serve(env, "--no-demo", "--workers", "1")
            credentials = json.loads((workdir / "data" / "credentials.json").read_text())
            yield Setup(server, credentials, database, files)
    finally:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@pytest.fixture(scope="module")
def page(setup: Setup) -> Iterator[Any]:
    sync_api = require_browser()
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1,
                                          timezone_id=BROWSER_ZONE)
            opened = context.new_page()
            opened.set_default_timeout(WAIT_MS)
            errors: list[str] = []
            opened.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            opened.on("dialog", lambda dialog: dialog.accept())  # the "Delete?" confirmations
            opened.goto(f"{setup.server.url}/ui/login")
            opened.fill("#client_id", setup.credentials["clientId"])
            opened.fill("#client_secret", setup.credentials["clientSecret"])
            opened.click("button[type=submit]")
            opened.wait_for_url("**/ui/flows")
            yield opened
            # 4xx answers (the coded errors the tests provoke) are logged as resource errors.
            assert [e for e in errors if "status of 4" not in e] == [], errors
        finally:
            browser.close()


def alert(page: Any) -> str:
    return str(page.inner_text("[role=alert]"))


def test_a_postgresql_connection_fails_its_test_is_fixed_by_an_edit_and_passes(
    setup: Setup, page: Any
) -> None:
    page.get_by_role("link", name="Connections").click()
    page.get_by_role("link", name="New connection").click()
    page.select_option("select[name=spec]", label="PostgreSQL")
    page.wait_for_url("**spec=*")
    page.select_option("select[name=auth]", "Basic Authentication")
    page.wait_for_url("**auth=*")
    # Fields from the spec's JSON Schema: the secret is a password input.
    assert page.get_attribute("input[name='param.password']", "type") == "password"
    assert page.input_value("input[name='param.port']") == "5432"  # the schema's default
    page.fill("input[name=name]", "Shop database")
    page.fill("input[name='param.host']", "127.0.0.1")
    page.fill("input[name='param.database']", "no_such_database")
    page.fill("input[name='param.username']", "postgres")
    page.fill("input[name='param.password']", "pg-secret-9f3a")
    shot(page, "connection-new")
    page.click("#connection-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/ui/connections/[0-9a-f-]+\?notice=connection-created"))
    assert "pg-secret-9f3a" not in page.content()
    assert "********" in page.inner_text("table.auth-params")
    page.get_by_role("button", name="Test").click()
    page.locator(".test-failed").wait_for()
    assert re.search(r"CONNECTOR-\d+-\d+", alert(page)), alert(page)
    # Edit: the database fixed, the secret left empty (kept as stored).
    page.get_by_role("link", name="Edit").click()
    assert page.input_value("input[name='param.password']") == ""
    page.fill("input[name='param.database']", setup.database)
    page.click("#connection-form button[type=submit]")
    page.wait_for_url("**notice=connection-updated")
    page.get_by_role("button", name="Test").click()
    page.locator(".test-ok").wait_for()
    shot(page, "connection")


def test_explore_the_table_preview_it_and_create_a_flow_with_the_wizard(
    setup: Setup, page: Any
) -> None:
    page.get_by_role("link", name="Explore", exact=True).click()
    page.get_by_role("link", name="public", exact=True).click()
    page.get_by_role("link", name="orders", exact=True).click()
    page.locator("table.preview").wait_for()
    headers = page.inner_text("table.preview thead")
    assert "updated_at" in headers and "timestamp" in headers and "decimal(10,2)" in headers
    assert page.locator("table.preview tbody tr").count() == 20
    shot(page, "explore")
    page.click("#start-flow")
    page.wait_for_url("**/ui/flows/new?**")
    assert page.input_value("input[name=table]") == "public.orders"
    # The inferred schema, and the delta column picked from the reflected columns.
    assert "decimal(10,2)" in page.inner_text("table.inferred-schema")
    page.select_option("select[name=delta_column]", "updated_at")
    page.select_option("select[name=frequency]", "day")
    page.fill("input[name=interval]", "1")
    page.check("input[name=backfill]")
    page.fill("input[name=name]", "Shop orders")
    page.locator("#step-options").scroll_into_view_if_needed()
    shot(page, "wizard")
    page.click("button[value=review]")
    page.locator("table.ticks").wait_for()
    # Five ticks, each in UTC and in the browser's zone (Paris is never UTC).
    utc_times = page.locator("table.ticks tbody td:nth-child(1)").all_inner_texts()
    local_times = page.locator("time.localized").all_inner_texts()
    assert len(utc_times) == len(local_times) == 5
    assert all(u.endswith("UTC") for u in utc_times)
    assert all(re.search(r"GMT\+[12]|CES?T", t) for t in local_times), local_times
    bodies = page.locator(".request pre").all_inner_texts()
    flow_body = json.loads(bodies[-1])
    assert flow_body["transformations"][0]["params"]["deltaColumn"] == {"name": "updated_at"}
    assert flow_body["scheduleParams"]["frequency"] == "day"
    shot(page, "wizard-review")
    page.click("button[value=create]")
    page.wait_for_url("**notice=flow-created")
    assert "Shop orders" in page.inner_text("h1")
    # Names, not ids: the connection it reads and the dataset the wizard created.
    assert page.get_by_role("link", name="orders", exact=True).count() == 1
    assert "Shop database public.orders" in page.inner_text("dl.facts")


def test_edit_the_flow_and_a_lost_update_shows_412_and_reloads(setup: Setup, page: Any) -> None:
    flow_url = page.url.split("?", 1)[0]
    other = page.context.new_page()
    other.goto(f"{flow_url}/edit")
    page.goto(f"{flow_url}/edit")
    page.select_option("select[name=write_mode]", "append")
    page.fill("input[name=partial_percent]", "5")
    page.check("input[name=error_diagnostics]")
    page.click("#flow-edit button[type=submit]")
    page.wait_for_url("**notice=flow-updated")
    # The other tab still holds the old version.
    other.select_option("select[name=write_mode]", "merge")
    other.fill("input[name=primary_key]", "id")
    other.click("#flow-edit button[type=submit]")
    other.locator("[role=alert]").wait_for()
    assert "-412" in alert(other)
    assert other.input_value("select[name=write_mode]") == "append"  # reloaded
    shot(other, "flow-edit")
    other.close()


def test_a_run_shows_live_progress_then_its_final_state_without_a_reload(
    setup: Setup, page: Any
) -> None:
    flow_url = page.url.split("?", 1)[0]
    page.goto(flow_url)
    # Date inputs are plain UTC text, never a locale's AM/PM.
    assert page.get_attribute("input[name=window_start]", "type") == "text"
    typed = page.input_value("input[name=window_start]")
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", typed), typed
    page.fill("input[name=window_start]", "2024-05-01 00:00")
    page.fill("input[name=window_end]", "2024-05-03 00:00")
    dsn = PG_ADMIN_DSN.replace("dbname=postgres", f"dbname={setup.database}")
    # The gate closed: the run starts, then waits on its read, in progress.
    with psycopg.connect(dsn, autocommit=True) as lock:
        lock.execute(f"SELECT pg_advisory_lock({GATE})")
        page.click("#run-form button[type=submit]")
        page.wait_for_url("**notice=run-started**")
        run_id = page.url.split("run=", 1)[1].split("&", 1)[0]
        page.goto(f"{setup.server.url}/ui/runs/{run_id}")
        page.locator("#run-progress").wait_for()
        # Before the first batch (ADBC waits for it to open the read): no total known yet.
        panel = page.inner_text("#run-progress")
        assert "Rows/s" in panel and "Elapsed" in panel and "no total yet" in panel, panel
        page.evaluate("window.__sluiceMark = 'kept'")
        shot(page, "run-progress")
        lock.execute(f"SELECT pg_advisory_unlock({GATE})")
    page.locator(".run-status [data-status='success']").wait_for()
    assert page.evaluate("window.__sluiceMark") == "kept", "the page was reloaded"
    assert page.locator("#run-progress").count() == 0
    assert page.inner_text(".metrics tbody tr:first-child td:nth-child(3)") == str(ORDERS)


def test_the_dataset_shows_its_history_by_run_and_flow_and_its_writers(
    setup: Setup, page: Any
) -> None:
    page.locator(".delta-version a").click()
    page.locator("table.history").wait_for()
    first = page.locator("table.history tbody tr").first.inner_text()
    assert "Shop orders" in first and str(ORDERS) in first
    assert page.get_by_role("link", name="Shop orders").count() >= 2  # writers and history
    assert "storage order" in page.inner_text("h2:has-text('Preview')")
    page.locator("table.history").scroll_into_view_if_needed()
    shot(page, "dataset-history")


def test_a_folder_of_files_is_browsed_with_sizes_and_times_and_connections_delete(
    setup: Setup, page: Any
) -> None:
    page.goto(f"{setup.server.url}/ui/connections/new")
    page.select_option("select[name=spec]", label="Local Files")
    page.wait_for_url("**spec=*")
    page.fill("input[name=name]", "Event files")
    page.fill("input[name='param.rootPath']", str(setup.files / "events"))
    page.click("#connection-form button[type=submit]")
    page.wait_for_url("**notice=connection-created")
    detail_url = page.url.split("?", 1)[0]
    page.get_by_role("link", name="Explore", exact=True).click()
    row = page.locator("table.explore tr", has_text="a.csv").inner_text()
    assert "file" in row and f"{len(EVENTS_CSV)} B" in row
    assert re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", row), row  # modified, UTC
    assert "folder" in page.locator("table.explore tr", has_text="2024").inner_text()
    page.get_by_role("link", name="a.csv").first.click()
    assert "click" in page.inner_text("table.preview")
    page.click("#start-flow")
    assert page.input_value("input[name=path]") == "a.csv"
    assert "event_id" in page.inner_text("table.inferred-schema")
    # Not in use: deleted. The PostgreSQL one is read by a flow: the in-use error shows.
    page.goto(detail_url)
    page.get_by_role("button", name="Delete").click()
    page.wait_for_url("**notice=connection-deleted")
    assert "Event files" not in page.inner_text("main")
    page.get_by_role("link", name="Shop database").click()
    page.get_by_role("button", name="Delete").click()
    page.locator("[role=alert]").wait_for()
    assert "FLOW-1418-400" in alert(page) and "Shop orders" in page.inner_text("main")

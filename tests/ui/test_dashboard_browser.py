"""The dashboard in a real headless Chromium against the real `sluice serve` process.

Logs in with the credentials file, opens the demo orders flow, starts an on-demand run over a
window from the form, watches it reach success without reloading (the page polls), opens its
detail. Takes the screenshots of docs/dashboard.md on the way (docs/images/*.png).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from browser_support import CHROMIUM, CHROMIUM_ARGS, VIEWPORT, WAIT_MS, require_browser, shot

from support.net import free_port
from support.servers import stop

pytestmark = pytest.mark.e2e

ORDERS_FLOW = "Demo orders (SQLite)"
START_DELAY_SECONDS = 5


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    data_dir: Path
    log_path: Path

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_")}
    env.update(SLUICE_DATA_DIR=str(tmp_path / "data"), SLUICE_SCHEDULER_INTERVAL_SECONDS="1")
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "sluice.cli.main", "serve", "--port", str(port),
             "--workers", "1"],
            cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL)
    running = Server(process, f"http://127.0.0.1:{port}", tmp_path / "data", log_path)
    try:
        yield running
    finally:
        stop(process, timeout=20)


def wait_for_demo(server: Server, timeout: float = 90.0) -> dict[str, str]:
    """The credentials, once the server answers and the demo flows exist."""
    deadline = time.monotonic() + timeout
    credentials = server.data_dir / "credentials.json"
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"sluice serve exited:\n{server.output()}")
        if credentials.exists() and "Sluice is running" in server.output():
            creds: dict[str, str] = json.loads(credentials.read_text())
            return creds
        time.sleep(0.3)
    pytest.fail(f"the server did not finish starting:\n{server.output()}")


def utc_input(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


def test_log_in_run_a_window_watch_it_succeed_and_open_its_detail(server: Server) -> None:
    sync_api = require_browser()
    creds = wait_for_demo(server)
    assert httpx.get(f"{server.url}/ui/login").status_code == 200
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1)
            page = context.new_page()
            page.set_default_timeout(WAIT_MS)
            console_errors: list[str] = []
            page.on("console", lambda m: console_errors.append(m.text)
                    if m.type == "error" else None)

            # Login with the API client's credentials.
            page.goto(f"{server.url}/ui/flows")
            assert "/ui/login" in page.url
            page.fill("#client_id", creds["clientId"])
            page.fill("#client_secret", creds["clientSecret"])
            shot(page, "login")
            page.click("button[type=submit]")
            page.wait_for_url(f"{server.url}/ui/flows")

            # The demo's full loads run by themselves; the flows list shows them finish.
            page.get_by_role("link", name=ORDERS_FLOW).wait_for()
            page.locator("[data-live] td [data-status='success']").nth(1).wait_for()
            shot(page, "flows")

            # On demand: the last three days of orders, giving the delta column.
            page.get_by_role("link", name=ORDERS_FLOW).click()
            page.wait_for_selector("#run-form")
            now = datetime.now(UTC)
            page.fill("input[name=window_start]", utc_input(now - timedelta(days=3)))
            page.fill("input[name=window_end]", utc_input(now + timedelta(minutes=1)))
            page.fill("input[name=delta_column]", "updated_at")
            # A start a few seconds ahead: the page shows the run scheduled first, so what
            # follows is seen through the page's polling, not at load.
            start = datetime.now(UTC) + timedelta(seconds=START_DELAY_SECONDS)
            page.fill("input[name=start_at]", start.strftime("%Y-%m-%dT%H:%M:%S"))
            page.click("#run-form button[type=submit]")
            page.wait_for_url("**notice=run-started**")
            run_id = page.url.split("run=", 1)[1].split("&", 1)[0]
            # Mark this document: a reload or navigation would lose the mark.
            page.evaluate("window.__sluiceMark = 'kept'")
            row = page.locator(f"#run-{run_id}")
            assert row.locator("[data-status]").get_attribute("data-status") == "scheduled"
            row.locator("[data-status='success']").wait_for()
            assert page.evaluate("window.__sluiceMark") == "kept", "the page was reloaded"
            assert "Run created" in page.inner_text(".notice")
            records_out = row.locator("td.num").nth(1).inner_text()
            assert int(records_out.replace(",", "")) > 0
            page.locator("figure.chart svg rect.bar-success").nth(1).wait_for()

            # Two earlier windows; the flow now holds the delta column, so the form has none.
            assert page.locator("input[name=delta_column]").count() == 0
            for days in (6, 9):
                page.fill("input[name=window_start]", utc_input(now - timedelta(days=days)))
                page.fill("input[name=window_end]", utc_input(now - timedelta(days=days - 3)))
                page.click("#run-form button[type=submit]")
                page.wait_for_load_state()
            page.locator("figure.chart svg rect.bar-success").nth(3).wait_for()
            page.evaluate("document.getElementById('runs').scrollIntoView()")
            shot(page, "runs")

            # The watched run's detail: activities and the Delta version it wrote.
            page.locator(f"#run-{run_id} a").first.click()
            page.wait_for_url(f"**/ui/runs/{run_id}")
            page.get_by_text("Delta Promotion Activity").wait_for()
            assert page.inner_text(".run-status").strip().startswith("success")
            version = page.inner_text(".delta-version")
            assert version.split()[0].isdigit(), version
            shot(page, "run-detail")

            # Its dataset: schema, row count, preview.
            page.locator(".delta-version a").click()
            page.get_by_role("heading", name="Preview").wait_for()
            assert "updated_at" in page.inner_text("table.preview thead")
            shot(page, "dataset")

            # The workers page, from the nav: the server's one local worker (`--workers 1`).
            page.get_by_role("link", name="Workers").click()
            page.wait_for_url(f"{server.url}/ui/workers")
            page.locator("tr[data-worker]").first.wait_for()
            assert page.locator("tr[data-worker]").count() == 1
            assert "local" in page.inner_text("table.workers tbody")
            assert console_errors == [], console_errors
        finally:
            browser.close()


def test_after_logging_out_in_the_browser_the_old_cookie_opens_nothing(server: Server) -> None:
    sync_api = require_browser()
    creds = wait_for_demo(server)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport=VIEWPORT)
            page = context.new_page()
            page.set_default_timeout(WAIT_MS)
            page.goto(f"{server.url}/ui/login")
            page.fill("#client_id", creds["clientId"])
            page.fill("#client_secret", creds["clientSecret"])
            page.click("button[type=submit]")
            page.wait_for_url(f"{server.url}/ui/flows")
            cookie = next(c for c in context.cookies() if c["name"] == "sluice_session")
            jar = {"sluice_session": cookie["value"]}
            before = httpx.get(f"{server.url}/ui/flows", cookies=jar, follow_redirects=False)
            assert before.status_code == 200
            page.get_by_role("button", name="Log out").click()
            page.wait_for_url(f"{server.url}/ui/login")
        finally:
            browser.close()
    # The cookie as an attacker who copied it would replay it: the server ended the session.
    after = httpx.get(f"{server.url}/ui/flows", cookies=jar, follow_redirects=False)
    assert after.status_code == 303
    assert after.headers["location"].startswith("/ui/login")

"""The backfill pages in a real headless Chromium against the real `sluice serve` (scheduler
and a worker): the list, a backfill's progress as its chunks run (seen through the page's
polling, without a reload), its chunks with their runs, and the pause, resume and cancel
buttons. Takes the screenshots of docs/dashboard.md (docs/images/backfill*.png).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from browser_support import CHROMIUM, CHROMIUM_ARGS, VIEWPORT, WAIT_MS, require_browser, shot
from test_dashboard_browser import ORDERS_FLOW, Server, server, wait_for_demo

from sluice.client import SluiceClient

pytestmark = pytest.mark.e2e
__all__ = ["server"]  # the real server fixture, shared with the dashboard's browser test


def _client(server: Server, _creds: dict[str, str]) -> SluiceClient:
    return SluiceClient.from_credentials_file(server.data_dir / "credentials.json", server.url)


def test_backfill_pages_show_progress_chunks_and_steer_it(server: Server) -> None:
    sync_api = require_browser()
    creds = wait_for_demo(server)
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    with _client(server, creds) as client:
        flow_id = str(client.flows.list(property=[f'name=="{ORDERS_FLOW}"'])[0]["id"])
        backfill = client.backfills.create(
            flow_id,
            window_start=int((today - timedelta(days=4)).timestamp()),
            window_end=int((today - timedelta(days=1)).timestamp()),
            unit="day",
            parallelism=1,
            delta_column="updated_at",
        )
        client.backfills.pause(backfill.id)  # the page resumes it, and watches it run
        time.sleep(0.2)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport=VIEWPORT).new_page()
            page.set_default_timeout(WAIT_MS)
            page.on("dialog", lambda dialog: dialog.accept())
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(f"{server.url}/ui/login")
            page.fill("#client_id", creds["clientId"])
            page.fill("#client_secret", creds["clientSecret"])
            page.click("button[type=submit]")
            page.wait_for_url(f"{server.url}/ui/flows")

            page.get_by_role("link", name="Backfills").click()
            page.wait_for_url(f"{server.url}/ui/backfills")
            row = page.locator(f"#backfill-{backfill.id}")
            assert row.locator("[data-status]").first.get_attribute("data-status") == "paused"
            assert ORDERS_FLOW in row.inner_text()
            row.get_by_role("link", name=backfill.id[:8]).click()
            page.wait_for_url(f"**/ui/backfills/{backfill.id}")
            assert page.locator("#chunks tbody tr").count() == 3
            assert page.inner_text(".backfill-status").strip() == "paused"

            page.get_by_role("button", name="Resume").click()
            page.wait_for_url("**notice=backfill-resume**")
            page.evaluate("window.__sluiceMark = 'kept'")
            # The live region follows the chunks to the end without a reload.
            page.locator(".backfill-status [data-status='success']").wait_for()
            assert page.evaluate("window.__sluiceMark") == "kept", "the page was reloaded"
            statuses = page.locator("#chunks tbody tr").evaluate_all(
                "rows => rows.map(r => r.dataset.chunkStatus)"
            )
            assert statuses == ["succeeded"] * 3
            assert "3 / 3 succeeded" in page.inner_text(".progress-counts")
            assert int(page.inner_text(".records").replace(",", "")) > 0
            assert page.get_by_role("button", name="Pause").count() == 0  # nothing to steer
            shot(page, "backfill")

            # A chunk's run opens the run's page.
            page.locator("#chunk-0 a[data-run-status='success']").click()
            page.wait_for_url("**/ui/runs/**")
            assert page.inner_text(".run-status").strip().startswith("success")

            # A second backfill, cancelled from its page.
            with _client(server, creds) as client:
                second = client.backfills.create(
                    flow_id,
                    window_start=int((today - timedelta(days=20)).timestamp()),
                    window_end=int((today - timedelta(days=10)).timestamp()),
                    unit="day",
                )
                client.backfills.pause(second.id)
            page.goto(f"{server.url}/ui/backfills")
            shot(page, "backfills")
            page.goto(f"{server.url}/ui/backfills/{second.id}")
            page.get_by_role("button", name="Cancel backfill").click()
            page.wait_for_url("**notice=backfill-cancel**")
            assert page.inner_text(".backfill-status").strip() == "cancelled"
            assert "cancelled" in page.inner_text(".notice").lower()
            assert errors == [], errors
        finally:
            browser.close()

"""Driving the system's Chromium with Playwright for the dashboard's browser tests."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
VIEWPORT = {"width": 1200, "height": 800}
WAIT_MS = 45_000


def require_browser() -> Any:
    """Playwright's sync API; skipped on a machine without it, but never in CI."""
    missing = None
    if shutil.which(CHROMIUM) is None:
        missing = f"{CHROMIUM} is not installed (apt-get install chromium)"
    try:
        from playwright import sync_api
    except ImportError:
        missing = missing or "the playwright package is not installed"
        sync_api = None
    if missing:
        if os.environ.get("CI"):
            pytest.fail(missing)
        pytest.skip(missing)
    return sync_api


def shot(page: Any, name: str) -> None:
    """A screenshot for docs/dashboard.md (docs/images/NAME.png)."""
    IMAGES.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(IMAGES / f"{name}.png"), full_page=False)

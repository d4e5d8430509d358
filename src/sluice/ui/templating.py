"""Jinja2 for the dashboard: autoescaping on every template, the formatting filters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from sluice import __version__
from sluice.services.dashboard_runs import STATUSES
from sluice.ui.deps import Viewer
from sluice.ui.formatting import FILTERS
from sluice.ui.sessions import CSRF_FIELD

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"

environment = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    # Every value is escaped, whatever the file's extension: names and messages come from users.
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.filters.update(FILTERS)
environment.globals.update(
    version=__version__, csrf_field=CSRF_FIELD, statuses=STATUSES, viewer=None
)


def render_fragment(template: str, **context: Any) -> str:
    return environment.get_template(template).render(**context)


def render_page(
    request: Request,
    template: str,
    viewer: Viewer | None,
    *,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    html = environment.get_template(template).render(
        request=request, viewer=viewer, path=request.url.path, **context
    )
    return HTMLResponse(html, status_code=status_code)

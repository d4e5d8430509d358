"""Pieces the dashboard's routes share: redirects, coded errors as messages, notices."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode

from fastapi import Depends, Query
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.status import HTTP_303_SEE_OTHER

from sluice.api.app_context import AppContext
from sluice.domain.errors import SluiceError
from sluice.domain.tenancy import Tenant
from sluice.services.dashboard_runs import DEFAULT_RUN_LIMIT, MAX_RUN_LIMIT, STATUSES, RunFilter
from sluice.services.explore import ConnectorProblem, ExploreQuery, explore
from sluice.ui.deps import PageNotFoundError
from sluice.ui.formatting import parse_input_value

Row = TypeVar("Row")


@dataclass(frozen=True)
class Problem:
    """A refused action, shown as the API would answer it: code and message."""

    code: str
    message: str


def found(row: Row | None, key: str) -> Row:
    """The row a page is about, as the viewer's tenant's repository found it; none is the
    dashboard's not-found page."""
    if row is None:
        raise PageNotFoundError(key)
    return row


def problem_of(error: SluiceError) -> Problem:
    return Problem(code=f"FLOW-{error.code}-{error.status}", message=error.message)


@dataclass(frozen=True)
class Explored:
    """What the explore service answered a page (a listing or a preview), or the refusal
    the page shows instead, with the status the page answers with."""

    result: Any = None
    problem: Problem | None = None
    status_code: int = 200


def explore_for_page(
    session: Session,
    context: AppContext,
    tenant: Tenant,
    connection_id: str,
    query: ExploreQuery,
) -> Explored:
    """Ask the explore service as `GET /connections/{id}/explore` would; the source's own
    refusal (a connector code) and Sluice's are both shown, not raised."""
    try:
        result = explore(
            session, tenant, context.secret_box, context.connector_context, connection_id, query
        )
    except ConnectorProblem as failure:
        return Explored(problem=Problem(failure.code, failure.message), status_code=failure.status)
    except SluiceError as error:
        return Explored(problem=problem_of(error), status_code=error.status)
    return Explored(result=result)


# Fixed texts only: a notice key in the URL cannot inject anything of its own.
NOTICES = {
    "run-started": "Run created: it starts at its start time, as soon as a worker is free.",
    "run-retriggered": "A new run was created over the same window.",
    "run-cancelled": "Cancellation requested.",
    "flow-enabled": "Flow enabled.",
    "flow-disabled": "Flow disabled: no new runs start until it is enabled again.",
    "backfill-pause": "Backfill paused: no new chunk runs start; running ones finish.",
    "backfill-resume": "Backfill resumed.",
    "backfill-cancel": "Backfill cancelled: scheduled chunk runs were cancelled, running ones "
    "are asked to stop.",
    "backfill-retry": "Retrying the failed chunks; succeeded chunks are kept.",
    "connection-created": "Connection created. Test it, then explore what it reaches.",
    "connection-updated": "Connection updated.",
    "connection-deleted": "Connection deleted.",
    "flow-created": "Flow created: its runs follow its schedule.",
    "flow-updated": "Flow updated.",
}


def notice_text(key: str | None) -> str | None:
    return NOTICES.get(key or "")


@dataclass(frozen=True)
class Outcome:
    """What a page shows of the action that led to it: a notice after it succeeded, or the
    coded error it was refused with (and that error's status)."""

    notice: str | None = None
    refused: SluiceError | None = None

    def page_fields(self) -> dict[str, Any]:
        return {
            "status_code": 200 if self.refused is None else self.refused.status,
            "notice": notice_text(self.notice),
            "problem": None if self.refused is None else problem_of(self.refused),
        }


def redirect(path: str, **query: str) -> RedirectResponse:
    target = f"{path}?{urlencode(query)}" if query else path
    return RedirectResponse(target, status_code=HTTP_303_SEE_OTHER)


@dataclass(frozen=True)
class RunFilterForm:
    """The runs page's filter form: what was typed, and the filter it means."""

    status: str = ""
    created_from: str = ""
    created_to: str = ""
    limit: int = DEFAULT_RUN_LIMIT

    @property
    def query(self) -> RunFilter:
        return RunFilter(
            status=self.status or None,
            created_from=parse_input_value(self.created_from),
            created_to=parse_input_value(self.created_to),
            limit=self.limit,
        )

    def as_params(self) -> dict[str, str]:
        params = {"status": self.status, "from": self.created_from, "to": self.created_to}
        if self.limit != DEFAULT_RUN_LIMIT:
            params["limit"] = str(self.limit)
        return {key: value for key, value in params.items() if value}


def run_filter_form(
    status: str | None = None,
    created_from: Annotated[str | None, Query(alias="from")] = None,
    created_to: Annotated[str | None, Query(alias="to")] = None,
    limit: int | None = None,
) -> RunFilterForm:
    """The run filters of the query string (the flow page and its live endpoint), bounded."""
    return RunFilterForm(
        status=status if status in STATUSES else "",
        created_from=(created_from or "").strip()[:32],
        created_to=(created_to or "").strip()[:32],
        limit=min(max(limit or DEFAULT_RUN_LIMIT, 1), MAX_RUN_LIMIT),
    )


RunFiltersDep = Annotated[RunFilterForm, Depends(run_filter_form)]

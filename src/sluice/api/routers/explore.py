"""`GET /connections/{id}/explore`: what a connection reaches, and previews of it."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from sluice.api.deps import ContextDep, SessionDep, TenantDep
from sluice.api.json_response import JSONResponse
from sluice.api.problems import ERROR_TYPE_PREFIX, problem_body, request_id_of
from sluice.api.routers.common import FLOW_SERVICE
from sluice.api.routers.prefixed import PrefixedRouter
from sluice.domain.errors import bad_request
from sluice.domain.numbers import ascii_whole_number
from sluice.services.explore import DEFAULT_PREVIEW_ROWS, ConnectorProblem, ExploreQuery, explore

router = PrefixedRouter(prefix=f"{FLOW_SERVICE}/connections", tags=["connections"])


# A sync route: FastAPI runs it in a worker thread, so the connector's blocking I/O never
# holds up the event loop.
@router.get("/{connection_id}/explore", response_model=None)
def explore_connection(
    connection_id: str,
    request: Request,
    context: ContextDep,
    session: SessionDep,
    tenant: TenantDep,
) -> Any:
    query = _query(request)
    try:
        return explore(
            session,
            tenant,
            context.secret_box,
            context.connector_context,
            connection_id,
            query,
        )
    except ConnectorProblem as problem:
        return _connector_problem(request, problem)


def _connector_problem(request: Request, problem: ConnectorProblem) -> JSONResponse:
    """The reference's problem document, typed by the connector code (`CONNECTOR-1001-400`)
    instead of a `FLOW-` one."""
    request_id = request_id_of(request)
    body = problem_body(0, problem.status, problem.title, problem.message, request_id, {})
    body["type"] = f"{ERROR_TYPE_PREFIX}{problem.code}"
    return JSONResponse(body, status_code=problem.status, headers={"x-request-id": request_id})


def _query(request: Request) -> ExploreQuery:
    """The query parameters, names in any case (the reference spells `FileType`)."""
    params = {key.lower(): value for key, value in request.query_params.items()}
    return ExploreQuery(
        object_type=params.get("objecttype"),
        object=params.get("object"),
        preview=_flag(params, "preview") or False,
        preview_rows=_rows(params.get("previewrows")),
        file_type=params.get("filetype"),
        column_delimiter=params.get("columndelimiter"),
        compression_type=params.get("compressiontype"),
        header=_flag(params, "header"),
    )


def _flag(params: dict[str, str], name: str) -> bool | None:
    value = params.get(name)
    if value is None:
        return None
    if value.strip().lower() in ("true", "1", "yes"):
        return True
    if value.strip().lower() in ("false", "0", "no"):
        return False
    raise bad_request(1000, f"{name} must be true or false, not '{value}'.")


def _rows(value: str | None) -> int:
    if value is None:
        return DEFAULT_PREVIEW_ROWS
    rows = ascii_whole_number(value, spaces=True)
    if rows is None:
        raise bad_request(1000, f"previewRows must be a whole number, not '{value[:40]}'.")
    return rows

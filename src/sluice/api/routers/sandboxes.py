"""`/data/foundation/sandbox-management/sandboxes`: list and create an org's sandboxes."""

from __future__ import annotations

from typing import Any

from sluice.api.body import JsonBody
from sluice.api.deps import CallerDep, SessionDep
from sluice.api.json_response import JSONResponse
from sluice.api.routers.prefixed import PrefixedRouter
from sluice.schemas.parsing import parse_model
from sluice.schemas.sandboxes import SandboxCreate
from sluice.services import tenancy
from sluice.services.tenancy import SandboxRecord

SANDBOXES = "/data/foundation/sandbox-management/sandboxes"
router = PrefixedRouter(prefix=SANDBOXES, tags=["sandboxes"])


def render_sandbox(sandbox: SandboxRecord) -> dict[str, Any]:
    return {
        "id": sandbox.id,
        "name": sandbox.name,
        "title": sandbox.title,
        "type": sandbox.type,
        "state": sandbox.state,
        "isDefault": sandbox.is_default,
        "region": "local",
        "createdDate": sandbox.created_at,
        "lastModifiedDate": sandbox.updated_at,
    }


@router.get("")
def list_sandboxes(caller: CallerDep, session: SessionDep) -> dict[str, Any]:
    items = [render_sandbox(s) for s in tenancy.list_sandboxes(session, caller.org_id)]
    return {"sandboxes": items, "_page": {"limit": len(items), "count": len(items)}}


@router.get("/{name}")
def get_sandbox(name: str, caller: CallerDep, session: SessionDep) -> dict[str, Any]:
    return render_sandbox(tenancy.get_sandbox(session, caller.org_id, name))


@router.post("")
def create_sandbox(body: JsonBody, caller: CallerDep, session: SessionDep) -> JSONResponse:
    request = parse_model(SandboxCreate, body)
    sandbox = tenancy.create_development_sandbox(
        session, caller.org_id, request.name, title=request.title, sandbox_type=request.type
    )
    return JSONResponse(
        render_sandbox(sandbox),
        status_code=201,
        headers={"Location": f"{SANDBOXES}/{sandbox.name}"},
    )

"""`POST /ims/token/v3`: client-credentials grant issuing signed bearer tokens."""

from __future__ import annotations

from fastapi import APIRouter, Request

from sluice.api.deps import ContextDep, SessionDep
from sluice.api.json_response import JSONResponse
from sluice.services.tenancy import authenticated_org

router = APIRouter(tags=["auth"])


def _oauth_error(status: int, error: str, description: str) -> JSONResponse:
    return JSONResponse(
        {"error": error, "error_description": description},
        status_code=status,
        headers={"Cache-Control": "no-store"},
    )


@router.post("/ims/token/v3")
async def issue_token(request: Request, context: ContextDep, session: SessionDep) -> JSONResponse:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    fields: dict[str, str] = {k: v for k, v in request.query_params.items()}
    if content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.form()
        fields.update({k: v for k, v in form.items() if isinstance(v, str)})
    grant_type = fields.get("grant_type", "")
    if not grant_type:
        return _oauth_error(400, "invalid_request", "grant_type is required")
    if grant_type != "client_credentials":
        return _oauth_error(400, "unsupported_grant_type", "grant_type must be client_credentials")
    client_id, secret = fields.get("client_id", ""), fields.get("client_secret", "")
    if not client_id or not secret:
        return _oauth_error(400, "invalid_request", "client_id and client_secret are required")
    org_id = authenticated_org(session, client_id, secret)
    if org_id is None:
        return _oauth_error(401, "invalid_client", "invalid client_id or client_secret")
    token = context.signer.issue(org_id, client_id)
    return JSONResponse(
        {"access_token": token, "token_type": "bearer", "expires_in": context.signer.ttl_seconds},
        headers={"Cache-Control": "no-store"},
    )

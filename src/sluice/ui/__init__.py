"""The monitoring dashboard, served at `/ui` by the API app (`install_dashboard`)."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.status import HTTP_303_SEE_OTHER
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sluice.ui.deps import FormRefusedError, LoginRequiredError, PageNotFoundError
from sluice.ui.routes import ROUTERS
from sluice.ui.templating import STATIC_DIR, render_page

PREFIX = "/ui"
LIVE_PREFIX = "/ui/live/"
SECURITY_HEADERS = (
    (
        b"content-security-policy",
        b"default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; "
        b"object-src 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
)


def install_dashboard(app: FastAPI) -> None:
    """Mount the pages, the static files, the error pages and the security headers."""
    for router in ROUTERS:
        app.include_router(router, include_in_schema=False)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=STATIC_DIR), name="ui-static")
    app.add_exception_handler(LoginRequiredError, _login_required)  # type: ignore[arg-type]
    app.add_exception_handler(FormRefusedError, _form_refused)  # type: ignore[arg-type]
    app.add_exception_handler(PageNotFoundError, _not_found)  # type: ignore[arg-type]
    app.add_middleware(DashboardHeadersMiddleware)


def _is_live(request: Request) -> bool:
    return request.url.path.startswith(LIVE_PREFIX)


async def _login_required(request: Request, _error: LoginRequiredError) -> Response:
    if _is_live(request):
        return JSONResponse({"error": "login required", "login": "/ui/login"}, status_code=401)
    target = "/ui/login"
    if request.method == "GET":
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        target += "?next=" + quote(here, safe="")
    return RedirectResponse(target, status_code=HTTP_303_SEE_OTHER)


async def _form_refused(request: Request, error: FormRefusedError) -> Response:
    return render_page(request, "refused.html", None, status_code=403, message=str(error))


async def _not_found(request: Request, _error: PageNotFoundError) -> Response:
    if _is_live(request):
        return JSONResponse({"error": "not found"}, status_code=404)
    return render_page(request, "not_found.html", None, status_code=404)


class DashboardHeadersMiddleware:
    """CSP and friends on every dashboard response; pages and live data are never cached."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not (path == PREFIX or path.startswith(PREFIX + "/")):
            await self.app(scope, receive, send)
            return
        cacheable = path.startswith(f"{PREFIX}/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _value in headers}
                headers += [h for h in SECURITY_HEADERS if h[0] not in names]
                if not cacheable and b"cache-control" not in names:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)

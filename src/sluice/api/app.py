"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Route

from sluice import __version__
from sluice.api.app_context import AppContext
from sluice.api.body import ContentTypeError
from sluice.api.deps import authenticate
from sluice.api.json_response import JSONResponse
from sluice.api.middleware import RequestMiddleware
from sluice.api.openapi import install_openapi
from sluice.api.problems import (
    GatewayError,
    gateway_response,
    problem_response,
    request_id_of,
    wire_message,
)
from sluice.api.routers import ROUTERS, token
from sluice.config import Settings, load_settings
from sluice.domain.errors import SluiceError
from sluice.engine.celery_executor import CeleryExecutor, executor_from_settings
from sluice.engine.embedded_recovery import EmbeddedIdentity, recover, take_identity
from sluice.engine.engine_context import engine_context
from sluice.engine.supervisor import EngineSupervisor
from sluice.observability.endpoint import install_metrics
from sluice.security.encryption import SecretBox
from sluice.security.keys import load_key_ring
from sluice.security.tokens import TokenSigner
from sluice.services.metadata_database import open_metadata_database
from sluice.ui import install_dashboard
from sluice.webhooks.dispatcher import dispatcher_from_settings

log = logging.getLogger("sluice.api")


def build_context(settings: Settings) -> AppContext:
    # The embedded data dir holds the metadata database, the keys and the lake: owner-only.
    # Outside the embedded mode no process keeps state on its disk (DESIGN section 1).
    if settings.is_embedded:
        settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    _ = settings.lake  # an unusable or unsafe lake stops the server here
    keys = load_key_ring(settings)
    metadata = open_metadata_database(settings.resolved_database_url)
    metadata.upgrade_schema()
    return AppContext(
        settings=settings,
        engine=metadata.engine,
        sessions=metadata.sessions,
        signer=TokenSigner(keys.token_signing_key, settings.token_ttl_seconds),
        secret_box=SecretBox(keys.fernet_keys),
    )


def engine_supervisor(
    settings: Settings,
    context: AppContext,
    celery: CeleryExecutor | None,
    *,
    worker_prefix: str | None = None,
) -> EngineSupervisor:
    """The engine a serving process runs beside (or instead of) the API: local workers, the
    scheduler, webhook delivery and the sweep, as the settings say."""
    return EngineSupervisor(
        engine_context(settings, context.sessions),
        workers=settings.workers,
        scheduler=settings.scheduler,
        scheduler_interval_seconds=settings.scheduler_interval_seconds,
        dispatcher=dispatcher_from_settings(settings, context.sessions, context.secret_box),
        worker_prefix=worker_prefix,
        celery=celery,
        sweep_interval_seconds=settings.sweep_interval_seconds,
    )


def create_app(settings: Settings | None = None, *, run_engine: bool = False) -> FastAPI:
    """The API; with `run_engine`, also the local workers and the scheduler of the settings."""
    settings = settings or load_settings()
    context = build_context(settings)
    # With the Celery executor every API process sends "run X is ready" tasks itself.
    celery = executor_from_settings(settings, context.sessions)
    if celery is not None:
        context = replace(context, notify_run_ready=celery.notify)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = None
        identity = None
        if run_engine:
            identity = await asyncio.to_thread(_embedded_recovery, settings, context)
            services = engine_supervisor(
                settings,
                context,
                celery,
                worker_prefix=identity.name if identity is not None else None,
            )
            services.start()
            if services.notifies:
                app.state.context = replace(
                    context,
                    notify_run_ready=services.notify,
                    expect_runs=services.expect_runs,
                )
        try:
            yield
        finally:
            if services is not None:
                await asyncio.to_thread(services.stop)
            if identity is not None:
                identity.close()
            context.engine.dispose()

    app = FastAPI(
        title="Sluice", version=__version__, lifespan=lifespan, docs_url="/docs", redoc_url=None
    )
    app.state.context = context
    install_openapi(app, settings)
    for router in ROUTERS:
        # Like the gateway, check credentials before anything reads the body: router-level
        # dependencies are solved first, and cached for the routes' own CallerDep.
        guard = [] if router is token.router else [Depends(authenticate)]
        app.include_router(router, dependencies=guard)
    # The dashboard at /ui has its own login (a session cookie), not bearer tokens.
    install_dashboard(app)
    install_error_handlers(app)
    # Request ids, trailing slashes, unexpected errors and the body limit, in one layer.
    app.add_middleware(RequestMiddleware, max_bytes=settings.max_body_bytes)
    if settings.metrics_enabled:
        # Outside it: the metrics see the 500 and 413 answers it makes, and the route the
        # router fills in (the trailing-slash rewrite keeps the scope).
        install_metrics(app, context.sessions, settings.metrics_token)
    return app


def _embedded_recovery(settings: Settings, context: AppContext) -> EmbeddedIdentity | None:
    """The embedded mode (metadata in the data dir's SQLite file) owns its data dir: take
    its worker identity and recover what a crash left. Other modes keep no local state."""
    if settings.database_url is not None:
        return None
    identity = take_identity(settings.data_dir)
    if identity is not None:
        # Orphan files are swept in a local lake only: on an object store other writers may
        # be committing, so no file can be known to be unreferenced for good.
        lake = Path(settings.lake.root) if settings.lake.is_local else None
        recover(context.sessions, identity, lake)
    return identity


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(SluiceError)
    async def sluice_error(request: Request, error: SluiceError) -> JSONResponse:
        if error.status >= 500:
            log.error(
                "request %s failed (request id %s): %s",
                request.url.path,
                request_id_of(request),
                error.message,
            )
        return problem_response(
            request, error.code, error.status, error.title, wire_message(error), **error.report
        )

    @app.exception_handler(GatewayError)
    async def gateway_error(request: Request, error: GatewayError) -> JSONResponse:
        return gateway_response(request, error)

    @app.exception_handler(ContentTypeError)
    async def content_type_error(request: Request, _error: ContentTypeError) -> JSONResponse:
        return JSONResponse(
            {
                "type": "/placeholder/type/uri",
                "status": 400,
                "title": "BadRequestError",
                "detail": "A valid content-type must be specified",
            },
            status_code=400,
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
        first = error.errors()[0] if error.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return problem_response(
            request,
            1000,
            400,
            "Bad request",
            f"Invalid request: {where}: {first.get('msg', 'invalid value')}.",
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        if error.status_code == 404:
            return problem_response(
                request,
                1101,
                404,
                "Not found",
                f"No route matches {request.method} {request.url.path}.",
            )
        if error.status_code == 405:
            response = problem_response(
                request,
                1007,
                405,
                "Method not allowed",
                f"{request.method} is not allowed on {request.url.path}.",
            )
            # RFC 9110: a 405 names the methods the resource does allow.
            response.headers["Allow"] = ", ".join(_allowed_methods(request))
            return response
        return problem_response(request, 1000, error.status_code, "Error", str(error.detail))

    @app.exception_handler(StaleDataError)
    async def concurrent_update(request: Request, _error: StaleDataError) -> JSONResponse:
        return problem_response(
            request,
            1404,
            412,
            "Precondition failed",
            "The resource was changed by another request meanwhile; fetch it again and retry "
            "with its current etag.",
        )

    # Errors nobody raised on purpose: RequestMiddleware (see create_app).


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route takes on this path (Starlette names only the first route's)."""
    methods: set[str] = set()
    routes = [*request.app.router.routes, *(r for router in ROUTERS for r in router.routes)]
    for route in routes:
        if isinstance(route, Route) and route.matches(request.scope)[0] != Match.NONE:
            methods.update(route.methods or ())
    return sorted(methods)

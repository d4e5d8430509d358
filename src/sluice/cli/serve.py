"""`sluice serve`: the API server; in embedded mode also the default tenant and the demo.

By default one process serves the API and runs the local workers and the scheduler. With
`--api-processes N` (N > 1) uvicorn runs N API processes on the port, and this process keeps
the engine (workers, scheduler, webhook delivery) and answers no requests: the API then
cannot wake the local workers at once, and they find new runs by polling (every second).
"""

from __future__ import annotations

import importlib
import io
import logging
import re
import shlex
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, cast

import httpx
import typer
import uvicorn
from rich import box
from rich.console import Console, Group
from rich.panel import Panel
from rich.text import Text
from uvicorn.supervisors import Multiprocess

from sluice.bootstrap import ensure_default_tenant
from sluice.cli.output import console, describe_api_error, reported_errors
from sluice.cli.remote import DEFAULT_URL
from sluice.cli.serving_heap import prepare_heap_for_serving
from sluice.client import FLOW_SERVICE_PATH, TOKEN_PATH, Credentials, SluiceApiError, SluiceClient
from sluice.config import Settings
from sluice.demo import setup_demo
from sluice.services.metadata_database import open_metadata_database

if TYPE_CHECKING:
    from fastapi import FastAPI

log = logging.getLogger("sluice.serve")
DEFAULT_DATA_DIR = Path(".sluice")
ColorSystem = Literal["auto", "standard", "256", "truecolor", "windows"]
# Spaces at the end of a rendered line, before any closing style codes.
_TRAILING_PADDING = re.compile(r" +((?:\x1b\[[0-9;]*m)*)$")


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8080,
    demo: Annotated[bool, typer.Option(help="Set up the demo flows (embedded mode).")] = True,
    workers: Annotated[
        int | None,
        typer.Option("--workers", min=0, help="Local workers (default SLUICE_WORKERS or 2)."),
    ] = None,
    no_workers: Annotated[
        bool, typer.Option("--no-workers", help="API only: runs go to `sluice worker`.")
    ] = False,
    scheduler: Annotated[
        bool, typer.Option(help="Also run a scheduler (it stands by unless it leads).")
    ] = True,
    api_processes: Annotated[
        int,
        typer.Option(
            "--api-processes",
            min=1,
            help="API processes on the port (default 1). Above 1, this process keeps the "
            "workers and the scheduler; for PostgreSQL metadata and a machine with cores "
            "to spare.",
        ),
    ] = 1,
) -> None:
    """Run the Sluice API with local workers and the scheduler (SLUICE_* settings)."""
    from sluice.api.app import create_app  # the API stack loads only for this command

    settings = Settings()
    overrides: dict[str, object] = {"scheduler": scheduler and settings.scheduler}
    if no_workers:
        overrides["workers"] = 0
    elif workers is not None:
        overrides["workers"] = workers
    settings = settings.model_copy(update=overrides)
    configure_logging(settings.log_level)
    base_url = f"http://{client_host(host)}:{port}"
    if api_processes > 1:
        serve_api_processes(settings, host, port, api_processes, base_url, demo)
        return
    with reported_errors():
        app = create_app(settings, run_engine=True)
        credentials = ensure_embedded_tenant(settings) if settings.is_embedded else None
    server = uvicorn.Server(
        server_config(app, host=host, port=port, log_level=settings.log_level.lower())
    )
    ReadyAnnouncement(settings, credentials, base_url, demo).start(
        lambda: server.started, lambda: server.should_exit
    )
    prepare_heap_for_serving()
    server.run()
    if not server.started:
        raise typer.Exit(1)


def serve_api_processes(
    settings: Settings, host: str, port: int, processes: int, base_url: str, demo: bool
) -> None:
    """`processes` uvicorn processes serve the API (`api_process_app`); this one keeps the
    engine. The schema is upgraded here first, so the API processes never race to do it."""
    from sluice.api.app import build_context, engine_supervisor
    from sluice.engine.celery_executor import executor_from_settings

    with reported_errors():
        context = build_context(settings)
        credentials = ensure_embedded_tenant(settings) if settings.is_embedded else None
        celery = executor_from_settings(settings, context.sessions)
    services = engine_supervisor(settings, context, celery)
    config = server_config(
        f"{__name__}:api_process_app",
        factory=True,
        host=host,
        port=port,
        workers=processes,
        log_level=settings.log_level.lower(),
    )
    listener = config.bind_socket()
    # Accepted connections inherit this. uvicorn's socket has protocol 0, and asyncio only
    # disables Nagle on sockets it knows are TCP: without it every response waits ~40 ms
    # for the client's delayed ACK.
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    supervisor = Multiprocess(config, sockets=[listener])
    ReadyAnnouncement(settings, credentials, base_url, demo).start(
        lambda: answers(base_url), supervisor.should_exit.is_set
    )
    services.start()
    try:
        supervisor.run()
    finally:
        services.stop()
        context.engine.dispose()


@dataclass(frozen=True)
class HttpStack:
    """uvicorn's HTTP parser and event loop."""

    http: Literal["httptools", "h11"]
    loop: Literal["uvloop", "asyncio"]


def http_stack() -> HttpStack:
    """httptools and uvloop (dependencies of Sluice, written in C), or the pure-Python pair
    where they are not installed (uvloop has no Windows build)."""
    return HttpStack(
        http="httptools" if _importable("httptools") else "h11",
        loop="uvloop" if _importable("uvloop") else "asyncio",
    )


def _importable(module: str) -> bool:
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


def server_config(app: FastAPI | str, **options: Any) -> uvicorn.Config:
    """The uvicorn configuration of `sluice serve`: `options` and the fastest HTTP stack."""
    stack = http_stack()
    return uvicorn.Config(app, http=stack.http, loop=stack.loop, **options)


def api_process_app() -> FastAPI:
    """The app of one `--api-processes` process: the API alone, settings from SLUICE_*."""
    from sluice.api.app import create_app

    settings = Settings()
    configure_logging(settings.log_level)
    app = create_app(settings, run_engine=False)
    prepare_heap_for_serving()
    return app


def answers(base_url: str) -> bool:
    """Whether something answers HTTP at `base_url` (any status)."""
    try:
        httpx.get(f"{base_url}{FLOW_SERVICE_PATH}/flows", timeout=2)
    except httpx.TransportError:
        return False
    return True


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(levelname)-9s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per demo request is noise


def ensure_embedded_tenant(settings: Settings) -> Credentials:
    metadata = open_metadata_database(settings.resolved_database_url)
    try:
        return ensure_default_tenant(settings, metadata.sessions)
    finally:
        metadata.dispose()


def client_host(host: str) -> str:
    """Where a client on this machine reaches a server listening on `host`."""
    if host in ("0.0.0.0", ""):  # noqa: S104 - comparing, not binding
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


@dataclass(frozen=True)
class ReadyAnnouncement:
    """What a serving process does once the server answers: the demo (through the API, as a
    user would), then the panel."""

    settings: Settings
    credentials: Credentials | None
    base_url: str
    demo: bool

    def start(self, started: Callable[[], bool], stopping: Callable[[], bool]) -> None:
        """`after_start` on a daemon thread, so the server can run in this one."""
        threading.Thread(
            target=self.after_start, name="sluice-ready", daemon=True, args=(started, stopping)
        ).start()

    def after_start(self, started: Callable[[], bool], stopping: Callable[[], bool]) -> None:
        while not started():
            if stopping():
                return
            time.sleep(0.05)
        credentials = self.credentials
        if credentials is not None and self.demo:
            try:
                with SluiceClient(
                    self.base_url,
                    credentials.org_id,
                    credentials.client_id,
                    credentials.client_secret,
                    credentials.sandbox_name,
                ) as client:
                    result = setup_demo(client, self.settings)
                if result.created:
                    log.info("demo: created %s", ", ".join(result.created))
            except SluiceApiError as error:
                log.warning("demo setup failed: %s", describe_api_error(error))
            except Exception:  # the server stays up without its demo
                log.exception("demo setup failed")
        print_pasteable(ready_panel(self.base_url, self.settings, credentials))


def print_pasteable(panel: Panel) -> None:
    """Print the panel at its full width (Rich would wrap the command lines) and without the
    spaces Rich pads each line with (a pasted `\\` must be the last character of its line)."""
    buffer = io.StringIO()
    Console(
        file=buffer,
        width=max(console.width, panel.width or 0),
        force_terminal=console.is_terminal,
        color_system=cast("ColorSystem | None", console.color_system),
    ).print(panel)
    lines = (_TRAILING_PADDING.sub(r"\1", line) for line in buffer.getvalue().splitlines())
    console.file.write("\n".join(lines) + "\n")
    console.file.flush()


def cli_example(base_url: str, credentials_path: Path) -> str:
    """`sluice flows list`, with the options a shell in the current folder would need."""
    command = "sluice flows list"
    if base_url != DEFAULT_URL:
        command += f" --url {base_url}"
    if credentials_path != Settings(data_dir=DEFAULT_DATA_DIR).credentials_path:
        command += f" --credentials {shlex.quote(str(credentials_path))}"
    return command


def curl_example(base_url: str, credentials_path: Path, credentials: Credentials) -> str:
    """Shell lines that get a token and list the flows; the secret is read from the file,
    never printed."""
    field_of_file = 'import json,sys; print(json.load(open(sys.argv[1]))["clientSecret"])'
    field_of_stdin = 'import json,sys; print(json.load(sys.stdin)["access_token"])'
    path = shlex.quote(str(credentials_path))
    return "\n".join(
        [
            f"SECRET=$(python3 -c {shlex.quote(field_of_file)} {path})",
            f"TOKEN=$(curl -s -X POST {base_url}{TOKEN_PATH} \\",
            f"  -d grant_type=client_credentials -d client_id={credentials.client_id} \\",
            '  --data-urlencode "client_secret=$SECRET" \\',
            f"  | python3 -c {shlex.quote(field_of_stdin)})",
            f"curl -s {base_url}{FLOW_SERVICE_PATH}/flows \\",
            '  -H "Authorization: Bearer $TOKEN" \\',
            f'  -H "x-api-key: {credentials.client_id}" \\',
            f'  -H "x-gw-ims-org-id: {credentials.org_id}" \\',
            f'  -H "x-sandbox-name: {credentials.sandbox_name}"',
        ]
    )


def ready_panel(base_url: str, settings: Settings, credentials: Credentials | None) -> Panel:
    lines: list[Text] = [
        Text.assemble(("API       ", "bold"), base_url),
        Text.assemble(
            ("Dashboard ", "bold"), f"{base_url}/ui (log in with the client id and secret)"
        ),
    ]
    if credentials is None:
        lines.append(Text("Create an API client with `sluice admin clients create --org ORG`."))
    else:
        path = settings.credentials_path
        lines += [
            Text.assemble(("Creds     ", "bold"), f"{path} (orgId, clientId, clientSecret)"),
            Text.assemble(("CLI       ", "bold"), cli_example(base_url, path)),
            Text(""),
            Text("Get a token and list the flows:", style="bold"),
            Text(curl_example(base_url, path, credentials)),
        ]
    width = max(len(line) for text in lines for line in text.plain.splitlines()) + 4
    # No side borders and no wrapping, so the command lines paste as they are.
    return Panel(
        Group(*lines),
        title="Sluice is running",
        title_align="left",
        box=box.HORIZONTALS,
        width=max(width, 60),
    )

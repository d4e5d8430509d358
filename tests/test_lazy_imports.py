"""An idle server holds no data or connector library: Arrow, Delta Lake, the connectors' drivers
and Celery load with the first run, preview, dataset read or connector call that needs them
(bench/README.md, "Idle server"), and the built-in connection specs are known without them. A
top-level import of one of them on those paths fails these tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

# Top-level packages an idle `sluice serve` must not have imported. Not listed: what answering
# requests needs anyway (FastAPI, SQLAlchemy, Jinja2 for the dashboard, httpx for webhook
# delivery and the CLI).
LAZY_PACKAGES = frozenset(
    {
        "pyarrow",
        "deltalake",
        "connectorx",
        "psycopg",
        "pymysql",
        "boto3",
        "botocore",
        "aiobotocore",
        "s3fs",
        "fsspec",
        "adlfs",
        "azure",
        "asyncssh",
        "sshfs",
        "paramiko",
        "celery",
        "kombu",
        "pandas",
        "numpy",
        "polars",
        "sqlglot",
    }
)
LAZY_PREFIXES = ("adbc_driver_",)

# The server as `sluice serve --no-demo` builds it on the embedded defaults: the CLI, the app
# with its engine, the default tenant; then the engine starts (recovery, local workers, the
# scheduler, webhook delivery) and runs for a moment before the modules are listed.
IDLE_SERVER = """
import asyncio, json, sys
from sluice.cli import main  # the `sluice` command, as the console script imports it
from sluice.api.app import create_app
from sluice.cli.serve import ensure_embedded_tenant
from sluice.config import Settings

settings = Settings()
app = create_app(settings, run_engine=True)
ensure_embedded_tenant(settings)


async def idle() -> None:
    async with app.router.lifespan_context(app):
        await asyncio.sleep(1)


asyncio.run(idle())
print(json.dumps(sorted(sys.modules)))
"""

# Every built-in spec, as `GET /connectionSpecs` and the connection checks see them.
BUILTIN_SPECS = """
import json, sys
from sluice.connectors.registry import builtin_specs, find_spec

assert all(find_spec(spec.id) is spec for spec in builtin_specs())
print(json.dumps(sorted(sys.modules)))
"""


def modules_after(script: str, data_dir: Path) -> list[str]:
    """The modules a fresh Python process has imported once it has run `script`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_")}
    env["SLUICE_DATA_DIR"] = str(data_dir)
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=data_dir.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    modules: list[str] = json.loads(done.stdout.splitlines()[-1])
    return modules


def lazy_packages_in(modules: list[str]) -> list[str]:
    return sorted(
        {
            name.split(".")[0]
            for name in modules
            if name.split(".")[0] in LAZY_PACKAGES or name.startswith(LAZY_PREFIXES)
        }
    )


def test_an_idle_server_imports_no_data_or_connector_library(tmp_path: Path) -> None:
    assert lazy_packages_in(modules_after(IDLE_SERVER, tmp_path / "data")) == []


def test_the_built_in_specs_are_known_without_their_connectors(tmp_path: Path) -> None:
    modules = modules_after(BUILTIN_SPECS, tmp_path / "data")

    assert lazy_packages_in(modules) == []
    assert "sluice.connectors.postgresql.spec" not in modules  # the connector itself

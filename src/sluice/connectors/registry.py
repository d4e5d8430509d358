"""The registry of connectors: the built-ins, then those third-party packages declare.

A package adds a connector without touching Sluice by declaring an entry point in the
`sluice.connectors` group whose object is a `Connector` (sluice.connectors.contract):

    [project.entry-points."sluice.connectors"]
    my_source = "my_package.connector:CONNECTOR"

Built-ins are named by module, imported the first time the registry is asked, so importing
the registry pulls in no connector library.
"""

from __future__ import annotations

import importlib
import logging
from functools import cache
from importlib.metadata import entry_points

from sluice.connectors.contract import ConnectionSpec, Connector

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "sluice.connectors"

# Modules under sluice.connectors, each exposing `CONNECTOR: Connector`.
BUILTIN_MODULES: tuple[str, ...] = (
    "postgresql.spec",
    "sqlite.spec",
    "files.local",
    "mysql.spec",
    "sql_database.spec",
    "files.s3",
    "files.sftp",
    "files.azure_blob",
    "data_lake.spec",
    "rest.spec",
)


def _builtin(module_name: str) -> Connector:
    connector = importlib.import_module(f"sluice.connectors.{module_name}").CONNECTOR
    assert isinstance(connector, Connector), module_name
    return connector


def _third_party(taken: set[str]) -> list[Connector]:
    """The connectors of the entry point group; a broken or clashing one is logged and left
    out, so one bad package never takes the service down."""
    found: list[Connector] = []
    for entry in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            connector = entry.load()
        except Exception:
            log.exception("connector entry point %r (%s) failed to load", entry.name, entry.value)
            continue
        if not isinstance(connector, Connector):
            log.error("connector entry point %r (%s) is not a Connector", entry.name, entry.value)
            continue
        if connector.spec.id in taken:
            log.error(
                "connector entry point %r reuses connection spec id %s; left out",
                entry.name,
                connector.spec.id,
            )
            continue
        taken.add(connector.spec.id)
        found.append(connector)
    return found


@cache
def builtin_connectors() -> tuple[Connector, ...]:
    return tuple(_builtin(name) for name in BUILTIN_MODULES)


@cache
def all_connectors() -> tuple[Connector, ...]:
    """The built-in connectors, then the installed third-party ones."""
    builtins = builtin_connectors()
    return (*builtins, *_third_party({c.spec.id for c in builtins}))


def find_connector(spec_id: str) -> Connector | None:
    return next((c for c in all_connectors() if c.spec.id == spec_id), None)


def all_specs() -> tuple[ConnectionSpec, ...]:
    return tuple(c.spec for c in all_connectors())


def find_spec(spec_id: str) -> ConnectionSpec | None:
    connector = find_connector(spec_id)
    return connector.spec if connector is not None else None

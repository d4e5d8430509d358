"""The registry of connectors: the built-ins, then those third-party packages declare.

A package adds a connector without touching Sluice by declaring an entry point in the
`sluice.connectors` group whose object is a `Connector` (sluice.connectors.contract):

    [project.entry-points."sluice.connectors"]
    my_source = "my_package.connector:CONNECTOR"

Built-ins are named by module: the module of their spec, imported the first time the registry
is asked (it pulls in no driver and no Arrow), and the module of the connector, imported the
first time that connector is wanted. Listing or finding specs therefore loads no connector
library; third-party connectors load whole, the first time the registry goes past the
built-ins.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterator
from functools import cache
from importlib.metadata import entry_points

from sluice.connectors.contract import ConnectionSpec, Connector

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "sluice.connectors"

# Modules under sluice.connectors: (the one exposing `SPEC: ConnectionSpec`, the one exposing
# `CONNECTOR: Connector` whose spec is that SPEC).
BUILTIN_MODULES: tuple[tuple[str, str], ...] = (
    ("postgresql.connection_spec", "postgresql.spec"),
    ("sqlite.connection_spec", "sqlite.spec"),
    ("files.local_spec", "files.local"),
    ("mysql.connection_spec", "mysql.spec"),
    ("sql_database.connection_spec", "sql_database.spec"),
    ("files.s3_spec", "files.s3"),
    ("files.sftp_spec", "files.sftp"),
    ("files.azure_blob_spec", "files.azure_blob"),
    ("data_lake.spec", "data_lake.spec"),
    ("rest.connection_spec", "rest.spec"),
)


def _builtin_spec(module_name: str) -> ConnectionSpec:
    spec = importlib.import_module(f"sluice.connectors.{module_name}").SPEC
    assert isinstance(spec, ConnectionSpec), module_name
    return spec


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
def builtin_specs() -> tuple[ConnectionSpec, ...]:
    return tuple(_builtin_spec(spec_module) for spec_module, _ in BUILTIN_MODULES)


@cache
def builtin_connectors() -> tuple[Connector, ...]:
    return tuple(_builtin(module) for _, module in BUILTIN_MODULES)


@cache
def third_party_connectors() -> tuple[Connector, ...]:
    return tuple(_third_party({spec.id for spec in builtin_specs()}))


def all_connectors() -> tuple[Connector, ...]:
    """The built-in connectors, then the installed third-party ones."""
    return (*builtin_connectors(), *third_party_connectors())


def find_connector(spec_id: str) -> Connector | None:
    """The connector of the spec; of the built-ins, only its module is imported."""
    for spec, (_, module) in zip(builtin_specs(), BUILTIN_MODULES, strict=True):
        if spec.id == spec_id:
            return _builtin(module)
    return next((c for c in third_party_connectors() if c.spec.id == spec_id), None)


def _specs() -> Iterator[ConnectionSpec]:
    """The built-in specs, then the third-party ones (loaded only if the iteration gets there)."""
    yield from builtin_specs()
    yield from (c.spec for c in third_party_connectors())


def all_specs() -> tuple[ConnectionSpec, ...]:
    return tuple(_specs())


def find_spec(spec_id: str) -> ConnectionSpec | None:
    return next((spec for spec in _specs() if spec.id == spec_id), None)

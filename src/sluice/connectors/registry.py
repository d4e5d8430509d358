"""The registry of built-in connection specs.

Adding a connector means adding one module under `sluice.connectors.specs` that builds a
`ConnectionSpec` and lists it in `SPEC_MODULES`; nothing else in the code changes.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

SourceKind = Literal["table", "file", "target"]

PROVIDER_ID = "0ed90a81-07f4-4586-8190-b40eccef1c5a"


@dataclass(frozen=True)
class ConnectorContext:
    """What a connector may know about the service it runs in."""

    allowed_file_roots: tuple[Path, ...]
    lake_dir: Path
    metadata_database_url: str
    # Hosts, addresses or networks (CIDR) the operator allows even though the host guard
    # would refuse them (`SLUICE_CONNECTOR_ALLOWED_HOSTS`); see sluice.connectors.host_guard.
    allowed_hosts: tuple[str, ...] = ()


class ConnectionTestFailed(Exception):  # noqa: N818 - reads as a sentence at raise sites
    """A connection test reached a clear verdict: the connection does not work, and why.

    The message is shown to the user; it must never contain a secret.
    """


# Given the context and the connection's full auth params (secrets included), raise
# ConnectionTestFailed when the connection does not work.
ConnectionTester = Callable[[ConnectorContext, Mapping[str, Any]], object]


@dataclass(frozen=True)
class AuthSpec:
    """One way to authenticate (`auth.specName` in a connection create request)."""

    name: str
    type: str
    schema: Mapping[str, Any]

    @property
    def secret_fields(self) -> frozenset[str]:
        """Params never returned in clear: those the schema marks `format: password`."""
        props = self.schema.get("properties", {})
        return frozenset(k for k, v in props.items() if v.get("format") == "password")

    def to_wire(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "spec": dict(self.schema)}


@dataclass(frozen=True)
class ConnectionSpec:
    id: str
    name: str
    description: str
    category: str
    source_kind: SourceKind
    auth_specs: tuple[AuthSpec, ...]
    # JSON Schema of a source (or target) connection's `params` for this spec.
    params_schema: Mapping[str, Any]
    tester: ConnectionTester
    version: str = "1.0"
    attributes: Mapping[str, Any] = field(default_factory=dict)
    # JSON Schema of a source connection's `data` object (format options for files).
    data_schema: Mapping[str, Any] | None = None
    # Checks of auth params that need the service's settings (allowed folders), run when a
    # connection is created or patched; raises ConnectionTestFailed with a safe message.
    validate_auth: ConnectionTester | None = None
    # Reading a window (sluice.connectors.reading); None for specs that cannot be read.
    open_source: Any = None
    check_delta_column: Any = None
    # Listing what a connection can reach (sluice.connectors.exploring.ObjectLister); None
    # for specs that cannot be explored (the data-lake target).
    list_objects: Any = None

    def auth_spec(self, name: str) -> AuthSpec | None:
        return next((a for a in self.auth_specs if a.name == name), None)

    def to_wire(self) -> dict[str, Any]:
        spec_key = "targetSpec" if self.source_kind == "target" else "sourceSpec"
        return {
            "id": self.id,
            "name": self.name,
            "providerId": PROVIDER_ID,
            "version": self.version,
            "description": self.description,
            "type": "Batch",
            "attributes": {
                "category": {"key": self.category},
                "isSource": self.source_kind != "target",
                "isTarget": self.source_kind == "target",
                **self.attributes,
            },
            "authSpec": [a.to_wire() for a in self.auth_specs],
            spec_key: {
                "name": f"{self.name} {spec_key}",
                "type": {"table": "Table", "file": "File"}.get(self.source_kind, "Target"),
                "spec": {
                    "$schema": "http://json-schema.org/draft-07/schema#",
                    "type": "object",
                    "properties": {
                        "params": dict(self.params_schema),
                        **({"data": dict(self.data_schema)} if self.data_schema else {}),
                    },
                },
            },
        }


# Modules under sluice.connectors.specs, each exposing `SPEC: ConnectionSpec`.
SPEC_MODULES: tuple[str, ...] = (
    "postgresql",
    "sqlite",
    "local_files",
    "mysql",
    "sql_database",
    "s3",
    "sftp",
    "azure_blob",
    "data_lake",
    "rest_api",
)


@cache
def all_specs() -> tuple[ConnectionSpec, ...]:
    specs = []
    for module_name in SPEC_MODULES:
        module = importlib.import_module(f"sluice.connectors.specs.{module_name}")
        specs.append(module.SPEC)
    return tuple(specs)


def find_spec(spec_id: str) -> ConnectionSpec | None:
    return next((s for s in all_specs() if s.id == spec_id), None)

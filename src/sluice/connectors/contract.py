"""The contract between Sluice and a connector: what a connector is told (`ConnectorContext`),
how it describes itself on the wire (`ConnectionSpec`, `AuthSpec`), and the one protocol it
implements (`Connector`: test, explore, read, check a delta column).

A connector is any object with these members; the built-ins are `FunctionConnector`s, made of
the plain functions of their modules. Third-party connectors arrive through the
`sluice.connectors` entry point (sluice.connectors.registry) and pass the contract kit in
`sluice.testing`. Failures are the types of sluice.connectors.errors.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from sluice.connectors.errors import UnsupportedOperationError
from sluice.connectors.exploring import ExploreItem, ObjectType
from sluice.connectors.reading import ReadRequest, SourceRead
from sluice.lake.location import LakeLocation

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
    # The lake datasets are written to (SLUICE_LAKE_URI); None: the local `lake_dir`.
    lake: LakeLocation | None = None


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
    version: str = "1.0"
    attributes: Mapping[str, Any] = field(default_factory=dict)
    # JSON Schema of a source connection's `data` object (format options for files).
    data_schema: Mapping[str, Any] | None = None
    # True when a window read in parts sees one consistent view of the source, as a serial
    # read would (PostgreSQL's parts share one snapshot; file sources list their files once):
    # such windows are read in parts by default, others only when the flow asks.
    consistent_parts: bool = False
    # Default parts per core of the worker for such windows: a database's parts share the
    # machine with its server's work (half a core each), a file source's parse on the worker
    # alone (one each). Measured on 2 cores: bench/README.md, "Fifth round".
    parts_per_core: float = 0.5

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


# Each call gets the connector context and the connection's full auth params (secrets
# included); a source connection is `{"data": ..., "params": ...}`.
ConnectionTester = Callable[[ConnectorContext, Mapping[str, Any]], object]
ObjectLister = Callable[
    [ConnectorContext, Mapping[str, Any], ObjectType, str | None], list[ExploreItem]
]
SourceOpener = Callable[
    [ConnectorContext, Mapping[str, Any], Mapping[str, Any], ReadRequest], SourceRead
]
DeltaColumnChecker = Callable[[ConnectorContext, Mapping[str, Any], Mapping[str, Any], str], None]


@runtime_checkable
class Connector(Protocol):
    """One connector: its spec and what Sluice asks of a connection of that spec.

    Every method may raise the errors of sluice.connectors.errors, and their messages (shown
    to users) never hold a secret. A target connector (`spec.source_kind == "target"`) is
    only tested: its `explore` and `read` raise UnsupportedOperationError.
    """

    @property
    def spec(self) -> ConnectionSpec: ...

    def validate_auth(self, context: ConnectorContext, auth: Mapping[str, Any]) -> None:
        """Create-time checks of auth params that need no network but the service's settings
        (allowed folders, host guard, connection-string keys); ConnectionTestFailed."""
        ...

    def test(self, context: ConnectorContext, auth: Mapping[str, Any]) -> None:
        """Reach the source and prove the credentials work; ConnectionTestFailed otherwise."""
        ...

    def explore(
        self,
        context: ConnectorContext,
        auth: Mapping[str, Any],
        object_type: ObjectType,
        place: str | None,
    ) -> list[ExploreItem]:
        """The objects under `place` (None: the root), at most MAX_LISTED_OBJECTS; ExploreError
        for a place that does not exist."""
        ...

    def read(
        self,
        context: ConnectorContext,
        auth: Mapping[str, Any],
        source: Mapping[str, Any],
        request: ReadRequest,
    ) -> SourceRead:
        """Open a read of the request's half-open window `[start, end)` (everything when the
        window is None); SourceReadError subclasses say whether a retry may help."""
        ...

    def check_delta_column(
        self,
        context: ConnectorContext,
        auth: Mapping[str, Any],
        source: Mapping[str, Any],
        column: str,
    ) -> None:
        """BadRequestError (1000) unless `column` can select a window of the source; file
        sources (selected by modification time) accept any."""
        ...


def _accept(*_: object) -> None:
    """A check with nothing to check."""


@dataclass(frozen=True)
class FunctionConnector:
    """A Connector made of plain functions, as the built-in connectors are written."""

    spec: ConnectionSpec
    test_connection: ConnectionTester
    validate_params: ConnectionTester = _accept
    lister: ObjectLister | None = None
    opener: SourceOpener | None = None
    delta_checker: DeltaColumnChecker = _accept

    def validate_auth(self, context: ConnectorContext, auth: Mapping[str, Any]) -> None:
        self.validate_params(context, auth)

    def test(self, context: ConnectorContext, auth: Mapping[str, Any]) -> None:
        self.test_connection(context, auth)

    def explore(
        self,
        context: ConnectorContext,
        auth: Mapping[str, Any],
        object_type: ObjectType,
        place: str | None,
    ) -> list[ExploreItem]:
        if self.lister is None:
            raise UnsupportedOperationError(
                f"Connections of spec '{self.spec.name}' cannot be explored."
            )
        return self.lister(context, auth, object_type, place)

    def read(
        self,
        context: ConnectorContext,
        auth: Mapping[str, Any],
        source: Mapping[str, Any],
        request: ReadRequest,
    ) -> SourceRead:
        if self.opener is None:
            raise UnsupportedOperationError(f"Connector '{self.spec.name}' cannot be read yet.")
        return self.opener(context, auth, source, request)

    def check_delta_column(
        self,
        context: ConnectorContext,
        auth: Mapping[str, Any],
        source: Mapping[str, Any],
        column: str,
    ) -> None:
        self.delta_checker(context, auth, source, column)

"""The contract kit every connector passes, built-in or third-party.

A connector's tests describe one working connection and the data behind it in a
`ContractCase` and call `check_connector(case)` (or the single checks). The kit asserts what
Sluice relies on, whatever the connector:

- the spec is well formed: a UUID, valid JSON Schemas, secrets marked `format: password`;
- `validate_auth` and `test` accept the working auth, `test` refuses the refused one;
- `explore` lists `ExploreItem`s (and refuses a place that does not exist, when given);
- `read` fixes its schema before the first batch, every batch has it, the columns keep the
  types the case expects, `limit` is honoured, progress counts the rows;
- a window is half-open: rows on its start are in, rows on its end are out;
- failures are coded (`CONNECTOR-nnnn-sss`), a missing source is terminal, and no message
  of any failure holds a secret of the case.

Each check raises AssertionError with what went wrong, so it reads well under pytest.
"""

from __future__ import annotations

import contextlib
import json
import re
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
from jsonschema import Draft7Validator

from sluice.connectors.contract import Connector, ConnectorContext
from sluice.connectors.errors import (
    ConnectorError,
    ExploreError,
    SourceReadError,
    TerminalError,
    UnsupportedOperationError,
)
from sluice.connectors.exploring import MAX_LISTED_OBJECTS, ExploreItem, ObjectType
from sluice.connectors.reading import ReadRequest, SourceRead
from sluice.domain.windows import Window

__all__ = [
    "ContractCase",
    "WindowCase",
    "check_coded_errors",
    "check_connection_test",
    "check_connector",
    "check_explore",
    "check_half_open_window",
    "check_read",
    "check_spec",
    "read_table",
]

ERROR_CODE = re.compile(r"^CONNECTOR-\d{4}-\d{3}$")


@dataclass(frozen=True)
class WindowCase:
    """Rows placed at a window's edges, and which of them a read of the window returns.

    `key` is the column that tells the rows apart (an id; for files, the file column).
    `inside` holds rows on `window.start` (and before its end); `outside` rows on
    `window.end` and before its start.
    """

    source: Mapping[str, Any]
    window: Window
    key: str
    inside: frozenset[Any]
    outside: frozenset[Any]
    delta_column: str | None = None
    timezone: str = "UTC"


@dataclass(frozen=True)
class ContractCase:
    """One connector with a working connection and known data behind it."""

    connector: Connector
    context: ConnectorContext
    # Auth params of a connection that works, and of one whose test must fail.
    auth: Mapping[str, Any]
    refused_auth: Mapping[str, Any] | None
    # A readable source, and the Arrow type each listed column must read as.
    source: Mapping[str, Any] | None = None
    expected_types: Mapping[str, pa.DataType] = field(default_factory=dict)
    windows: WindowCase | None = None
    # A source that cannot be read for good: a table or endpoint that does not exist (for
    # files, where a path matching nothing reads no rows, a malformed file).
    missing_source: Mapping[str, Any] | None = None
    # A place explore must refuse with ExploreError, e.g. ("schema", "no_such_schema").
    missing_place: tuple[ObjectType, str] | None = None
    # Values no message may contain: the secrets of `auth` and `refused_auth`.
    secrets: Sequence[str] = ()


def check_connector(case: ContractCase) -> None:
    """Every check of the kit that applies to the case's connector."""
    check_spec(case.connector)
    check_connection_test(case)
    if case.connector.spec.source_kind == "target":
        _check_not_readable(case)
        return
    check_explore(case)
    check_read(case)
    check_half_open_window(case)
    check_coded_errors(case)


def check_spec(connector: Connector) -> None:
    """The spec's id, JSON Schemas, secret fields and wire shape are well formed."""
    spec = connector.spec
    assert str(uuid.UUID(spec.id)) == spec.id, f"spec id {spec.id!r} is not a lowercase UUID"
    assert spec.source_kind in ("table", "file", "target"), spec.source_kind
    schemas = [("params", spec.params_schema)]
    if spec.data_schema is not None:
        schemas.append(("data", spec.data_schema))
    schemas += [(f"auth {a.name!r}", a.schema) for a in spec.auth_specs]
    for what, schema in schemas:
        Draft7Validator.check_schema(dict(schema))
        assert schema.get("type") == "object", f"{what} schema is not an object schema"
    for auth in spec.auth_specs:
        properties = auth.schema.get("properties", {})
        for name in auth.secret_fields:
            assert properties[name].get("type") == "string", f"secret {name} is not a string"
        assert spec.auth_spec(auth.name) is auth
    wire = json.loads(json.dumps(spec.to_wire()))
    assert wire["id"] == spec.id and wire["name"] == spec.name
    assert isinstance(wire["authSpec"], list)


def check_connection_test(case: ContractCase) -> None:
    """The working auth validates and tests; the refused one fails its test, with no secret."""
    connector = case.connector
    connector.validate_auth(case.context, case.auth)
    connector.test(case.context, case.auth)
    if case.refused_auth is None:
        return
    error = _raised(ConnectorError, lambda: connector.test(case.context, case.refused_auth or {}))
    assert isinstance(error, TerminalError), f"a refused connection test is transient: {error!r}"
    _check_message(error, case.secrets)


def check_explore(case: ContractCase) -> None:
    """The root lists explore items; a missing place is an ExploreError."""
    items = case.connector.explore(case.context, case.auth, "root", None)
    assert isinstance(items, list) and len(items) <= MAX_LISTED_OBJECTS
    for item in items:
        assert isinstance(item, ExploreItem), item
        wire = item.to_wire()
        assert wire["name"] and wire["path"], wire
    if case.missing_place is not None:
        object_type, place = case.missing_place
        error = _raised(
            ExploreError,
            lambda: case.connector.explore(case.context, case.auth, object_type, place),
        )
        _check_message(error, case.secrets)


def check_read(case: ContractCase) -> None:
    """A full read: schema fixed up front, on every batch, types as expected; and a limit."""
    if case.source is None:
        return
    read = case.connector.read(case.context, case.auth, case.source, ReadRequest(window=None))
    schema = read.schema
    table = read_table(read)
    assert table.schema == schema, "the read's schema changed while it was read"
    assert table.num_rows > 0, "the case's source holds no rows"
    assert read.progress.input_records == table.num_rows, "progress does not count the rows"
    for name, expected in case.expected_types.items():
        actual = schema.field(name).type
        assert actual == expected, f"column {name!r} reads as {actual}, not {expected}"
    limited = case.connector.read(
        case.context, case.auth, case.source, ReadRequest(window=None, limit=1)
    )
    assert read_table(limited).num_rows == 1, "a limit of 1 did not read exactly one row"


def check_half_open_window(case: ContractCase) -> None:
    """A read of `[start, end)` returns the rows on the start and none on the end."""
    windows = case.windows
    if windows is None:
        return
    request = ReadRequest(
        window=windows.window, delta_column=windows.delta_column, timezone=windows.timezone
    )
    read = case.connector.read(case.context, case.auth, windows.source, request)
    got = set(read_table(read).column(windows.key).to_pylist())
    assert windows.inside <= got, f"rows {sorted(windows.inside - got)} of the window are missing"
    leaked = got & windows.outside
    assert not leaked, f"rows {sorted(leaked)} outside the half-open window were read"


def check_coded_errors(case: ContractCase) -> None:
    """A missing source and a refused connection fail reads with coded errors, no secret."""
    if case.missing_source is not None:
        missing = case.missing_source
        error = _raised(SourceReadError, lambda: _read_all(case, case.auth, missing))
        assert isinstance(error, TerminalError), f"an unreadable source is transient: {error!r}"
        _check_message(error, case.secrets)
    if case.refused_auth is not None and case.source is not None:
        refused, source = case.refused_auth, case.source
        failure = _raised(ConnectorError, lambda: _read_all(case, refused, source))
        _check_message(failure, case.secrets)


def read_table(read: SourceRead) -> pa.Table:
    """Every batch of an open read as one table (the read closed), each batch checked."""
    with contextlib.closing(read):
        batches = list(_checked_batches(read))
    return pa.Table.from_batches(batches, schema=read.schema)


def _checked_batches(read: SourceRead) -> Iterator[pa.RecordBatch]:
    for batch in read.batches():
        assert batch.schema == read.schema, f"a batch has schema {batch.schema}"
        yield batch


def _read_all(case: ContractCase, auth: Mapping[str, Any], source: Mapping[str, Any]) -> None:
    read_table(case.connector.read(case.context, auth, source, ReadRequest(window=None)))


def _check_not_readable(case: ContractCase) -> None:
    connector = case.connector
    _raised(
        UnsupportedOperationError,
        lambda: connector.read(case.context, case.auth, {}, ReadRequest(window=None)),
    )
    _raised(
        UnsupportedOperationError,
        lambda: connector.explore(case.context, case.auth, "root", None),
    )


def _raised(expected: type[ConnectorError], call: Callable[[], object]) -> ConnectorError:
    try:
        call()
    except expected as error:
        return error
    raise AssertionError(f"expected {expected.__name__}, nothing was raised")


def _check_message(error: ConnectorError, secrets: Sequence[str]) -> None:
    assert ERROR_CODE.match(error.code), f"error code {error.code!r} is not CONNECTOR-nnnn-sss"
    assert error.message, f"{type(error).__name__} has no message"
    shown = f"{error.message} {error}"
    for secret in secrets:
        if secret:
            assert secret not in shown, f"a secret leaked into the message: {error.message!r}"

"""An example third-party Sluice connector: a calendar of hours or days, read by window.

Everything Sluice needs is `CONNECTOR`, named by this package's `sluice.connectors` entry
point. It implements the `Connector` protocol as a plain class, to show the protocol itself;
Sluice's own connectors use `FunctionConnector` instead.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pyarrow as pa

from sluice.connectors.contract import AuthSpec, ConnectionSpec, ConnectorContext
from sluice.connectors.errors import ConnectionTestFailed, ExploreError, TerminalReadError
from sluice.connectors.exploring import ExploreItem, ObjectType
from sluice.connectors.read_base import OpenRead
from sluice.connectors.reading import ReadRequest, SourceRead
from sluice.domain.errors import bad_request

TOKEN_PREFIX = "cal-"  # noqa: S105 - a prefix, not a secret
# Each table: the step between rows.
TABLES = {"hours": timedelta(hours=1), "days": timedelta(days=1)}
# A calendar ends, so that a full load ends too.
SPAN = timedelta(days=366)

TOKEN_AUTH = AuthSpec(
    name="Token Authentication",
    type="Token",
    schema={
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {
            "token": {"type": "string", "format": "password", "minLength": 1},
            "startDate": {"type": "string", "format": "date", "description": "First day."},
        },
        "required": ["token", "startDate"],
        "additionalProperties": False,
    },
)

SPEC = ConnectionSpec(
    id="3f1c9b0e-2a47-4d5e-8b6f-0c9d8e7a6b51",
    name="Calendar (example)",
    description="One row per hour or per day from a start date: an example connector.",
    category="protocols",
    source_kind="table",
    auth_specs=(TOKEN_AUTH,),
    params_schema={
        "type": "object",
        "properties": {"tableName": {"type": "string", "enum": sorted(TABLES)}},
        "required": ["tableName"],
    },
)

SCHEMA = pa.schema(
    [
        pa.field("at", pa.timestamp("us", tz="UTC")),
        pa.field("day", pa.date32()),
        pa.field("hour", pa.int8()),
    ]
)


def _start(auth: Mapping[str, Any]) -> datetime:
    try:
        first = date.fromisoformat(str(auth.get("startDate", "")))
    except ValueError:
        raise ConnectionTestFailed("startDate must be a date, YYYY-MM-DD.") from None
    return datetime(first.year, first.month, first.day, tzinfo=UTC)


def _step(source: Mapping[str, Any]) -> timedelta:
    name = str(source.get("params", {}).get("tableName", ""))
    if name not in TABLES:
        raise TerminalReadError(f'Table "{name}" does not exist; tables are hours and days.')
    return TABLES[name]


class CalendarRead(OpenRead):
    """The rows of one window, built in batches of at most `batch_rows`."""

    def __init__(self, first: datetime, last: datetime, step: timedelta, request: ReadRequest):
        super().__init__(SCHEMA)
        self._first, self._last, self._step, self._request = first, last, step, request

    def _times(self) -> Iterator[datetime]:
        at, emitted = self._first, 0
        while at < self._last and (self._request.limit is None or emitted < self._request.limit):
            yield at
            at += self._step
            emitted += 1

    def batches(self) -> Iterator[pa.RecordBatch]:
        chunk: list[datetime] = []
        for at in self._times():
            chunk.append(at)
            if len(chunk) == self._request.batch_rows:
                yield self._batch(chunk)
                chunk = []
        if chunk:
            yield self._batch(chunk)

    def _batch(self, times: list[datetime]) -> pa.RecordBatch:
        batch = pa.RecordBatch.from_pydict(
            {"at": times, "day": [t.date() for t in times], "hour": [t.hour for t in times]},
            schema=SCHEMA,
        )
        self._progress.input_records += batch.num_rows
        self._progress.input_bytes += batch.nbytes
        return batch

    def close(self) -> None:
        """Nothing is held open."""


class CalendarConnector:
    """The calendar connector: a `sluice.connectors.contract.Connector`."""

    @property
    def spec(self) -> ConnectionSpec:
        return SPEC

    def validate_auth(self, context: ConnectorContext, auth: Mapping[str, Any]) -> None:
        _start(auth)

    def test(self, context: ConnectorContext, auth: Mapping[str, Any]) -> None:
        self.validate_auth(context, auth)
        # Never repeat the token: say what is wrong with it, not what it is.
        if not str(auth.get("token", "")).startswith(TOKEN_PREFIX):
            raise ConnectionTestFailed(
                f"The token was refused: it must start with {TOKEN_PREFIX!r}."
            )

    def explore(
        self,
        context: ConnectorContext,
        auth: Mapping[str, Any],
        object_type: ObjectType,
        place: str | None,
    ) -> list[ExploreItem]:
        if object_type != "root":
            raise ExploreError(
                f"A calendar lists its tables at objectType=root, not {object_type}."
            )
        return [ExploreItem.for_table(name) for name in sorted(TABLES)]

    def read(
        self,
        context: ConnectorContext,
        auth: Mapping[str, Any],
        source: Mapping[str, Any],
        request: ReadRequest,
    ) -> SourceRead:
        try:
            self.test(context, auth)
            first = _start(auth)
        except ConnectionTestFailed as refused:
            raise TerminalReadError(refused.message) from None
        step = _step(source)
        last = first + SPAN
        if request.window is not None:
            if request.delta_column != "at":
                raise TerminalReadError('A window of the calendar needs the delta column "at".')
            # Half-open [start, end): the first row at or after start, none at end.
            start, end = request.window.start_datetime, request.window.end_datetime
            if start > first:
                first += -((first - start) // step) * step
            last = min(last, end)
        return CalendarRead(first, last, step, request)

    def check_delta_column(
        self,
        context: ConnectorContext,
        auth: Mapping[str, Any],
        source: Mapping[str, Any],
        column: str,
    ) -> None:
        if column != "at":
            raise bad_request(1000, f'column "{column}" cannot select a window; use "at"')


CONNECTOR = CalendarConnector()

"""Reading a REST endpoint: its pages of JSON records as bounded Arrow batches of one schema.

The schema is inferred from the first page, fetched when the read opens (when a window's
first page is empty, from the endpoint's first page without the window), and every later
record is conformed to it (`rest_records`): a record that does not fit is a bad row, not a
failed run. The window is sent as query parameters when the source says how
(`window.startParam`, ...) and enforced here too when the delta field is present, so a server
that ignores the parameters cannot break the window: rows whose delta value lies outside
`[start, end)`, or is null, are dropped.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Generator, Iterator, Mapping
from datetime import UTC, datetime
from itertools import chain
from typing import Any

import pyarrow as pa

from sluice.connectors.errors import TerminalReadError, UnreadableDataError
from sluice.connectors.read_base import SelfClosingRead
from sluice.connectors.reading import BadRow, ReadRequest, SourceRead
from sluice.connectors.rest.client import RestClient, RetryPolicy
from sluice.connectors.rest.config import (
    RestAuth,
    RestConfigError,
    RestSource,
    WindowParams,
    compiled_path,
    config_error,
    endpoint_url,
)
from sluice.connectors.rest.pagination import Page, pages
from sluice.connectors.rest.records import (
    RecordsNotFoundError,
    SchemaMismatchError,
    conform_record,
    delta_instant,
    find_field,
    infer_schema,
    select_records,
)
from sluice.connectors.tables.windowing import zone
from sluice.domain.errors import bad_request
from sluice.domain.windows import Window

_RAW_LIMIT = 1000  # characters of a bad record kept with its reason


class _Endpoint:
    """A source's endpoint on one connection: its URL, client, and how records are selected."""

    def __init__(
        self,
        context: Any,
        auth_params: Mapping[str, Any],
        source: Mapping[str, Any],
        policy: RetryPolicy = RetryPolicy(),
    ) -> None:
        try:
            auth = RestAuth.from_params(auth_params)
            self.source = RestSource.from_source(source)
            self.url = endpoint_url(auth.base_url, self.source.endpoint)
            self._path = compiled_path(self.source.records_path, "recordsPath")
        except RestConfigError as error:
            raise config_error(error) from None
        self.name = self.source.endpoint.strip("/") or "/"
        self.client = RestClient(context, auth, policy=policy)

    def select(self, body: Any) -> list[Any]:
        try:
            return select_records(body, self._path, self.source.records_path)
        except RecordsNotFoundError as error:
            raise UnreadableDataError(f'Endpoint "{self.name}": {error}') from None

    def pages(self, window: Window | None) -> Generator[Page, None, None]:
        query = {**self.source.query_params, **window_query(self.source.window, window)}
        return pages(self.client, self.url, query, self.source.pagination, self.select)

    def close(self) -> None:
        self.client.close()


def window_query(params: WindowParams | None, window: Window | None) -> dict[str, str]:
    """The query parameters that send `window` the way the source asks; an open side (a bound
    outside what the format can write) is not sent."""
    if params is None or window is None:
        return {}
    query = {}
    for name, bound in ((params.start_param, window.start), (params.end_param, window.end)):
        if name is None:
            continue
        value = _format_bound(bound, params.format)
        if value is not None:
            query[name] = value
    return query


def _format_bound(epoch: int, fmt: str) -> str | None:
    if fmt == "epochSeconds":
        return str(epoch)
    if fmt == "epochMillis":
        return str(epoch * 1000)
    try:
        instant = datetime.fromtimestamp(epoch, UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return instant.isoformat().replace("+00:00", "Z")


def _first_records(
    endpoint: _Endpoint, window: Window | None
) -> tuple[Generator[Page, None, None], Page]:
    walk = endpoint.pages(window)
    try:
        first = next(walk)
    except StopIteration:  # pragma: no cover - every walk yields at least one page
        raise TerminalReadError(f'Endpoint "{endpoint.name}" answered no page.') from None
    return walk, first


def open_source(
    context: Any, auth: Mapping[str, Any], source: Mapping[str, Any], request: ReadRequest
) -> SourceRead:
    """Fetch the first page (its records give the schema) and return the open read."""
    endpoint = _Endpoint(context, auth, source)
    try:
        walk, first = _first_records(endpoint, request.window)
        sample = first.records
        if not sample and request.window is not None:
            # An empty window still needs the endpoint's columns (a new dataset is created
            # from them): take them from the first page without the window.
            probe, schema_page = _first_records(endpoint, None)
            probe.close()
            sample = schema_page.records
        schema = infer_schema([r for r in sample if isinstance(r, dict)])
        delta = _delta_field(endpoint, schema, request)
    except BaseException:
        endpoint.close()
        raise
    return RestRead(endpoint, first, walk, schema, delta, request)


def _delta_field(endpoint: _Endpoint, schema: pa.Schema, request: ReadRequest) -> str | None:
    """The field the window is enforced on; None for a full read (or an endpoint with no
    records at all, where there is nothing to enforce)."""
    if request.window is None or request.delta_column is None or not schema.names:
        return None
    try:
        zone(request.timezone)
    except ValueError as error:
        raise TerminalReadError(f"Cannot read the window: {error}.") from None
    found = find_field(schema, request.delta_column)
    if found is None:
        raise TerminalReadError(
            f'The records of endpoint "{endpoint.name}" have no field "{request.delta_column}" '
            f"to select the window with; fields are {', '.join(schema.names)}.",
        )
    return found


def check_delta_column(
    context: Any, auth: Mapping[str, Any], source: Mapping[str, Any], column: str
) -> None:
    """BadRequestError (1000) unless the endpoint's records have the field `column` and its
    values read as times (ISO 8601 or epoch numbers). An endpoint with no records passes."""
    endpoint = _Endpoint(context, auth, source, RetryPolicy(attempts=2))
    try:
        walk, first = _first_records(endpoint, None)
        walk.close()
    finally:
        endpoint.close()
    records = [r for r in first.records if isinstance(r, dict)]
    if not records:
        return
    schema = infer_schema(records)
    found = find_field(schema, column)
    if found is None:
        raise bad_request(
            1000,
            f'field "{column}" does not exist in the records of endpoint "{endpoint.name}"; '
            f"fields are {', '.join(schema.names)}",
        )
    timezone = "UTC"
    for record in records:
        try:
            delta_instant(record.get(found), timezone)
        except SchemaMismatchError as error:
            raise bad_request(
                1000,
                f'field "{found}" of endpoint "{endpoint.name}" cannot select a window: a value '
                f"{error}; use a field of ISO 8601 times or epoch numbers",
            ) from None


class RestRead(SelfClosingRead):
    """An open read of one endpoint: batches of the first page's schema, at most batch_rows
    rows each, at most `limit` rows in all."""

    def __init__(
        self,
        endpoint: _Endpoint,
        first: Page,
        walk: Generator[Page, None, None],
        schema: pa.Schema,
        delta: str | None,
        request: ReadRequest,
    ) -> None:
        super().__init__(schema)
        self._endpoint: _Endpoint | None = endpoint
        self._name = endpoint.name
        self._first: Page | None = first
        self._walk = walk
        self._delta = delta
        self._request = request

    def _batches(self) -> Iterator[pa.RecordBatch]:
        limit = self._request.limit
        batch_rows = max(1, self._request.batch_rows)
        rows: list[dict[str, Any]] = []
        produced = 0
        if limit is not None and limit <= 0:
            return
        first, self._first = self._first, None
        for page in chain([first] if first else [], self._walk):
            self._progress.input_bytes += page.response.size
            for position, record in enumerate(page.records):
                row = self._row(record, page.number, position)
                if row is None:
                    continue
                rows.append(row)
                produced += 1
                if len(rows) >= batch_rows or (limit is not None and produced >= limit):
                    yield self._batch(rows)
                    rows = []
                if limit is not None and produced >= limit:
                    return
        if rows:
            yield self._batch(rows)

    def _batch(self, rows: list[dict[str, Any]]) -> pa.RecordBatch:
        batch = pa.RecordBatch.from_pylist(rows, schema=self._schema)
        self._progress.input_records += batch.num_rows
        return batch

    def _row(self, record: Any, page: int, position: int) -> dict[str, Any] | None:
        """The record as a row; None when it is outside the window or bad (recorded)."""
        try:
            if self._delta is not None and not self._in_window(record):
                return None
            return conform_record(record, self._schema)
        except SchemaMismatchError as error:
            self._progress.bad_rows.append(
                BadRow(
                    reason=str(error),
                    location=f'endpoint "{self._name}", page {page}, record {position + 1}',
                    raw=_raw(record),
                )
            )
            return None

    def _in_window(self, record: Any) -> bool:
        if not isinstance(record, dict):
            return True  # conform_record reports it
        window = self._request.window
        assert window is not None and self._delta is not None
        try:
            instant = delta_instant(record.get(self._delta), self._request.timezone)
        except SchemaMismatchError as error:
            raise SchemaMismatchError(f"delta field '{self._delta}' {error}") from None
        return instant is not None and window.start <= instant < window.end

    def close(self) -> None:
        endpoint, self._endpoint = self._endpoint, None
        if endpoint is None:
            return
        with contextlib.suppress(Exception):  # closing a half-walked generator is best effort
            self._walk.close()
        endpoint.close()


def _raw(record: Any) -> str:
    text = json.dumps(record, ensure_ascii=False, default=str)
    return text if len(text) <= _RAW_LIMIT else text[: _RAW_LIMIT - 3] + "..."

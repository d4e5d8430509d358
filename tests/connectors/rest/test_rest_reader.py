"""The REST reader against a real HTTP server on loopback: every paging style, windows sent
and enforced, JSONPath selection, inferred schemas, retries, and clear terminal errors."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest

from sluice.connectors.contract import ConnectorContext
from sluice.connectors.errors import SourceReadError
from sluice.connectors.reading import ReadRequest
from sluice.connectors.rest.client import RestClient
from sluice.connectors.rest.config import RestAuth
from sluice.connectors.rest.reader import check_delta_column, open_source
from sluice.connectors.rest.records import SchemaMismatchError, conform_record, infer_schema
from sluice.domain.errors import BadRequestError
from sluice.domain.windows import Window
from support.connector_reads import closed_port, read_all
from support.rest_server import (
    API_KEY,
    BASE,
    BASE_EPOCH,
    PASSWORD,
    RECORD_COUNT,
    TOKEN,
    USERNAME,
    RestServer,
    running_rest_server,
    updated_epoch,
)

ALL_IDS = list(range(1, RECORD_COUNT + 1))
SERVER_WINDOW = {"startParam": "updated_since", "endParam": "updated_before"}


@pytest.fixture
def server() -> Iterator[RestServer]:
    with running_rest_server() as running:
        yield running


def open_auth(server: RestServer, auth: str = "open", **extra: Any) -> dict[str, Any]:
    return {"baseUrl": server.base(auth), **extra}


def source(endpoint: str, **params: Any) -> dict[str, Any]:
    return {"data": {"format": "tabular"}, "params": {"endpoint": endpoint, **params}}


def read(context: ConnectorContext, auth: dict[str, Any], src: dict[str, Any],
         request: ReadRequest | None = None) -> tuple[pa.Table, list[pa.RecordBatch]]:
    return read_all(open_source(context, auth, src, request or ReadRequest(window=None)))


def ids_of(table: pa.Table) -> list[int]:
    return sorted(table.column("id").to_pylist())


def failure(context: ConnectorContext, auth: dict[str, Any], src: dict[str, Any],
            request: ReadRequest | None = None) -> SourceReadError:
    with pytest.raises(SourceReadError) as caught:
        read(context, auth, src, request)
    return caught.value


PAGINATIONS = {
    "none": ("plain", {}, 1),
    "pageNumber": ("pages", {"recordsPath": "$.data[*]", "pagination": {
        "type": "pageNumber", "pageParam": "page", "sizeParam": "per_page", "pageSize": 300}},
        9),  # 8 full pages and a short one
    "offset": ("offset", {"recordsPath": "$.items", "pagination": {
        "type": "offset", "offsetParam": "offset", "sizeParam": "limit", "pageSize": 250}},
        11),  # 10 full pages, then an empty one (2500 is a multiple of 250)
    "cursor": ("cursor", {"recordsPath": "$.results", "pagination": {
        "type": "cursor", "cursorParam": "cursor", "cursorPath": "$.meta.next"}}, 25),
    "linkHeader": ("linked", {"pagination": {"type": "linkHeader"}}, 25),
}


@pytest.mark.parametrize("style", list(PAGINATIONS))
def test_each_pagination_style_reads_every_record_exactly_once(
    context: ConnectorContext, server: RestServer, style: str
) -> None:
    route, params, requests = PAGINATIONS[style]
    table, _ = read(context, open_auth(server), source(route, **params))
    assert table.column("id").to_pylist() == ALL_IDS  # in order, none twice
    assert len(server.calls(route)) == requests


def test_page_numbers_start_where_the_source_says(
    context: ConnectorContext, server: RestServer
) -> None:
    pagination = {"type": "pageNumber", "sizeParam": "per_page", "pageSize": 1000,
                  "startPage": 2}
    table, _ = read(context, open_auth(server),
                    source("pages", recordsPath="$.data", pagination=pagination))
    assert ids_of(table) == list(range(1001, RECORD_COUNT + 1))
    assert [c.query["page"] for c in server.calls("pages")] == ["2", "3"]


def test_max_pages_stops_the_walk(context: ConnectorContext, server: RestServer) -> None:
    table, _ = read(context, open_auth(server), source(
        "cursor", recordsPath="$.results",
        pagination={"type": "cursor", "cursorPath": "$.meta.next", "maxPages": 3}))
    assert ids_of(table) == list(range(1, 301))
    assert len(server.calls("cursor")) == 3


def test_a_server_that_ignores_the_page_parameter_is_an_error_not_a_loop(
    context: ConnectorContext, server: RestServer
) -> None:
    error = failure(context, open_auth(server), source(
        "same", recordsPath="$.data", pagination={"type": "pageNumber"}))
    assert not error.transient
    assert "ignore the pagination parameters" in error.message
    assert len(server.calls("same")) == 2


# -- windows ----------------------------------------------------------------------------------

WINDOW = Window(updated_epoch(1000), updated_epoch(1100))  # ids 1000..1099


@pytest.mark.parametrize("fmt, start, end", [
    ("epochSeconds", str(updated_epoch(1000)), str(updated_epoch(1100))),
    ("epochMillis", str(updated_epoch(1000) * 1000), str(updated_epoch(1100) * 1000)),
    ("iso8601", "2024-05-01T16:40:00Z", "2024-05-01T18:20:00Z"),
])
def test_the_window_is_sent_in_the_format_the_source_asks(
    context: ConnectorContext, server: RestServer, fmt: str, start: str, end: str
) -> None:
    request = ReadRequest(window=WINDOW, delta_column="updated_at")
    table, _ = read(context, open_auth(server), source(
        "pages", recordsPath="$.data[*]", window={**SERVER_WINDOW, "format": fmt},
        pagination={"type": "pageNumber", "sizeParam": "per_page", "pageSize": 40}), request)
    assert ids_of(table) == list(range(1000, 1100))
    calls = server.calls("pages")
    assert len(calls) == 3  # 100 windowed records: 40 + 40 + 20
    for call in calls:
        assert (call.query["updated_since"], call.query["updated_before"]) == (start, end)


def test_fixed_query_params_are_sent_on_every_page(
    context: ConnectorContext, server: RestServer
) -> None:
    read(context, open_auth(server), source(
        "cursor", recordsPath="$.results", queryParams={"expand": "all", "active": True, "v": 2},
        pagination={"type": "cursor", "cursorPath": "$.meta.next", "maxPages": 2}))
    for call in server.calls("cursor"):
        assert {k: call.query[k] for k in ("expand", "active", "v")} == {
            "expand": "all", "active": "true", "v": "2"}


def test_a_full_load_sends_no_window(context: ConnectorContext, server: RestServer) -> None:
    table, _ = read(context, open_auth(server), source("plain", window=SERVER_WINDOW))
    assert table.num_rows == RECORD_COUNT
    assert "updated_since" not in server.calls("plain")[0].query


def _at(seconds: float) -> str:
    return (BASE + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


BOUNDARY_RECORDS: list[dict[str, Any]] = [
    {"id": 1, "updated_at": _at(-0.000001)},  # a microsecond before the start: out
    {"id": 2, "updated_at": _at(0)},  # on the start: in
    {"id": 3, "updated_at": _at(3599.999999)},  # just before the end: in
    {"id": 4, "updated_at": _at(3600)},  # on the end: out
    {"id": 5, "updated_at": None},  # no delta value: out, as NULL is in SQL
    {"id": 6, "updated_at": "2024-05-01T02:30:00+02:00"},  # 00:30 UTC: in
    {"id": 7, "updated_at": BASE_EPOCH + 60},  # epoch seconds: in
    {"id": 8, "updated_at": (BASE_EPOCH + 120) * 1000},  # epoch milliseconds: in
    {"id": 9, "updated_at": "2024-05-01T00:45:00"},  # zone-less, read in UTC: in
    {"id": 10, "updated_at": "2024-05-01"},  # a date is its midnight: in
    {"id": 11, "updated_at": str(BASE_EPOCH + 7200)},  # numeric text, an hour after: out
    {"id": 12, "updated_at": "yesterday-ish"},  # not a time: a bad row
]


def test_the_window_is_enforced_even_when_the_server_ignores_it(
    context: ConnectorContext,
) -> None:
    with running_rest_server(BOUNDARY_RECORDS) as server:
        opened = open_source(
            context, open_auth(server),
            source("plain", window={"startParam": "ignored_from", "endParam": "ignored_to"}),
            ReadRequest(window=Window(BASE_EPOCH, BASE_EPOCH + 3600), delta_column="updated_at"))
        table, _ = read_all(opened)
    assert ids_of(table) == [2, 3, 6, 7, 8, 9, 10]
    (bad,) = opened.progress.bad_rows
    assert "delta field 'updated_at'" in bad.reason and "ISO 8601" in bad.reason
    assert bad.location == 'endpoint "plain", page 1, record 12'
    assert bad.raw is not None and "yesterday-ish" in bad.raw


def test_zone_less_delta_values_are_read_in_the_flow_timezone(
    context: ConnectorContext,
) -> None:
    records = [{"id": 1, "updated_at": "2024-05-01T01:30:00"},  # 23:30 UTC the day before
               {"id": 2, "updated_at": "2024-05-01T02:30:00"}]  # 00:30 UTC
    with running_rest_server(records) as server:
        table, _ = read(context, open_auth(server), source("plain"), ReadRequest(
            window=Window(BASE_EPOCH, BASE_EPOCH + 3600), delta_column="updated_at",
            timezone="Europe/Paris"))
    assert ids_of(table) == [2]


def test_a_window_on_a_field_the_records_lack_is_terminal(
    context: ConnectorContext, server: RestServer
) -> None:
    error = failure(context, open_auth(server), source("plain"),
                    ReadRequest(window=WINDOW, delta_column="modified"))
    assert not error.transient and 'no field "modified"' in error.message
    assert "updated_at" in error.message


def test_an_empty_window_still_knows_the_endpoint_columns(
    context: ConnectorContext, server: RestServer
) -> None:
    empty = Window(BASE_EPOCH - 7200, BASE_EPOCH - 3600)
    opened = open_source(context, open_auth(server), source("plain", window=SERVER_WINDOW),
                         ReadRequest(window=empty, delta_column="updated_at"))
    table, batches = read_all(opened)
    assert batches == [] and table.num_rows == 0
    assert opened.schema.names == ["id", "updated_at", "customer", "amount", "tags"]
    calls = server.calls("plain")
    assert "updated_since" in calls[0].query and "updated_since" not in calls[1].query


# -- records and schema -----------------------------------------------------------------------

def test_nested_records_become_structs_and_lists(
    context: ConnectorContext, server: RestServer
) -> None:
    table, _ = read(context, open_auth(server), source("plain"))
    assert table.schema == pa.schema([
        ("id", pa.int64()),
        # ISO 8601 date-times with a zone land as UTC timestamps (windowable, replaceable)
        ("updated_at", pa.timestamp("us", tz="UTC")),
        ("customer", pa.struct([("name", pa.string()), ("tier", pa.string())])),
        ("amount", pa.float64()),
        ("tags", pa.list_(pa.string())),
    ])
    first = table.slice(0, 1).to_pylist()[0]
    assert first == {"id": 1, "updated_at": datetime(2024, 5, 1, 0, 1, tzinfo=UTC),
                     "customer": {"name": "Customer 1", "tier": "silver"},
                     "amount": 1.26, "tags": ["t1"]}
    assert table.slice(3, 1).to_pylist()[0]["tags"] == []


@pytest.mark.parametrize("route, path", [
    ("pages", "$.data[*]"), ("pages", "$.data"), ("offset", "$['items']"), ("plain", "$"),
    ("plain", "$[*]"),
])
def test_records_are_selected_by_json_path(
    context: ConnectorContext, server: RestServer, route: str, path: str
) -> None:
    table, _ = read(context, open_auth(server), source(route, recordsPath=path))
    assert table.num_rows == 100 if route != "plain" else RECORD_COUNT


@pytest.mark.parametrize("route, path, fragment", [
    ("pages", "$.records[*]", "selects no list of records"),
    ("pages", "$.page", "selects a JSON integer, not records"),
    ("scalar", "$.data", "selects a JSON integer, not records"),
    ("pages", "$.data[?", "is not valid JSONPath"),
])
def test_a_records_path_that_finds_no_records_is_terminal(
    context: ConnectorContext, server: RestServer, route: str, path: str, fragment: str
) -> None:
    error = failure(context, open_auth(server), source(route, recordsPath=path))
    assert not error.transient and fragment in error.message


def test_scalars_among_the_records_are_bad_rows(context: ConnectorContext) -> None:
    with running_rest_server([{"id": 1}, 5, {"id": 2}]) as server:  # type: ignore[list-item]
        opened = open_source(context, open_auth(server), source("plain"),
                             ReadRequest(window=None))
        table, _ = read_all(opened)
    assert table.column("id").to_pylist() == [1, 2]
    (bad,) = opened.progress.bad_rows
    assert bad.reason == "the record is a JSON integer, not an object" and bad.raw == "5"


def test_an_empty_list_under_the_records_path_is_no_records(context: ConnectorContext) -> None:
    with running_rest_server([]) as server:
        table, batches = read(context, open_auth(server),
                              source("pages", recordsPath="$.data[*]"))
    assert table.num_rows == 0 and batches == [] and table.schema.names == []


def test_later_pages_are_conformed_to_the_first_pages_schema(
    context: ConnectorContext,
) -> None:
    records: list[dict[str, Any]] = [{"id": i, "amount": 1.5, "meta": {"a": 1}}
                                     for i in range(1, 4)]
    records += [
        {"id": 4, "amount": 2, "meta": {"a": 2, "b": "new"}, "extra": "new field"},
        {"id": 5, "amount": "lots", "meta": {"a": 3}},  # cannot be a number: a bad row
        {"id": 6, "meta": "flat"},  # an object field holding text: a bad row
        {"id": 7.0, "amount": None},  # an integral float fits int64; missing fields are null
    ]
    with running_rest_server(records) as server:
        opened = open_source(context, open_auth(server), source(
            "pages", recordsPath="$.data",
            pagination={"type": "pageNumber", "sizeParam": "per_page", "pageSize": 3}),
            ReadRequest(window=None))
        table, _ = read_all(opened)
    assert table.schema.names == ["id", "amount", "meta"]  # `extra` is left out
    assert table.column("id").to_pylist() == [1, 2, 3, 4, 7]
    assert table.slice(3, 2).to_pylist() == [
        {"id": 4, "amount": 2.0, "meta": {"a": 2}}, {"id": 7, "amount": None, "meta": None}]
    reasons = [(b.location, b.reason) for b in opened.progress.bad_rows]
    assert reasons == [
        ('endpoint "pages", page 2, record 2',
         "field 'amount' holds a JSON string, not a number"),
        ('endpoint "pages", page 2, record 3', "field 'meta' holds a JSON string, not an object"),
    ]


def test_fields_of_mixed_or_unknown_type_keep_every_value_as_text(
    context: ConnectorContext,
) -> None:
    records = [{"id": 1, "code": "A1", "note": None},
               {"id": 2, "code": 7, "note": None},
               {"id": 3, "code": {"x": 1}, "note": [1, "two"]}]
    with running_rest_server(records) as server:
        table, _ = read(context, open_auth(server), source("plain", recordsPath="$[0:2]"))
        assert table.schema.field("code").type == pa.string()
        assert table.schema.field("note").type == pa.string()
        table, _ = read(context, open_auth(server), source("plain"))
    assert table.column("code").to_pylist() == ["A1", "7", '{"x": 1}']


# -- limits and batches -----------------------------------------------------------------------

def test_a_limit_stops_reading_after_that_many_rows(
    context: ConnectorContext, server: RestServer
) -> None:
    table, _ = read(context, open_auth(server), source(
        "pages", recordsPath="$.data",
        pagination={"type": "pageNumber", "sizeParam": "per_page", "pageSize": 100}),
        ReadRequest(window=None, limit=7))
    assert table.column("id").to_pylist() == [1, 2, 3, 4, 5, 6, 7]
    assert len(server.calls("pages")) == 1  # no page past the limit is fetched


def test_batches_are_bounded(context: ConnectorContext, server: RestServer) -> None:
    table, batches = read(context, open_auth(server), source("plain"),
                          ReadRequest(window=None, batch_rows=128))
    assert table.num_rows == RECORD_COUNT
    assert [b.num_rows for b in batches] == [128] * 19 + [RECORD_COUNT - 128 * 19]


def test_progress_counts_bytes_and_records(context: ConnectorContext, server: RestServer) -> None:
    opened = open_source(context, open_auth(server), source("plain"), ReadRequest(window=None))
    read_all(opened)
    assert opened.progress.input_records == RECORD_COUNT
    assert opened.progress.input_bytes > RECORD_COUNT * 50


# -- HTTP behaviour ---------------------------------------------------------------------------

def test_a_429_is_retried_after_the_servers_delay(
    context: ConnectorContext, server: RestServer
) -> None:
    table, _ = read(context, open_auth(server), source("flaky429"))
    assert table.num_rows == RECORD_COUNT
    assert len(server.calls("flaky429")) == 2


def test_503s_are_retried_with_backoff(context: ConnectorContext, server: RestServer) -> None:
    table, _ = read(context, open_auth(server), source("flaky503"))
    assert table.num_rows == RECORD_COUNT
    assert len(server.calls("flaky503")) == 3


def test_a_server_failing_every_retry_is_a_transient_error(
    context: ConnectorContext, server: RestServer
) -> None:
    error = failure(context, open_auth(server), source("always503"))
    assert error.transient and error.code == "CONNECTOR-1001-500"
    assert "HTTP 503" in error.message and "4 attempts" in error.message
    assert len(server.calls("always503")) == 4


def test_an_unreachable_server_is_a_transient_error(context: ConnectorContext) -> None:
    auth = {"baseUrl": f"http://127.0.0.1:{closed_port()}/api"}
    error = failure(context, auth, source("plain"))
    assert error.transient and "cannot be reached" in error.message


@pytest.mark.parametrize("auth, params", [
    ("key", {"headerName": "X-API-Key", "apiKey": "Wrong-K3y:Secret/Sent"}),
    ("bearer", {"token": "Wrong-T0ken/Secret+Sent"}),
    ("basic", {"username": USERNAME, "password": "Wrong-Pa55:w@rd/Sent"}),
    ("key", {}),  # no credentials at all
])
def test_refused_credentials_are_terminal_and_never_echoed(
    context: ConnectorContext, server: RestServer, auth: str, params: dict[str, str]
) -> None:
    error = failure(context, open_auth(server, auth, **params), source("plain"))
    assert not error.transient and error.code == "CONNECTOR-1001-500"
    assert "HTTP 401" in error.message and "authentication refused" in error.message
    for secret in [*params.values(), API_KEY, TOKEN, PASSWORD]:
        assert secret == USERNAME or secret not in error.message  # the user name is no secret
    assert len(server.calls("plain")) == 1  # not retried


@pytest.mark.parametrize("auth, params", [
    ("key", {"apiKey": API_KEY}),  # headerName defaults to X-API-Key
    ("bearer", {"token": TOKEN}),
    ("basic", {"username": USERNAME, "password": PASSWORD}),
])
def test_each_auth_kind_reads(context: ConnectorContext, server: RestServer, auth: str,
                              params: dict[str, str]) -> None:
    table, _ = read(context, open_auth(server, auth, **params), source("plain"))
    assert table.num_rows == RECORD_COUNT


def test_a_403_is_terminal(context: ConnectorContext, server: RestServer) -> None:
    error = failure(context, open_auth(server), source("forbidden"))
    assert not error.transient and "HTTP 403" in error.message


def test_a_missing_endpoint_is_terminal(context: ConnectorContext, server: RestServer) -> None:
    error = failure(context, open_auth(server), source("nowhere"))
    assert not error.transient and "HTTP 404" in error.message and "endpoint" in error.message


def test_an_html_answer_is_terminal(context: ConnectorContext, server: RestServer) -> None:
    error = failure(context, open_auth(server), source("html"))
    assert not error.transient and error.code == "CONNECTOR-2001-500"
    assert "not JSON (text/html)" in error.message


def test_a_redirect_to_another_host_is_refused(
    context: ConnectorContext, server: RestServer
) -> None:
    error = failure(context, open_auth(server), source("redirect-away"))
    assert not error.transient and "redirected to another host (127.0.0.2)" in error.message
    assert len(server.calls("plain")) == 0


def test_a_redirect_on_the_same_host_is_followed(
    context: ConnectorContext, server: RestServer
) -> None:
    table, _ = read(context, open_auth(server), source("redirect-here"))
    assert table.num_rows == RECORD_COUNT and len(server.calls("plain")) == 1


def test_a_next_link_to_another_host_is_refused(
    context: ConnectorContext, server: RestServer
) -> None:
    error = failure(context, open_auth(server), source(
        "link-away", pagination={"type": "linkHeader"}))
    assert not error.transient and "another host" in error.message


def test_a_response_above_the_size_cap_is_terminal(
    context: ConnectorContext, server: RestServer
) -> None:
    client = RestClient(context, RestAuth.from_params(open_auth(server)), max_bytes=100 * 1024)
    try:
        assert client.get(f"{server.base()}/pages").status_code == 200
        with pytest.raises(SourceReadError) as caught:
            client.get(f"{server.base()}/plain")  # 2,500 records: ~350 KiB
    finally:
        client.close()
    assert not caught.value.transient and "larger than 100 KiB" in caught.value.message


@pytest.mark.parametrize("endpoint", [
    "../admin", "v1/../../admin", "http://127.0.0.2/x", "//127.0.0.2/x", "a/%2e%2e/b", "a?x=1",
])
def test_endpoints_cannot_leave_the_base_url(
    context: ConnectorContext, server: RestServer, endpoint: str
) -> None:
    error = failure(context, open_auth(server), source(endpoint))
    assert not error.transient and "must be a path under the base URL" in error.message
    assert server.requests == []


@pytest.mark.parametrize("base_url, fragment", [
    ("http://169.254.169.254/latest", "cloud metadata endpoint"),
    ("http://[fe80::1]:8080/api", "link-local"),
    ("ftp://127.0.0.1/api", "http:// or https://"),
    ("http://user:pw@127.0.0.1/api", "must not carry a user or password"),
])
def test_the_base_url_is_guarded(context: ConnectorContext, base_url: str,
                                 fragment: str) -> None:
    error = failure(context, {"baseUrl": base_url}, source("plain"))
    assert not error.transient and fragment in error.message


def test_the_operator_allow_list_opens_a_guarded_host(
    context: ConnectorContext, server: RestServer
) -> None:
    # On Linux, connecting to 0.0.0.0 reaches this machine's loopback: refused by default.
    unspecified = {"baseUrl": f"http://0.0.0.0:{server.port}/open"}
    assert "not a server" in failure(context, unspecified, source("plain")).message
    allowing = replace(context, allowed_hosts=("0.0.0.0",))
    table, _ = read(allowing, unspecified, source("plain"))
    assert table.num_rows == RECORD_COUNT


# -- delta column check -----------------------------------------------------------------------

def test_the_delta_column_check_accepts_a_time_field(
    context: ConnectorContext, server: RestServer
) -> None:
    check_delta_column(context, open_auth(server), source("plain"), "updated_at")
    check_delta_column(context, open_auth(server), source("plain"), "UPDATED_AT")
    assert len(server.calls("plain")) == 2


@pytest.mark.parametrize("column, fragment", [
    ("modified", 'field "modified" does not exist in the records of endpoint "plain"; '
                 "fields are id, updated_at, customer, amount, tags"),
    ("customer", 'field "customer" of endpoint "plain" cannot select a window'),
])
def test_the_delta_column_check_refuses_what_cannot_window(
    context: ConnectorContext, server: RestServer, column: str, fragment: str
) -> None:
    with pytest.raises(BadRequestError) as caught:
        check_delta_column(context, open_auth(server), source("plain"), column)
    assert caught.value.code == 1000 and fragment in caught.value.message


def test_the_delta_column_check_reports_an_unreachable_source(
    context: ConnectorContext,
) -> None:
    with pytest.raises(SourceReadError):
        check_delta_column(context, {"baseUrl": f"http://127.0.0.1:{closed_port()}"},
                           source("plain"), "updated_at")


def test_a_preview_names_the_endpoint_as_table_name(
    context: ConnectorContext, server: RestServer
) -> None:
    table, _ = read(context, open_auth(server), {"params": {"tableName": "plain"}},
                    ReadRequest(window=None, limit=100))
    assert table.num_rows == 100 and table.column("id").to_pylist()[:2] == [1, 2]
    root, _ = read(context, {"baseUrl": f"{server.base()}/plain"}, {"params": {"tableName": "/"}},
                   ReadRequest(window=None, limit=5))
    assert root.num_rows == 5


def test_iso_window_bounds_outside_the_calendar_are_not_sent(
    context: ConnectorContext, server: RestServer
) -> None:
    huge = Window(updated_epoch(1), 2**62)
    table, _ = read(context, open_auth(server),
                    source("plain", window={**SERVER_WINDOW, "format": "iso8601"}),
                    ReadRequest(window=huge, delta_column="updated_at"))
    assert table.num_rows == RECORD_COUNT
    query = server.calls("plain")[0].query
    assert query["updated_since"] == "2024-05-01T00:01:00Z" and "updated_before" not in query
    assert datetime.fromisoformat(query["updated_since"]).tzinfo == UTC


# -- date-time inference ------------------------------------------------------------------------

def test_iso_date_times_are_typed_and_other_strings_stay_text() -> None:
    records = [
        {"zoned": "2024-05-01T10:00:00+02:00", "naive": "2024-05-01 10:00:00",
         "mixed": "2024-05-01T10:00:00Z", "day": "2024-05-01", "word": "soon"},
        {"zoned": "2024-05-02T00:00:00Z", "naive": "2024-05-02T00:00:00.5",
         "mixed": "2024-05-02T00:00:00", "day": "2024-05-02", "word": "later"},
    ]
    schema = infer_schema(records)
    assert schema.field("zoned").type == pa.timestamp("us", tz="UTC")
    assert schema.field("naive").type == pa.timestamp("us")
    assert schema.field("mixed").type == pa.string()  # zoned and zone-less: no one instant type
    assert schema.field("day").type == pa.string()  # a bare date is not taken for a time
    assert schema.field("word").type == pa.string()
    rows = pa.RecordBatch.from_pylist([conform_record(r, schema) for r in records], schema=schema)
    assert rows.column("zoned").to_pylist() == [
        datetime(2024, 5, 1, 8, tzinfo=UTC), datetime(2024, 5, 2, tzinfo=UTC)]
    assert rows.column("naive").to_pylist() == [
        datetime(2024, 5, 1, 10), datetime(2024, 5, 2, 0, 0, 0, 500_000)]


def test_a_later_value_that_is_not_a_date_time_is_a_bad_row() -> None:
    schema = infer_schema([{"at": "2024-05-01T10:00:00Z"}])
    with pytest.raises(SchemaMismatchError, match="ISO 8601 date-time with a zone"):
        conform_record({"at": "yesterday"}, schema)
    with pytest.raises(SchemaMismatchError):
        conform_record({"at": "2024-05-01T10:00:00"}, schema)  # zone-less in a zoned field

"""Property-based tests of every parser that takes user input: whatever the input, the
parser answers a value or its coded error, never another exception (which would be a 500).

Hypothesis generates the inputs: arbitrary text (all of Unicode, including digits of other
scripts), JSON-like values, and near-misses built from the grammar each parser expects.
"""

from __future__ import annotations

import json
import string
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sluice.connectors.contract import ConnectorContext
from sluice.connectors.errors import ConnectionTestFailed, SourceReadError
from sluice.connectors.files.selection import relative_parts
from sluice.connectors.host_guard import HostRefusedError
from sluice.connectors.mysql.session import settings_from_params
from sluice.connectors.paths import PathOutsideRootsError, resolve_inside_roots
from sluice.connectors.postgresql import connection as postgresql
from sluice.connectors.sql_database.connection import parse_url
from sluice.domain.errors import BadRequestError
from sluice.domain.list_query import ListQuery, encode_token, parse_list_query
from sluice.domain.mapping_sets import parse_source_path
from sluice.domain.numbers import ascii_decimal, ascii_whole_number, whole_number
from sluice.domain.patching import normalize_operations
from sluice.domain.run_params import epoch_seconds, parse_run_request
from sluice.domain.schedule import parse_schedule

PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NOW = 1_700_000_000

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                max_size=4),
    max_leaves=12,
)
# Digits of every script, signs, spaces and separators: the near-misses of a number.
numberish = st.text(
    alphabet=st.sampled_from(
        "0123456789+-._e ²³¹\u00a0\uff10\uff11\uff19\u0660\u0669\u09e6\u066b,"
    ),
    max_size=25,
)
text = st.text(max_size=60) | numberish


def _bad_request(error: BadRequestError) -> None:
    assert error.status == 400 and error.code >= 1000 and error.message


@PROPERTY
@given(numberish | st.text(max_size=40))
def test_ascii_numbers_are_exactly_the_ascii_digit_strings(value: str) -> None:
    number = ascii_whole_number(value, spaces=True)
    assert ascii_whole_number(value) == (number if value == value.strip(" \t\r\n") else None)
    stripped = value.strip(" \t\r\n")
    is_ascii_digits = bool(stripped) and all(c in string.digits for c in stripped)
    assert (number is not None) == (is_ascii_digits and len(stripped) <= 32)
    if number is not None:
        assert number == int(stripped) and number >= 0
    decimal = ascii_decimal(value)
    if decimal is not None:
        assert decimal.is_finite() and stripped.isascii()


@PROPERTY
@given(json_values | numberish)
def test_epoch_seconds_is_a_bounded_integer_or_1384(value: Any) -> None:
    try:
        seconds = epoch_seconds(value, "windowStartTime")
    except BadRequestError as error:
        assert error.code == 1384
        return
    assert isinstance(seconds, int) and 0 <= seconds <= 253_402_300_799
    assert whole_number(value, spaces=True) == seconds


run_params = st.fixed_dictionaries(
    {},
    optional={
        "startTime": json_values | numberish,
        "windowStartTime": json_values | numberish,
        "windowEndTime": json_values | numberish,
        "deltaColumn": json_values | st.fixed_dictionaries({"name": text}),
    },
)


@PROPERTY
@given(json_values | st.fixed_dictionaries({"flowId": text | json_values, "params": run_params}))
def test_run_requests_parse_or_answer_a_coded_400(body: Any) -> None:
    try:
        request = parse_run_request(body)
    except BadRequestError as error:
        _bad_request(error)
        return
    assert request.window_start <= request.window_end


schedules = st.fixed_dictionaries(
    {},
    optional={
        "startTime": json_values | numberish,
        "frequency": st.sampled_from(["once", "minute", "hour", "day", "week"]) | text,
        "interval": json_values | numberish,
        "backfill": json_values | st.sampled_from(["true", "false"]),
    },
)


@PROPERTY
@given(schedules | json_values)
def test_schedules_parse_or_answer_a_coded_400(raw: Any) -> None:
    try:
        schedule = parse_schedule(raw, now=NOW)
    except BadRequestError as error:
        _bad_request(error)
        return
    assert schedule.start_time >= NOW - 60


filter_text = st.builds(
    lambda field, op, value: f"{field}{op}{value}",
    st.sampled_from(["name", "createdAt", "flowId", "a.b.c", "x[]", "1bad", "", "state"]) | text,
    st.sampled_from(["==", "!=", ">", "<", ">=", "<=", "~", "=", "=<", ""]),
    text,
)
query_params = st.fixed_dictionaries(
    {},
    optional={
        "property": st.lists(filter_text | text, max_size=3),
        "orderby": st.lists(text | st.sampled_from(["+name", "-createdAt", "x y"]), max_size=2),
        "limit": st.lists(numberish | text, max_size=2),
        "count": st.lists(st.sampled_from(["true", "false"]) | text, max_size=2),
        "continuationToken": st.lists(text, max_size=2),
    },
)


@PROPERTY
@given(query_params)
def test_list_queries_parse_or_answer_a_coded_400(params: dict[str, list[str]]) -> None:
    try:
        query = parse_list_query(params, 50, 1000, resource="/flows")
    except BadRequestError as error:
        _bad_request(error)
        return
    assert 1 <= query.limit <= 1000 and query.resource == "/flows"


@PROPERTY
@given(st.integers() | st.text(max_size=20) | json_values, st.text(max_size=20))
def test_a_token_is_honoured_only_by_the_collection_and_query_that_issued_it(
    last_value: Any, last_id: str
) -> None:
    token = encode_token(ListQuery(limit=10, resource="/runs"), last_value, last_id)
    resumed = parse_list_query({"continuationToken": [token]}, 50, 1000, resource="/runs")
    # Compared as JSON: a NaN read back is the same token value, though NaN != NaN.
    assert json.dumps(resumed.after) == json.dumps([last_value, last_id])
    assert resumed.limit == 10
    for other in ("/flows", "/runs/x", ""):
        try:
            parse_list_query({"continuationToken": [token]}, 50, 1000, resource=other)
        except BadRequestError as error:
            assert error.code == 1452
        else:
            raise AssertionError(f"a /runs token was accepted by {other!r}")


patch_paths = st.builds(lambda parts: "/" + "/".join(parts), st.lists(text, max_size=4)) | text
operations = st.lists(
    st.fixed_dictionaries(
        {"op": st.sampled_from(["add", "replace", "remove", "move", "test"]) | text,
         "path": patch_paths | json_values},
        optional={"value": json_values},
    ) | json_values,
    max_size=3,
)


@PROPERTY
@given(operations | json_values)
def test_json_patch_documents_are_checked_or_answer_a_coded_400(body: Any) -> None:
    try:
        normalized = normalize_operations(body, frozenset({"name", "description", "auth"}))
    except BadRequestError as error:
        _bad_request(error)
        return
    assert all(op["op"] in ("add", "replace", "remove") for op in normalized)


@PROPERTY
@given(text | st.builds(lambda a, b: f"$.{a}[{b}].{a}", text, numberish))
def test_mapping_source_paths_parse_or_say_what_is_wrong(path: str) -> None:
    # Its contract: ValueError with a message, which the mapping-set check turns into 1419.
    try:
        parsed = parse_source_path(path)
    except ValueError as error:
        assert str(error)
        return
    indexes = [step for step in parsed.steps if isinstance(step, int)]
    assert all(0 <= index < 10**9 for index in indexes)


def test_a_json_path_index_is_ascii_digits() -> None:
    assert parse_source_path("$.items[12]").steps == (12,)
    for index in ("\u0661", "\uff11", "\u00b2"):
        try:
            parse_source_path(f"$.items[{index}]")
        except ValueError:
            continue
        raise AssertionError(f"index {index!r} was accepted")


CONTEXT = ConnectorContext(
    allowed_file_roots=(Path("/srv/sluice-files"),),
    lake_dir=Path("/srv/sluice-data/lake"),
    metadata_database_url="sqlite:////srv/sluice-data/sluice.db",
    # Every test host is "allowed", so no DNS lookup runs: the parsing is what is tested.
    allowed_hosts=("0.0.0.0/0", "::/0"),
)
conninfo_parts = st.lists(
    st.builds(lambda k, v: f"{k}={v}",
              st.sampled_from(["host", "hostaddr", "port", "dbname", "user", "password",
                               "passfile", "sslmode", "service", "options"]) | text,
              numberish | text | st.sampled_from(["'a b'", "''", "127.0.0.1", "x,y"])),
    max_size=6,
).map(" ".join)
urls = st.builds(
    lambda scheme, user, host, port, db, query: f"{scheme}://{user}@{host}:{port}/{db}?{query}",
    st.sampled_from(["postgresql+psycopg", "mysql+pymysql", "sqlite", "postgresql", "mysql"])
    | text,
    text, text | st.sampled_from(["127.0.0.1", "[::1]", "db.example.com"]), numberish | text,
    text, text,
)


@PROPERTY
@given(conninfo_parts | text | urls)
def test_postgresql_connection_strings_are_valid_or_refused_with_a_message(conninfo: str) -> None:
    try:
        postgresql.validate_auth(CONTEXT, {"connectionString": conninfo})
    except ConnectionTestFailed as error:
        assert str(error) and (conninfo not in str(error) or len(conninfo) < 8)
        return
    built = postgresql.build_conninfo({"connectionString": conninfo})
    assert "passfile=/nonexistent" in built


@PROPERTY
@given(urls | text)
def test_sqlalchemy_and_mysql_urls_are_valid_or_refused_with_a_message(url: str) -> None:
    for check in (lambda: parse_url(CONTEXT, {"url": url}),
                  lambda: settings_from_params({"connectionString": url})):
        try:
            check()
        except (ConnectionTestFailed, HostRefusedError) as error:
            assert str(error)


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(text | st.builds(lambda a, b: f"{a}/{b}", text, st.sampled_from(["..", "*", "**", "?"])))
def test_globs_and_paths_stay_inside_or_are_refused(tmp_path: Path, path: str) -> None:
    try:
        parts = relative_parts(path)
    except SourceReadError as error:
        assert "must stay inside" in str(error)
    else:
        assert ".." not in parts
    try:
        resolved = resolve_inside_roots(path, [tmp_path])
    except PathOutsideRootsError as error:
        assert str(error)
    else:
        assert resolved.is_relative_to(tmp_path.resolve())

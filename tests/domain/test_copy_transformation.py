"""The Copy transformation rules: shapes, the delta column and its schedule constraints."""

from __future__ import annotations

from typing import Any

import pytest

from sluice.domain.copy_transformation import (
    delta_column_of,
    delta_column_timezone,
    validate_copy_transformation,
)
from sluice.domain.errors import BadRequestError
from sluice.domain.schedule import Schedule

DOCS_START = 1612310466
DOCS_TRANSFORMATIONS = [
    {"name": "Copy", "params": {"deltaColumn": {"name": "Datefield", "dateFormat": "YYYY-MM-DD",
                                                "timezone": "UTC"}}},
    {"name": "Mapping", "params": {"mappingId": "0b090130b58b4819afc78b6dc98b484d",
                                   "mappingVersion": 0}},
]
PERIODIC = Schedule(DOCS_START, "minute", 15, True)
ONCE = Schedule(DOCS_START, "once")


def copy_code(transformations: object, schedule: Schedule = PERIODIC, *,
              requires: bool = True) -> int:
    with pytest.raises(BadRequestError) as info:
        validate_copy_transformation(transformations, schedule, requires_delta_column=requires)
    assert info.value.message.endswith(".")
    return info.value.code


def copy_with(delta: object) -> list[dict[str, Any]]:
    return [{"name": "Copy", "params": {"deltaColumn": delta}}]


def test_docs_transformations_are_valid() -> None:
    validate_copy_transformation(DOCS_TRANSFORMATIONS, PERIODIC, requires_delta_column=True)
    validate_copy_transformation(DOCS_TRANSFORMATIONS, PERIODIC, requires_delta_column=False)
    assert delta_column_of(DOCS_TRANSFORMATIONS) == "Datefield"
    assert delta_column_timezone(DOCS_TRANSFORMATIONS) == "UTC"


@pytest.mark.parametrize("transformations", [
    None, {}, "Copy", {"name": "Copy", "params": {}},
    [None], ["Copy"], [{"params": {}}], [{"name": 5, "params": {}}], [{"name": "", "params": {}}],
    [{"name": "Mapping"}], [{"name": "Mapping", "params": None}],
    [{"name": "Mapping", "params": []}],
])
def test_malformed_transformations_are_1000(transformations: object) -> None:
    assert copy_code(transformations, requires=False) == 1000


def test_delta_column_with_once_is_1369() -> None:
    assert copy_code(DOCS_TRANSFORMATIONS, ONCE) == 1369
    assert copy_code(DOCS_TRANSFORMATIONS, ONCE, requires=False) == 1369
    assert copy_code(copy_with({"name": "x"}), ONCE) == 1369


def test_once_without_delta_column_is_valid() -> None:
    mapping_only = DOCS_TRANSFORMATIONS[1:]
    validate_copy_transformation(mapping_only, ONCE, requires_delta_column=True)
    validate_copy_transformation([{"name": "Copy", "params": {}}], ONCE,
                                 requires_delta_column=True)
    validate_copy_transformation([], ONCE, requires_delta_column=True)
    assert delta_column_of(mapping_only) is None
    assert delta_column_of([{"name": "Copy", "params": {}}]) is None


@pytest.mark.parametrize("transformations", [
    [], DOCS_TRANSFORMATIONS[1:], [{"name": "Copy", "params": {}}],
    copy_with({"dateFormat": "yyyy-MM-dd"}), copy_with({"name": ""}), copy_with({"name": "  "}),
    copy_with({"name": 5}), copy_with(None), copy_with("Datefield"),
])
def test_periodic_table_flow_without_delta_column_is_1367(transformations: object) -> None:
    assert copy_code(transformations) == 1367


def test_periodic_file_flow_needs_no_delta_column() -> None:
    validate_copy_transformation(DOCS_TRANSFORMATIONS[1:], PERIODIC, requires_delta_column=False)
    validate_copy_transformation([], PERIODIC, requires_delta_column=False)
    assert delta_column_of(DOCS_TRANSFORMATIONS[1:]) is None


@pytest.mark.parametrize("delta", [{"name": ""}, None, {"dateFormat": "x"}])
def test_malformed_optional_delta_column_is_1000(delta: object) -> None:
    assert copy_code(copy_with(delta), requires=False) == 1000


def test_copy_name_is_case_insensitive() -> None:
    transformations = [{"name": "COPY", "params": {"deltaColumn": {"name": "updated_at"}}}]
    validate_copy_transformation(transformations, PERIODIC, requires_delta_column=True)
    assert copy_code(transformations, ONCE) == 1369
    assert delta_column_of(transformations) == "updated_at"


@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Europe/Berlin", "Etc/UTC"])
def test_valid_time_zones(zone: str) -> None:
    transformations = copy_with({"name": "d", "timezone": zone})
    validate_copy_transformation(transformations, PERIODIC, requires_delta_column=True)
    assert delta_column_timezone(transformations) == zone


@pytest.mark.parametrize("zone", ["Mars/Base", "utc", "", "../etc/passwd", "/etc/passwd",
                                  "America", "zone.tab", 5, None])
def test_invalid_time_zone_is_1000(zone: object) -> None:
    assert copy_code(copy_with({"name": "d", "timezone": zone})) == 1000


def test_date_format_must_be_a_string() -> None:
    validate_copy_transformation(copy_with({"name": "d", "dateFormat": "yyyy-MM-dd HH:mm:ss"}),
                                 PERIODIC, requires_delta_column=True)
    assert copy_code(copy_with({"name": "d", "dateFormat": 5})) == 1000


def test_unknown_fields_in_copy_are_1000() -> None:
    assert copy_code(copy_with({"name": "d", "column": "x"})) == 1000
    assert copy_code([{"name": "Copy", "params": {"deltaColumn": {"name": "d"}, "x": 1}}]) \
        == 1000


def test_two_copy_transformations_are_1000() -> None:
    assert copy_code(DOCS_TRANSFORMATIONS + copy_with({"name": "other"})) == 1000


def test_delta_column_of() -> None:
    assert delta_column_of(DOCS_TRANSFORMATIONS) == "Datefield"
    assert delta_column_of(DOCS_TRANSFORMATIONS[1:]) is None
    assert delta_column_of([]) is None
    assert delta_column_of(None) is None
    assert delta_column_of([{"name": "Copy", "params": {}}]) is None
    assert delta_column_of([{"name": "Copy", "params": None}]) is None
    assert delta_column_of(copy_with({"name": ""})) is None
    assert delta_column_of(["junk", {"name": "Copy"}, *copy_with({"name": "d"})]) == "d"

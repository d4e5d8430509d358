"""The built-in flow specs: ids, wire shape, and JSON Schemas that agree with the parsers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft7Validator

from sluice.domain.errors import BadRequestError
from sluice.domain.flow_specs import (
    CLOUD_STORAGE_TO_AEP,
    CRM_TO_AEP,
    PROVIDER_ID,
    FlowSpec,
    all_flow_specs,
    find_flow_spec,
    parallelism,
)
from sluice.domain.schedule import parse_schedule

CRM_ID = "14518937-270c-4525-bdec-c2ba7cce3860"
CLOUD_ID = "9753525b-82c7-4dce-8a9b-5ccfce2b9876"
SOURCES = ["3c9b37f8-13a6-43d8-bad3-b863b941fedd"]
TARGETS = ["c604ff05-7f1a-43c0-8e18-33bf874cb11c"]


def wire(spec: FlowSpec) -> dict[str, Any]:
    return spec.to_wire(SOURCES, TARGETS)


def validator(schema: dict[str, Any]) -> Draft7Validator:
    return Draft7Validator(schema)


def schemas_in(document: Any) -> Iterator[dict[str, Any]]:
    if isinstance(document, dict):
        if "$schema" in document:
            yield document
        for value in document.values():
            yield from schemas_in(value)
    elif isinstance(document, list):
        for value in document:
            yield from schemas_in(value)


def test_ids_and_lookup() -> None:
    assert [s.id for s in all_flow_specs()] == [CRM_ID, CLOUD_ID]
    assert find_flow_spec(CRM_ID) is CRM_TO_AEP
    assert find_flow_spec(CLOUD_ID) is CLOUD_STORAGE_TO_AEP
    assert find_flow_spec("00000000-0000-0000-0000-000000000000") is None
    assert find_flow_spec("") is None


def test_attributes() -> None:
    assert (CRM_TO_AEP.name, CRM_TO_AEP.source_kind, CRM_TO_AEP.requires_delta_column) \
        == ("CRMToAEP", "table", True)
    assert (CLOUD_STORAGE_TO_AEP.name, CLOUD_STORAGE_TO_AEP.source_kind,
            CLOUD_STORAGE_TO_AEP.requires_delta_column) == ("CloudStorageToAEP", "file", False)


@pytest.mark.parametrize("spec", all_flow_specs())
def test_wire_shape(spec: FlowSpec) -> None:
    body = wire(spec)
    assert body["id"] == spec.id and body["name"] == spec.name
    assert body["providerId"] == PROVIDER_ID == "0ed90a81-07f4-4586-8190-b40eccef1c5a"
    assert body["version"] == "1.0"
    assert body["attributes"] == {"isSourceFlow": True, "flacValidationSupported": False,
                                  "frequency": "batch"}
    assert body["sourceConnectionSpecIds"] == SOURCES
    assert body["targetConnectionSpecIds"] == TARGETS
    assert body["scheduleSpec"]["name"] == "PeriodicSchedule"
    assert body["scheduleSpec"]["type"] == "Periodic"
    assert body["runSpec"]["name"] == "ProviderParams"
    assert set(body["optionSpec"]["spec"]["properties"]) \
        == {"errorDiagnosticsEnabled", "partialIngestionPercent", "writeMode", "primaryKey",
           "delayAlertMinutes", "schemaEvolution", "workerQueue", "expectations",
           "settleDelay", "lookback", "parallelism"}
    json.dumps(body)


def test_wire_is_a_fresh_copy() -> None:
    ids = list(SOURCES)
    body = CRM_TO_AEP.to_wire(ids, TARGETS)
    body["sourceConnectionSpecIds"].append("x")
    body["scheduleSpec"]["spec"]["required"].append("x")
    assert ids == SOURCES
    assert wire(CRM_TO_AEP)["scheduleSpec"]["spec"]["required"] == ["startTime", "frequency"]


def test_transformation_specs() -> None:
    assert [t["name"] for t in wire(CRM_TO_AEP)["transformationSpecs"]] == ["Copy", "Mapping"]
    assert [t["name"] for t in wire(CLOUD_STORAGE_TO_AEP)["transformationSpecs"]] == ["Mapping"]
    copy, mapping = (validator(t["spec"]) for t in wire(CRM_TO_AEP)["transformationSpecs"])
    assert copy.is_valid({"deltaColumn": {"name": "Datefield", "dateFormat": "YYYY-MM-DD",
                                          "timezone": "UTC"}})
    assert not copy.is_valid({"deltaColumn": {"dateFormat": "YYYY-MM-DD"}})
    assert not copy.is_valid({"deltaColumn": {"name": ""}})
    assert mapping.is_valid({"mappingId": "0b090130b58b4819afc78b6dc98b484d",
                             "mappingVersion": 0})
    assert mapping.is_valid({"mappingId": "c5f2", "mappingVersion": "2"})
    assert not mapping.is_valid({"mappingId": 5})


@pytest.mark.parametrize("spec", all_flow_specs())
def test_every_schema_is_valid_draft7(spec: FlowSpec) -> None:
    body = wire(spec)
    schemas = list(schemas_in(body))
    # Copy (table only), Mapping, schedule, run and option specs.
    assert len(schemas) == (5 if spec.requires_delta_column else 4)
    for schema in schemas:
        Draft7Validator.check_schema(schema)
    for key in ("scheduleSpec", "runSpec", "optionSpec"):
        Draft7Validator.check_schema(body[key]["spec"])


def test_run_spec_required_fields() -> None:
    crm = wire(CRM_TO_AEP)["runSpec"]["spec"]
    cloud = wire(CLOUD_STORAGE_TO_AEP)["runSpec"]["spec"]
    assert crm["required"] == ["startTime", "windowStartTime", "windowEndTime", "deltaColumn"]
    assert cloud["required"] == ["startTime", "windowStartTime", "windowEndTime"]
    assert "deltaColumn" not in cloud["properties"]
    assert crm["properties"]["deltaColumn"]["required"] == ["name"]


def test_run_spec_accepts_the_docs_requests() -> None:
    table = {"startTime": "1663735590", "windowStartTime": "1651584991",
             "windowEndTime": "16515859567", "deltaColumn": {"name": "DOB"}}
    files = {"startTime": 1663735590, "windowStartTime": 1651584991,
             "windowEndTime": 1651585956}
    crm = validator(wire(CRM_TO_AEP)["runSpec"]["spec"])
    cloud = validator(wire(CLOUD_STORAGE_TO_AEP)["runSpec"]["spec"])
    assert crm.is_valid(table)
    assert cloud.is_valid(files)
    assert not crm.is_valid(files)
    assert not cloud.is_valid(table)
    assert not cloud.is_valid(files | {"windowEndTime": "soon"})
    assert not cloud.is_valid(files | {"windowEndTime": 1.5})


def test_option_spec() -> None:
    options = validator(wire(CRM_TO_AEP)["optionSpec"]["spec"])
    assert options.is_valid({"errorDiagnosticsEnabled": True, "partialIngestionPercent": 12.5})
    assert options.is_valid({})
    assert not options.is_valid({"partialIngestionPercent": 101})
    assert options.is_valid({"writeMode": "merge", "primaryKey": ["id"]})
    assert not options.is_valid({"writeMode": "merge"})
    assert options.is_valid({"delayAlertMinutes": 30})
    assert not options.is_valid({"delayAlertMinutes": 0})
    assert not options.is_valid({"delayAlertMinutes": "30"})
    assert not options.is_valid({"writeMode": "upsert"})
    assert all(options.is_valid({"schemaEvolution": v}) for v in ("addColumns", "frozen", "fail"))
    assert not options.is_valid({"schemaEvolution": "merge"})
    assert not options.is_valid({"partialIngestionPercent": -1})
    assert not options.is_valid({"errorDiagnosticsEnabled": "yes"})
    assert options.is_valid({"workerQueue": "big.v2_x-1"})
    assert not any(options.is_valid({"workerQueue": q}) for q in ("a b", "", "x" * 65, 3))
    assert all(options.is_valid({"parallelism": n}) for n in (1, 4, 16))
    assert not any(options.is_valid({"parallelism": n}) for n in (0, 17, 2.5, "4", None))


def test_parallelism_option_is_read_as_given() -> None:
    assert parallelism({}) is None  # the engine picks (tests/engine/test_window_parts.py)
    assert parallelism(None) is None
    assert parallelism({"parallelism": 8}) == 8
    assert parallelism({"parallelism": 3.0}) == 3


SCHEDULES: list[dict[str, Any]] = [
    {"startTime": "1612310466", "frequency": "minute", "interval": "15", "backfill": "true"},
    {"startTime": 1612310466, "frequency": "minute", "interval": 15, "backfill": False},
    {"startTime": 1612310466, "frequency": "minute", "interval": 14},
    {"startTime": 1612310466, "frequency": "minute", "interval": "14"},
    {"startTime": 1612310466, "frequency": "minute", "interval": "150"},
    {"startTime": 1612310466, "frequency": "minute", "interval": "015"},
    {"startTime": 1612310466, "frequency": "minute"},
    {"startTime": 1612310466, "frequency": "hour", "interval": 1},
    {"startTime": 1612310466, "frequency": "hour", "interval": 0},
    {"startTime": 1612310466, "frequency": "day", "interval": "0"},
    {"startTime": 1612310466, "frequency": "day", "interval": "10"},
    {"startTime": 1612310466, "frequency": "week", "interval": -1},
    {"startTime": 1612310466, "frequency": "week", "interval": True},
    {"startTime": 1612310466, "frequency": "week", "interval": 1, "backfill": "yes"},
    {"startTime": 1612310466, "frequency": "once"},
    {"startTime": "1612310466", "frequency": "once"},
    {"startTime": 1612310466, "frequency": "once", "interval": 1},
    {"startTime": 1612310466, "frequency": "once", "backfill": False},
    {"startTime": 1612310466, "frequency": "daily", "interval": 1},
    {"startTime": "soon", "frequency": "hour", "interval": 1},
    {"startTime": 1612310466000, "frequency": "hour", "interval": 1},
    {"startTime": 1612310466, "frequency": "hour", "interval": 1, "endTime": 1},
    {"frequency": "hour", "interval": 1},
    {"startTime": 1612310466},
]


@pytest.mark.parametrize("raw", SCHEDULES)
def test_schedule_schema_agrees_with_parse_schedule(raw: dict[str, Any]) -> None:
    schema_ok = validator(wire(CRM_TO_AEP)["scheduleSpec"]["spec"]).is_valid(raw)
    try:
        parse_schedule(raw, now=0)
        parsed_ok = True
    except BadRequestError:
        parsed_ok = False
    assert schema_ok == parsed_ok

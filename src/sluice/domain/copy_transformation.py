"""The Copy transformation of a flow: its shape, its delta column, and the schedule rules.

Codes are the reference's (section 5): 1367 / 1369 delta column required / forbidden,
1000 anything else malformed.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Mapping
from typing import Any, cast

from sluice.domain.errors import bad_request, refuse_unknown_fields
from sluice.domain.schedule import Schedule

DELTA_COLUMN_KEYS = ("name", "dateFormat", "timezone")


def _is_copy(transformation: Mapping[str, Any]) -> bool:
    name = transformation.get("name")
    return isinstance(name, str) and name.lower() == "copy"


def _check_transformation_shapes(transformations: object) -> list[Mapping[str, Any]]:
    if not isinstance(transformations, list):
        raise bad_request(
            1000,
            "transformations must be a list of objects, each with a string "
            "name and an object params.",
        )
    for index, item in enumerate(transformations):
        if (
            not isinstance(item, Mapping)
            or not isinstance(item.get("name"), str)
            or not item["name"]
            or not isinstance(item.get("params"), Mapping)
        ):
            raise bad_request(
                1000,
                f"transformations[{index}] is not valid; each transformation "
                "needs a string name (such as Copy or Mapping) and an "
                "object params.",
            )
    return cast(list[Mapping[str, Any]], transformations)


def _check_delta_column(delta: object, required: bool) -> None:
    code = 1367 if required else 1000
    if not isinstance(delta, Mapping):
        raise bad_request(
            code,
            "The Copy transformation's params.deltaColumn must be an object "
            "with a string name and optional dateFormat and timezone.",
        )
    refuse_unknown_fields(
        delta,
        DELTA_COLUMN_KEYS,
        code=1000,
        where="params.deltaColumn",
        hint="the accepted fields are name, dateFormat and timezone.",
    )
    name = delta.get("name")
    if not isinstance(name, str) or not name.strip():
        raise bad_request(
            code,
            "params.deltaColumn.name must be the non-empty name of the "
            "source column that orders new rows (a timestamp, date or "
            "integer column).",
        )
    if "dateFormat" in delta and not isinstance(delta["dateFormat"], str):
        raise bad_request(
            1000, 'params.deltaColumn.dateFormat must be a string such as "yyyy-MM-dd HH:mm:ss".'
        )
    if "timezone" in delta:
        zone = delta["timezone"]
        if not isinstance(zone, str) or not _is_time_zone(zone):
            raise bad_request(
                1000,
                f"params.deltaColumn.timezone {zone!r} is not a known time "
                'zone; use an IANA name such as "UTC" or '
                '"America/New_York".',
            )


def _is_time_zone(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (KeyError, ValueError, OSError):
        return False
    return True


def validate_copy_transformation(
    transformations: object, schedule: Schedule, *, requires_delta_column: bool
) -> None:
    """Check the transformations' shape and the Copy transformation against the schedule.

    `requires_delta_column` is the flow spec's: periodic flows of table-based specs must name
    a delta column; `once` flows must not (it arrives with the first on-demand run).
    """
    items = _check_transformation_shapes(transformations)
    copies = [t for t in items if _is_copy(t)]
    if len(copies) > 1:
        raise bad_request(
            1000, "transformations may hold at most one Copy transformation; merge them into one."
        )
    params: Mapping[str, Any] = copies[0]["params"] if copies else {}
    unknown = sorted(str(k) for k in params if k != "deltaColumn")
    if unknown:
        raise bad_request(
            1000,
            f"The Copy transformation's params have unknown field(s) "
            f"{', '.join(unknown)}; the accepted field is deltaColumn.",
        )
    if "deltaColumn" in params:
        if schedule.is_once:
            raise bad_request(
                1369,
                "A delta column is not allowed in the Copy transformation "
                "when scheduleParams.frequency is once; remove "
                "params.deltaColumn and give deltaColumn with the first "
                "on-demand run instead.",
            )
        _check_delta_column(params["deltaColumn"], requires_delta_column)
    elif requires_delta_column and not schedule.is_once:
        raise bad_request(
            1367,
            "This flow spec requires a delta column for scheduled flows; "
            'add a Copy transformation {"name": "Copy", "params": '
            '{"deltaColumn": {"name": "<column>"}}}.',
        )


def _copy_delta_field(transformations: object, key: str) -> str | None:
    """A non-empty string field of the first Copy transformation's deltaColumn naming one."""
    if not isinstance(transformations, list):
        return None
    for item in transformations:
        if isinstance(item, Mapping) and _is_copy(item):
            params = item.get("params")
            delta = params.get("deltaColumn") if isinstance(params, Mapping) else None
            value = delta.get(key) if isinstance(delta, Mapping) else None
            if isinstance(value, str) and value:
                return value
    return None


def delta_column_of(transformations: object) -> str | None:
    """The delta column named by the (first) Copy transformation, if any; never raises."""
    return _copy_delta_field(transformations, "name")


def delta_column_timezone(transformations: object) -> str:
    """The zone of zone-less timestamp delta columns (the Copy transformation's, else UTC)."""
    return _copy_delta_field(transformations, "timezone") or "UTC"

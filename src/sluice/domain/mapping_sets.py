"""Mapping sets: what a mapping request may say, checked into rules the engine applies.

A mapping names a destination column and where its values come from: a source column, a
dotted path into struct columns (`customer.address.city`), a JSON path into a column holding
JSON text (`$.payload.items[0].sku`: the first name is the column), or a constant. A
destination type casts the values; a default replaces nulls and missing values.
Every mistake is a `1419` (mapping validation failed) naming the mapping and the problem.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from sluice.domain.dataset_types import normalize_type
from sluice.domain.errors import BadRequestError, bad_request
from sluice.domain.numbers import whole_number

MAX_MAPPING_VERSION = 999_999_999

MAPPING_VALIDATION_FAILED = 1419
SOURCE_TYPES = ("ATTRIBUTE", "CONSTANT")
MAX_MAPPINGS = 2000
MAX_PATH_LENGTH = 1024
_TOP_FIELDS = frozenset({"name", "description", "outputSchema", "mappings"})
_MAPPING_FIELDS = frozenset(
    {
        "sourceType",
        "source",
        "destination",
        "destinationType",
        "default",
        "value",
        "name",
        "description",
    }
)
Segment = str | int


@dataclass(frozen=True)
class SourcePath:
    """Where an attribute's values are: a column, then struct fields or JSON keys/indexes."""

    text: str
    column: str
    steps: tuple[Segment, ...] = ()
    json: bool = False


@dataclass(frozen=True)
class MappingRule:
    source_type: Literal["ATTRIBUTE", "CONSTANT"]
    destination: str
    path: SourcePath | None  # ATTRIBUTE
    constant: Any  # CONSTANT: a JSON scalar
    destination_type: str | None  # a dataset type name (`domain.dataset_types`)
    default: Any
    has_default: bool

    def wire(self) -> dict[str, Any]:
        item: dict[str, Any] = {"sourceType": self.source_type, "destination": self.destination}
        if self.path is not None:
            item["source"] = self.path.text
        else:
            item["value"] = self.constant
        if self.destination_type is not None:
            item["destinationType"] = self.destination_type
        if self.has_default:
            item["default"] = self.default
        return item


def _fail(message: str) -> BadRequestError:
    return bad_request(MAPPING_VALIDATION_FAILED, f"Mapping validation failed: {message}")


_NAME = r"[^.\[\]\s$'\"][^.\[\]'\"]*"
_QUOTED = r"\[(?:'(?P<single>[^']*)'|\"(?P<double>[^\"]*)\")\]"
_STEP = re.compile(rf"\.(?P<name>{_NAME})|{_QUOTED}|\[(?P<index>[0-9]{{1,9}})\]")
_FIRST = re.compile(rf"(?P<name>{_NAME})|{_QUOTED}")


def parse_source_path(text: str) -> SourcePath:
    """`col`, `col.field.sub`, `col["a.b"].c`, or `$.col.key[0]` / `$["my col"].key`.

    Indexes (`[0]`) only exist in JSON paths; a dotted path walks struct fields by name.
    Raises ValueError saying what is wrong.
    """
    if not text or len(text) > MAX_PATH_LENGTH:
        raise ValueError(f"a source path has 1 to {MAX_PATH_LENGTH} characters")
    is_json = text.startswith("$")
    rest = text[1:] if is_json else text
    if is_json:
        if rest.startswith("."):
            rest = rest[1:]
        elif not rest.startswith("["):
            raise ValueError("a JSON path starts with '$.' followed by the column name")
    first = _FIRST.match(rest)
    if first is None:
        raise ValueError("the path must start with a column name")
    segments: list[Segment] = [_step_name(first)]
    position = first.end()
    while position < len(rest):
        step = _STEP.match(rest, position)
        if step is None:
            raise ValueError(f"unexpected text at '{rest[position : position + 20]}'")
        if step.group("index") is not None:
            if not is_json:
                raise ValueError("indexes like [0] are only allowed in JSON paths ($.column...)")
            segments.append(int(step.group("index")))
        else:
            segments.append(_step_name(step))
        position = step.end()
    column = segments[0]
    assert isinstance(column, str)
    return SourcePath(text=text, column=column, steps=tuple(segments[1:]), json=is_json)


def _step_name(match: re.Match[str]) -> str:
    for group in ("name", "single", "double"):
        value = match.groupdict().get(group)
        if value is not None:
            if not value.strip():
                raise ValueError("a path segment cannot be empty")
            return value
    raise ValueError("a path segment cannot be empty")  # pragma: no cover - the regex decides


def _scalar(value: Any, what: str, where: str) -> Any:
    if isinstance(value, dict | list):
        raise _fail(f"{where}: {what} must be a JSON scalar (string, number or boolean).")
    return value


def _destination_type(item: dict[str, Any], where: str) -> str | None:
    declared = item.get("destinationType")
    if declared is None:
        return None
    if not isinstance(declared, str):
        raise _fail(f"{where}: destinationType must be a string.")
    try:
        return normalize_type(declared)
    except BadRequestError as error:
        raise _fail(f"{where}: {error.message}") from None


def _rule(item: Any, index: int) -> MappingRule:
    where = f"mappings[{index}]"
    if not isinstance(item, dict):
        raise _fail(f"{where} must be an object.")
    unknown = sorted(set(item) - _MAPPING_FIELDS)
    if unknown:
        raise _fail(
            f"{where}: unknown field(s) {', '.join(unknown)}; allowed: "
            f"{', '.join(sorted(_MAPPING_FIELDS))}."
        )
    source_type = str(item.get("sourceType") or "ATTRIBUTE").upper()
    if source_type not in SOURCE_TYPES:
        raise _fail(f"{where}: sourceType must be one of {', '.join(SOURCE_TYPES)}.")
    destination = item.get("destination")
    if not isinstance(destination, str) or not destination.strip():
        raise _fail(f"{where}: destination must be a non-empty column name.")
    if destination.lower().startswith("_sluice_"):
        raise _fail(f"{where}: destination names starting with '_sluice_' are reserved.")
    if len(destination) > 255:
        raise _fail(f"{where}: destination is longer than 255 characters.")
    path: SourcePath | None = None
    constant: Any = None
    if source_type == "ATTRIBUTE":
        source = item.get("source")
        if not isinstance(source, str) or not source:
            raise _fail(f"{where}: an ATTRIBUTE mapping needs a source (a column or path).")
        try:
            path = parse_source_path(source)
        except ValueError as error:
            raise _fail(f"{where}: bad source path '{source[:100]}': {error}.") from None
    else:
        constant = item["value"] if "value" in item else item.get("source")
        if constant is None:
            raise _fail(f"{where}: a CONSTANT mapping needs a value ('value', or 'source').")
        constant = _scalar(constant, "the constant", where)
    has_default = "default" in item and item["default"] is not None
    default = _scalar(item.get("default"), "default", where) if has_default else None
    return MappingRule(
        source_type=source_type,  # type: ignore[arg-type]
        destination=destination,
        path=path,
        constant=constant,
        destination_type=_destination_type(item, where),
        default=default,
        has_default=has_default,
    )


@dataclass(frozen=True)
class MappingSetBody:
    name: str
    description: str
    output_dataset_id: str | None
    rules: tuple[MappingRule, ...]

    def document(self) -> dict[str, Any]:
        """What a stored version holds (and what GET shows)."""
        return {
            "name": self.name,
            "description": self.description,
            "outputSchema": (
                {"dataSetId": self.output_dataset_id} if self.output_dataset_id else None
            ),
            "mappings": [rule.wire() for rule in self.rules],
        }


def parse_mapping_set(body: Any) -> MappingSetBody:
    """A create / replace request, validated (1419 naming the first problem found)."""
    if not isinstance(body, dict):
        raise _fail("the body must be a JSON object.")
    unknown = sorted(set(body) - _TOP_FIELDS)
    if unknown:
        raise _fail(
            f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(_TOP_FIELDS))}."
        )
    name = body.get("name")
    if name is not None and (not isinstance(name, str) or not 1 <= len(name.strip()) <= 512):
        raise _fail("name must be a string of 1 to 512 characters.")
    description = body.get("description")
    if description is not None and not isinstance(description, str):
        raise _fail("description must be a string.")
    mappings = body.get("mappings")
    if not isinstance(mappings, list) or not mappings:
        raise _fail("mappings must be a non-empty list.")
    if len(mappings) > MAX_MAPPINGS:
        raise _fail(f"at most {MAX_MAPPINGS} mappings are allowed.")
    rules = tuple(_rule(item, i) for i, item in enumerate(mappings))
    folded = [r.destination.casefold() for r in rules]
    duplicates = sorted(
        {r.destination for r in rules if folded.count(r.destination.casefold()) > 1}
    )
    if duplicates:
        raise _fail(f"duplicate destinations: {', '.join(duplicates)}.")
    return MappingSetBody(
        name=(name or "Mapping set").strip(),
        description=description or "",
        output_dataset_id=_output_dataset(body.get("outputSchema")),
        rules=rules,
    )


def _output_dataset(output: Any) -> str | None:
    if output is None:
        return None
    if not isinstance(output, dict) or set(output) - {"dataSetId"}:
        raise _fail('outputSchema must be an object {"dataSetId": "..."}.')
    dataset_id = output.get("dataSetId")
    if dataset_id is None:
        return None
    if not isinstance(dataset_id, str) or not dataset_id.strip():
        raise _fail("outputSchema.dataSetId must be a dataset id.")
    return dataset_id


def rules_of(document: dict[str, Any]) -> tuple[MappingRule, ...]:
    """The rules of a stored version (stored documents were validated when written)."""
    return parse_mapping_set({"mappings": document.get("mappings") or []}).rules


@dataclass(frozen=True)
class MappingReference:
    """A flow's Mapping transformation: which set, and which version (None: not given)."""

    mapping_id: str
    version: int | None


def mapping_reference(transformations: list[Any]) -> MappingReference | None:
    """The Mapping transformation of a flow that names a mapping set, if any."""
    found = [
        t
        for t in transformations
        if isinstance(t, dict)
        and t.get("name") == "Mapping"
        and isinstance(t.get("params"), dict)
        and t["params"].get("mappingId")
    ]
    if not found:
        return None
    if len(found) > 1:
        raise bad_request(1000, "A flow has at most one Mapping transformation.")
    params = found[0]["params"]
    mapping_id = params["mappingId"]
    if not isinstance(mapping_id, str):
        raise bad_request(1000, "The Mapping transformation's mappingId must be a string.")
    version = params.get("mappingVersion")
    if version is None:
        return MappingReference(mapping_id, None)
    return MappingReference(mapping_id, mapping_version(version))


def mapping_version(value: object) -> int:
    """A mapping version: a whole number from 0, as a JSON integer or a string of ASCII digits."""
    number = whole_number(value, spaces=True)
    if number is None or not 0 <= number <= MAX_MAPPING_VERSION:
        shown = str(value)[:20]
        raise bad_request(1412, f"Invalid mapping version '{shown}'; use a number from 0.")
    return number

"""Column types a dataset schema may declare (the Delta Lake primitive types)."""

from __future__ import annotations

import re

from sluice.domain.errors import bad_request

PRIMITIVE_TYPES = frozenset(
    {
        "string",
        "long",
        "integer",
        "short",
        "byte",
        "float",
        "double",
        "boolean",
        "binary",
        "date",
        "timestamp",
        "timestamp_ntz",
    }
)
_DECIMAL = re.compile(r"^decimal\((\d{1,2}),\s*(\d{1,2})\)$")


def normalize_type(declared: str) -> str:
    """Lowercase canonical form; 1000 with the accepted list when the type is unknown."""
    text = declared.strip().lower()
    if text in PRIMITIVE_TYPES:
        return text
    match = _DECIMAL.match(text)
    if match:
        precision, scale = int(match.group(1)), int(match.group(2))
        if 1 <= precision <= 38 and 0 <= scale <= precision:
            return f"decimal({precision},{scale})"
    raise bad_request(
        1000,
        f"Unknown column type '{declared}'; use one of {', '.join(sorted(PRIMITIVE_TYPES))} "
        "or decimal(precision,scale) with precision 1-38.",
    )

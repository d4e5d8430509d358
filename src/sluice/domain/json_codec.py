"""JSON text to values and back, with orjson's speed and the standard library's exact results.

Responses and stored documents were always made by `json`; clients and the reference's tests
compare them byte for byte. orjson agrees with `json` on everything Sluice produces except a
few corners, and each corner is detected and handed to `json`:

- floats that `repr` writes with an exponent (below 1e-4 or from 1e16 on): orjson writes
  `1e-7` or `0.00001` where `json` writes `1e-07` and `1e-05`;
- integers beyond 64 bits: orjson refuses to write them, and reads them as floats;
- NaN and the infinities: orjson writes `null` (`json` refuses them in responses) and refuses
  to read them (`json` reads `NaN`, `Infinity` and `1e400`);
- non-string keys and lone surrogates: orjson refuses them.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import orjson

# Every digit becomes "0", so that a run of digits is found by a plain substring search (a
# regular expression scanning for `\d{19}` costs more than the whole orjson call).
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
# An integer near or beyond 64 bits, which orjson would read as a float.
_WIDE_INTEGER = b"0" * 19
# How orjson writes a float below 1e-4, which `json` writes as `1e-05` or `1.5e-07`: its
# mark (`e-` or `0.0000`), the digits before it and where the value starts (a separator or
# the start of the output), all reversed (see `_has_small_float`).
_SMALL_FLOAT_REVERSED = tuple(
    re.compile(re.escape(mark[::-1]) + rb"[0-9.]*-?(?:[:,\[]|\Z)") for mark in (b"e-", b"0.0000")
)


def loads(text: bytes | str) -> Any:
    """`json.loads(text)`: the same value, faster."""
    raw = text.encode() if isinstance(text, str) else text
    if _WIDE_INTEGER not in raw.translate(_DIGITS_AS_ZERO):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass  # NaN, Infinity, 1e400, lone surrogates...: `json` decides, as before
    return json.loads(text)


def dumps(value: Any) -> bytes:
    """What Starlette's JSONResponse renders (`json.dumps` with `ensure_ascii=False`,
    `allow_nan=False`, compact separators, UTF-8): the same bytes, faster."""
    try:
        rendered = orjson.dumps(value)
    except TypeError:  # wide integers, non-string keys, lone surrogates: `json` decides
        return _standard_dumps(value)
    if _has_small_float(rendered) or (b"null" in rendered and _has_non_finite(value)):
        # orjson writes NaN and the infinities as null; `json` refuses them.
        return _standard_dumps(value)
    return rendered


def _has_small_float(rendered: bytes) -> bool:
    """Whether a number in orjson's compact output is a float below 1e-4 (`1.5e-7`,
    `0.00001`).

    The marks also occur in strings: `e-` ends many a UUID group. A number is one only where
    a value starts (after `:`, `,` or `[`, or at the very start), so the output is searched
    backwards, from the mark over the number's digits to that separator, by a regular
    expression that starts with the mark (a literal, which the search skips to quickly).
    A string can still hold the whole pattern (`"...-onDemand-0:5394139e-..."`, a run's
    `providerRefId`): each match is kept only if it lies outside every string."""
    backwards = rendered[::-1]
    for number_before_mark in _SMALL_FLOAT_REVERSED:
        for match in number_before_mark.finditer(backwards):
            if not _inside_string(rendered, len(rendered) - match.end()):
                return True
    return False


def _inside_string(rendered: bytes, position: int) -> bool:
    """Whether `position` of compact JSON lies inside a string: an odd count of the quotes
    before it that are not escaped. Escaped backslashes pair up from the left, as a JSON
    reader pairs them, so once they are dropped an escaped quote is one after a backslash."""
    before = rendered[:position].replace(b"\\\\", b"")
    return (before.count(b'"') - before.count(b'\\"')) % 2 == 1


def _standard_dumps(value: Any) -> bytes:
    return json.dumps(
        value, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    ).encode("utf-8")


def _has_non_finite(value: Any) -> bool:
    """Whether `value` holds NaN or an infinity anywhere. Walked with a list rather than by
    recursion, and skipping strings, integers and None by their exact type before any
    `isinstance`: a page of 100 runs holds thousands of such leaves, and this walk runs on
    every answer that holds a null (a recursive `isinstance` walk cost 416 µs a page)."""
    pending = [value]
    while pending:
        item = pending.pop()
        kind = type(item)
        if kind is str or kind is int or item is None:
            continue
        if isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, list | tuple):
            pending.extend(item)
        elif isinstance(item, float) and not math.isfinite(item):
            return True
    return False

"""Numbers on the wire: ASCII digits only, the one parser every user-given number goes through.

Python's `int()`, `float()`, `Decimal()` and `str.isdigit()` accept far more than a client
means: superscripts (U+00B2 passes `isdigit()` but not `int()`), full-width and other
scripts' digits (U+FF11 U+FF17 is 17 to `int()`), underscores (`"1_000"`) and surrounding
Unicode spaces. Those either crash a later step or silently become a number nobody typed;
here they are simply not numbers, so callers answer them with their own coded 400.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

# `re.ASCII` keeps `\s` to ASCII whitespace; the classes below are ASCII by construction.
_WHOLE = re.compile(r"[0-9]+", re.ASCII)
_SIGNED_WHOLE = re.compile(r"[+-]?[0-9]+", re.ASCII)
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
_ASCII_SPACE = " \t\r\n"
# Long enough for any epoch, port or limit; bounds int()'s quadratic cost on hostile input.
MAX_DIGITS = 32


def ascii_whole_number(text: str, *, signed: bool = False, spaces: bool = False) -> int | None:
    """The integer a string of ASCII digits spells, or None; with `spaces`, surrounding ASCII
    whitespace is allowed (as `int()` allowed it where this parser replaced it)."""
    stripped = text.strip(_ASCII_SPACE) if spaces else text
    pattern = _SIGNED_WHOLE if signed else _WHOLE
    if len(stripped) > MAX_DIGITS or not pattern.fullmatch(stripped):
        return None
    return int(stripped)


def whole_number(value: object, *, spaces: bool = False) -> int | None:
    """An integer from a JSON integer, an integral float or a string of ASCII digits; else None.

    Booleans are not numbers here, although Python counts them as ints.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str):
        return ascii_whole_number(value, spaces=spaces)
    return None


def ascii_decimal(text: str) -> Decimal | None:
    """A finite decimal number written in ASCII (`12`, `-1.5`, `2e3`), or None."""
    stripped = text.strip(_ASCII_SPACE)
    if len(stripped) > 2 * MAX_DIGITS or not _DECIMAL.fullmatch(stripped):
        return None
    try:
        number = Decimal(stripped)
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid literals
        return None
    return number if number.is_finite() else None


def number_value(value: object) -> float | None:
    """A JSON number (not a boolean) or an ASCII decimal string as a float; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        number = ascii_decimal(value)
        return float(number) if number is not None else None
    return None

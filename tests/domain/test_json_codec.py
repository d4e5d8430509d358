"""The orjson codec gives exactly what `json` gives: the same response bytes as Starlette's
JSONResponse, the same values as `json.loads`, on the corners where orjson differs."""

from __future__ import annotations

import json
import math
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.responses import JSONResponse as StarletteJSONResponse

from sluice.api.json_response import JSONResponse
from sluice.domain import json_codec


def standard(value: Any) -> bytes:
    return bytes(StarletteJSONResponse(value).body)


EDGE_CASES: list[Any] = [
    {"name": "Zürich ✓ 日本 \U0001f600", "escapes": "quote \" backslash \\ tab \t nl \n \x01 \x7f"},
    {"line separators": "\u2028\u2029", "slash": "a/b"},
    [0.1, 1.0, -0.0, 0.0, 1e-4, 9.9e-5, 1e-5, 1.5e-7, 5e-324, 1e15, 1e16, 1.5e17, 1e300],
    [9223372036854775807, -9223372036854775808, 18446744073709551615, 2**64, -(2**63) - 1],
    [10**30, -(10**40)],
    {"none": None, "true": True, "false": False, "empty": {}, "list": []},
    {"nested": [{"a": [None, {"b": 1e-9}]}]},
    {"uuid-like": "4f1c2a3e-5b6d-4e7f-8a9b-0c1d2e3f4a5e", "text": "x:1e-5,"},
    {1: "int key", "2": "str key"},
    (1, 2, "tuple"),
    "top-level string",
    3e-6,
    12,
    None,
]


@pytest.mark.parametrize("value", EDGE_CASES)
def test_a_response_renders_the_bytes_of_starlettes_json_response(value: Any) -> None:
    assert json_codec.dumps(value) == standard(value)
    assert bytes(JSONResponse(value).body) == standard(value)


class _Floats(list[float]):
    pass


class _Float(float):
    pass


@pytest.mark.parametrize(
    "value",
    [
        math.nan,
        math.inf,
        [1, -math.inf],
        {"a": None, "b": math.nan},
        ("text", None, (1, {"deep": [None, [-math.inf]]})),
        {"a": None, "subclasses": _Floats([1.0, _Float("nan")])},
        [None] + [{"n": None, "s": "nan", "i": 10**30 // 10**12}] * 200 + [{"last": math.inf}],
    ],
)
def test_non_finite_floats_are_refused_as_before(value: Any) -> None:
    with pytest.raises(ValueError):
        standard(value)
    with pytest.raises(ValueError):
        json_codec.dumps(value)


def test_lone_surrogates_are_refused_as_before() -> None:
    with pytest.raises(UnicodeEncodeError):
        standard({"bad": "\ud800"})
    with pytest.raises(UnicodeEncodeError):
        json_codec.dumps({"bad": "\ud800"})


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


@given(JSON_VALUES)
def test_any_json_value_renders_and_reads_back_as_with_json(value: Any) -> None:
    try:
        expected = standard(value)
    except UnicodeEncodeError:  # lone surrogates in generated text
        return
    assert json_codec.dumps(value) == expected
    assert json_codec.loads(expected) == json.loads(expected)
    assert json_codec.loads(expected.decode()) == json.loads(expected)


@pytest.mark.parametrize(
    "text",
    [
        b"12345678901234567890123",
        b'{"big": 18446744073709551616, "negative": -9223372036854775809}',
        b"[NaN, Infinity, -Infinity]",
        b"1e400",
        b'"\\ud800"',
        b'{"a": 1, "a": 2}',
        b'{"float": 0.30000000000000004, "small": 1e-7, "int": 9007199254740993}',
    ],
)
def test_documents_read_back_as_json_loads_reads_them(text: bytes) -> None:
    expected = json.loads(text)
    value = json_codec.loads(text)
    assert json.dumps(value) == json.dumps(expected)
    assert [type(v) for v in _leaves(value)] == [type(v) for v in _leaves(expected)]


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in _leaves(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item)]
    return [value]


def test_invalid_json_raises_jsons_error() -> None:
    with pytest.raises(json.JSONDecodeError):
        json_codec.loads(b'{"unterminated": ')


# Text that puts a float's marks right after a separator, inside strings: a run's
# `providerRefId` (`...-onDemand-0:5394139e-...`), escaped quotes and backslashes.
LOOKALIKE_TEXT = st.text(alphabet=':,[]"\\-.e0123456789 x', max_size=24)
NO_FLOATS = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**62), max_value=2**62) | LOOKALIKE_TEXT,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(LOOKALIKE_TEXT, children, max_size=4),
    max_leaves=12,
)
SMALL_FLOATS = st.sampled_from([1e-5, -1e-5, 1.5e-7, -2e-9, 1e-10, 5e-324, 9.9e-5])


@pytest.mark.parametrize(
    "text",
    [
        "M-3f0a1c2b-0d4e-4f5a-9b6c-7d8e9f0a1b2c-onDemand-0:5394139e-653d-478c-a39c-2ecf0",
        "a,0.00001",
        "[1e-5",
        'say ":1e-5" twice: ":-2e-9"',
        'escaped backslash then quote \\":1e-5',
    ],
)
def test_strings_that_look_like_small_floats_keep_the_fast_encoder(
    text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The safety scan looks past strings: a page holding one such run id no longer goes
    to `json` (~15 % of a runs list's CPU when it did)."""
    value = {"providerRefId": text, "items": [text, {"k": text}]}
    expected = standard(value)
    monkeypatch.setattr(json_codec, "_standard_dumps", _refuse)
    assert json_codec.dumps(value) == expected


def _refuse(value: Any) -> bytes:
    raise AssertionError(f"fell back to json for {value!r}")


@given(NO_FLOATS)
def test_values_without_floats_never_fall_back(value: Any) -> None:
    assert json_codec.dumps(value) == standard(value)
    assert not json_codec._has_small_float(orjson.dumps(value))


@given(NO_FLOATS, SMALL_FLOATS, st.booleans())
def test_a_small_float_after_any_lookalike_string_is_found(
    value: Any, small: float, first: bool
) -> None:
    document = [small, value] if first else [value, {"small": small}]
    assert json_codec.dumps(document) == standard(document)
    assert json_codec._has_small_float(orjson.dumps(document))

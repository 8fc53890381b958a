"""compact_json writes json.dumps's bytes exactly (the log's leaf hashes and the served documents'
hashes depend on it), whichever library writes them."""

from __future__ import annotations

import json
import math
import uuid
from datetime import UTC, datetime
from enum import Enum

import pytest

from gateway.audit.events import AuditEvent, Outcome
from gateway.json_bytes import canonical_json, compact_json, compact_json_floatless, has_float

EVERY_CHAR = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)

SHAPES = [
    {"text": EVERY_CHAR, EVERY_CHAR[:300]: EVERY_CHAR[-300:]},
    {"é": 1, "e\u0301": 2, "Z": None, "a": [True, False, None, -(2**63), 2**64 - 1], "b": {"z": [], "a": {}}},
    {"tuple": ("x", "y"), "nested": [{"rule": "r", "field": "f"}], "\u2028": '\u2029\x7f\x00\x1f\\"/'},
    {"float": 1e16, "small": 0.1, "neg": -0.0, "in": [{"x": 2.5}]},
    {"big": 2**70, "enum": AuditEvent.BUNDLE_RELEASED, "outcome": Outcome.DENIED},
    {3: "int keys", 1: "json.dumps writes them as strings"},
    [{"resourceType": "Bundle", "z": 1, "a": [{"b": 2, "a": 1}]}],
]


def _json_dumps(value, **options) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, **options).encode("utf-8")


@pytest.mark.parametrize("sort_keys", [True, False])
def test_the_bytes_are_json_dumps_bytes_for_every_code_point_and_shape(sort_keys: bool) -> None:
    for value in SHAPES:
        assert compact_json(value, sort_keys=sort_keys) == _json_dumps(value, sort_keys=sort_keys)


def test_what_json_dumps_refuses_is_refused() -> None:
    with pytest.raises(TypeError):  # not rendered by orjson, which would write it
        compact_json({"when": datetime(2026, 1, 1, tzinfo=UTC)})
    with pytest.raises(ValueError):
        compact_json({"x": [math.nan]}, allow_nan=False)
    with pytest.raises(UnicodeEncodeError):  # a lone surrogate cannot be UTF-8
        compact_json({"x": "\ud800"})
    assert compact_json({"x": math.inf}) == b'{"x":Infinity}'  # what json.dumps writes when NaN is allowed


def test_values_without_floats_are_written_as_json_dumps_writes_them() -> None:
    for value in SHAPES[:3] + SHAPES[4:]:
        assert not has_float(value)
        assert compact_json_floatless(value) == _json_dumps(value)
    assert has_float({"a": [{"b": (1, 2.5)}]}) and has_float(0.1) and not has_float({"a": [1, True, None]})


class _Plain(Enum):
    A = "a"


@pytest.mark.parametrize("value", [uuid.UUID(int=1), _Plain.A, {1, 2}, datetime(2026, 1, 1, tzinfo=UTC)])
def test_the_canonical_encoder_refuses_what_is_not_json_where_orjson_would_write_it(value: object) -> None:
    for wrapped in (value, {"x": value}, [{"a": [value]}]):
        with pytest.raises(TypeError):
            json.dumps(wrapped)
        with pytest.raises(TypeError):
            canonical_json(wrapped)
        with pytest.raises(TypeError):
            compact_json(wrapped)
        assert has_float(wrapped)  # so a FHIR document from such a projection is not written by orjson


def test_the_canonical_form_is_json_dumps_with_sorted_keys() -> None:
    for value in SHAPES:
        assert canonical_json(value) == _json_dumps(value, sort_keys=True)
    assert canonical_json(AuditEvent.BUNDLE_RELEASED) == json.dumps(AuditEvent.BUNDLE_RELEASED).encode()

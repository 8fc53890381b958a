"""Compact JSON bytes, fast: the bytes ``json.dumps`` writes, written by orjson wherever they are the same.

The log's canonical entries and the FHIR documents the gateway serves are hashed byte for byte (leaf
hashes, ``body_sha256``, receipts), so their bytes are fixed: those of ``json.dumps(value,
separators=(",", ":"), ensure_ascii=False)`` in UTF-8, keys sorted or as built. orjson writes exactly
those bytes, ten times faster, for strings (every code point, the same escapes), integers, booleans,
null, lists and string-keyed objects (sorted by code point, like ``sort_keys``). Floats are spelt
differently (``1e+16`` against ``1e16``; NaN as ``null`` where json.dumps refuses or writes ``NaN``),
and orjson refuses some things json.dumps writes (integers past 64 bits, non-string keys): those
values go to json.dumps itself, which also raises wherever it always raised. orjson also writes some
things json.dumps refuses (a UUID, a plain Enum's value): those go to json.dumps too, which refuses
them, so a value that is not JSON never becomes canonical bytes by accident.

:func:`canonical_json` is the one canonical form (keys sorted): every stored or hashed JSON document
(log entries, assessment content and its digest, Task resources) is written by it.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

# orjson writes these natively where json.dumps refuses them: hand them on, so json.dumps refuses.
_PASSTHROUGH = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def canonical_json(value: Any) -> bytes:
    """``json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` in UTF-8; a value
    that is not JSON (a UUID, a plain Enum, a datetime, a set) raises ``TypeError``."""
    return compact_json(value, sort_keys=True)


def compact_json(value: Any, *, sort_keys: bool = False, allow_nan: bool = True) -> bytes:
    """``json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=..., allow_nan=...)`` in UTF-8."""
    if not _needs_json_dumps(value):
        try:
            return orjson.dumps(value, option=_PASSTHROUGH | (orjson.OPT_SORT_KEYS if sort_keys else 0))
        except TypeError:
            pass
    return json.dumps(
        value, separators=(",", ":"), ensure_ascii=False, sort_keys=sort_keys, allow_nan=allow_nan
    ).encode("utf-8")


def compact_json_floatless(value: Any) -> bytes:
    """:func:`compact_json` (keys as built) for a value known to hold no float, such as a FHIR document
    rendered from a projection that holds none: written by orjson without walking the value first (a
    document has thousands of nodes; the walk cost more than json.dumps). A float in it would be spelt
    orjson's way, NaN written as ``null`` and a UUID or plain Enum written where json.dumps refuses it:
    check the value's sources with :func:`has_float`."""
    try:
        return orjson.dumps(value, option=_PASSTHROUGH)
    except TypeError:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def has_float(value: Any) -> bool:
    """Whether ``value`` holds a float anywhere, or anything that is not JSON (which orjson might write
    where json.dumps refuses it): whether only json.dumps may write it."""
    return _needs_json_dumps(value)


def _needs_json_dumps(value: Any) -> bool:
    if not isinstance(value, dict | list | tuple):
        return not _is_json_scalar(value)
    containers: list[Any] = [value]
    while containers:
        item = containers.pop()
        for inner in item.values() if isinstance(item, dict) else item:
            kind = type(inner)
            if kind is str or inner is None or kind is int or kind is bool:
                continue
            if isinstance(inner, dict | list | tuple):
                containers.append(inner)
            elif not _is_json_scalar(inner):
                return True
    return False


def _is_json_scalar(value: Any) -> bool:
    # Floats are not: orjson spells them otherwise. A str or int subclass (a StrEnum, an IntEnum) is
    # written as its str or int by both libraries; bool is an int.
    return value is None or isinstance(value, str | int)

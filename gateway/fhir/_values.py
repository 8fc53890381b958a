"""Reading projected values (shape checks that fail closed) and writing generated XHTML narrative."""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

XHTML_NS = "http://www.w3.org/1999/xhtml"


def instant(value: datetime) -> str:
    """A FHIR ``instant`` in UTC with milliseconds; a naive datetime is a programming error."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("DocumentMeta.timestamp must be timezone-aware")
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --- narrative ----------------------------------------------------------------------------------


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def p(label: str, text: Any) -> str:
    return f"<p><b>{esc(label)}:</b> {esc(text)}</p>"


def ul(label: str, items: Iterable[Any]) -> str:
    lis = "".join(f"<li>{esc(i)}</li>" for i in items)
    return f"<p><b>{esc(label)}:</b></p><ul>{lis}</ul>" if lis else ""


def yes_no(value: Any) -> str:
    return "Yes" if value is True else "No" if value is False else "Not recorded"


def div(fragments: Iterable[str]) -> dict[str, str]:
    """A generated Narrative from already-escaped fragments."""
    return {"status": "generated", "div": f'<div xmlns="{XHTML_NS}">{"".join(fragments)}</div>'}


# --- values -------------------------------------------------------------------------------------


def text(value: Any) -> str | None:
    """A non-empty string, or None; anything else is a shape error."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"expected text, got {type(value).__name__}")
    return value if value.strip() else None


def texts(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"expected a list, got {type(value).__name__}")
    return [s for s in (text(v) for v in value) if s is not None]


def obj(value: Any, field_id: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"{field_id}: expected an object, got {type(value).__name__}")
    return value


def objs(value: Any, field_id: str) -> list[Mapping[str, Any]]:
    if not isinstance(value, list):
        raise ValueError(f"{field_id}: expected a list, got {type(value).__name__}")
    return [obj(v, field_id) for v in value]


def boolean(value: Any, field_id: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise ValueError(f"{field_id}: expected true/false, got {type(value).__name__}")


def mapped(value: Any, mapping: Mapping[str, str], field_id: str) -> str:
    """A value from a closed set bound to a required FHIR value set: unknown values fail closed."""
    if value not in mapping:
        raise ValueError(f"{field_id}: unexpected value {value!r}")
    return mapping[value]


def note(value: str | None) -> list[dict[str, str]] | None:
    return [{"text": value}] if value else None


def prune(obj_: dict[str, Any]) -> dict[str, Any]:
    """Drop keys whose value is None (FHIR forbids empty elements)."""
    return {k: v for k, v in obj_.items() if v is not None}


def unique(items: Iterable[str]) -> list[str]:
    """Items in first-seen order, each once."""
    seen: dict[str, None] = {}
    for item in items:
        seen.setdefault(item, None)
    return list(seen)

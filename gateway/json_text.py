"""JSON from outside, held to what can be stored: every string (keys too) must be encodable as UTF-8.

JSON's ``\\ud800`` escapes can spell lone surrogates, which Python's decoder accepts and which no
database, hash or log can store: left in, they fail deep inside a write as a 5xx. They are refused at
the edge instead, naming where they are (RFC 6901 JSON Pointers).
"""

from __future__ import annotations

import json
from typing import Any

#: At most this many places are named in a refusal.
MAX_NAMED = 20


class UnencodableText(ValueError):
    """The JSON holds text that is not valid Unicode; ``pointers`` say where."""

    def __init__(self, pointers: list[str]) -> None:
        super().__init__(f"text that is not valid Unicode at {', '.join(pointers)}")
        self.pointers = pointers


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _token(key: str) -> str:
    safe = key if _encodable(key) else key.encode("utf-8", "backslashreplace").decode("ascii")
    return safe.replace("~", "~0").replace("/", "~1")


def unencodable_pointers(value: Any) -> list[str]:
    """Where ``value`` (parsed JSON) holds a string, or an object key, that UTF-8 cannot encode."""
    found: list[str] = []
    stack: list[tuple[str, Any]] = [("", value)]
    while stack and len(found) < MAX_NAMED:
        pointer, item = stack.pop()
        if isinstance(item, str):
            if not _encodable(item):
                found.append(pointer or "/")
        elif isinstance(item, dict):
            for key, child in item.items():
                where = f"{pointer}/{_token(key)}"
                if not _encodable(key):
                    found.append(where)
                stack.append((where, child))
        elif isinstance(item, list):
            stack.extend((f"{pointer}/{index}", child) for index, child in enumerate(item))
    return sorted(found)


def loads(data: str | bytes) -> Any:
    """``json.loads``, refusing unencodable text (:class:`UnencodableText`, a ``ValueError``)."""
    value = json.loads(data)
    bad = unencodable_pointers(value)
    if bad:
        raise UnencodableText(bad)
    return value

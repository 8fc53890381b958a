"""Documents rendered once per content and decision, then filled in for each disclosure.

Two disclosures of one assessment version to one recipient, under one decision, are the same document
but for three things the disclosure itself brings (:mod:`gateway.fhir.document`): its id (the
Bundle's ``identifier``), its time (``timestamp`` and the Composition's ``date``) and the resource ids,
each a ``uuid5`` of the disclosure id and a fixed key. So a document is rendered once with a random
stand-in disclosure id and a stand-in time, and each disclosure's bytes are that rendering with the
stand-ins replaced: the bytes :func:`render_document_bytes` writes for it, without building the
document again (rendering was the largest single part of a pull's CPU).

What a rendering is kept under is everything it was made from but those three: the projection's bytes
(the content), the projection's released set (what the decision released, with a value or not: it is
not in the projection's bytes, and the document depends on it, so it is keyed explicitly), the labels
of the projected fields and the rest of :class:`DocumentMeta` (the withheld fields and rules among it).
Nothing is served from here that the request did not itself decrypt, decide and project: the
projection is part of the key.

A rendering in which a stand-in does not appear exactly where the renderer writes it (a projected
text that happens to hold the stand-in time, say) is not kept: that document is rendered in full.
"""

from __future__ import annotations

import hashlib
import re
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime

import orjson

from gateway.fhir._builder import uuid5_text
from gateway.fhir._values import instant
from gateway.fhir.document import DocumentMeta, Projection, render_document_bytes
from gateway.json_bytes import has_float

#: The stand-in time: no disclosure happens in year 1, and a projection that holds it anyway is caught
#: by the count below.
_STAND_IN_TIME = datetime(1, 1, 1, tzinfo=UTC)
_STAND_IN_INSTANT = instant(_STAND_IN_TIME).encode("ascii")
#: Where the renderer writes the disclosure's time: the Bundle's timestamp and the Composition's date.
_TIME_WRITTEN = 2
_PER_DISCLOSURE = frozenset({"disclosure_id", "timestamp"})
_META_FIELDS = tuple(f.name for f in fields(DocumentMeta) if f.name not in _PER_DISCLOSURE)

_ID, _KEY, _TIME = 0, 1, 2


@dataclass(frozen=True)
class _Template:
    # Literal byte runs, and between each two the slot that goes there: (_ID, ""), (_KEY, key), (_TIME, "").
    runs: tuple[bytes, ...]
    slots: tuple[tuple[int, str], ...]

    def fill(self, disclosure_id: str, timestamp: datetime) -> bytes:
        # The same checks, with the same errors, as a full rendering makes of these two.
        values = {
            (_ID, ""): str(uuid.UUID(disclosure_id)).encode("ascii"),
            (_TIME, ""): instant(timestamp).encode("ascii"),
        }
        out = [self.runs[0]]
        for slot, run in zip(self.slots, self.runs[1:], strict=True):
            value = values.get(slot)
            if value is None:
                value = values[slot] = uuid5_text(f"{disclosure_id}/{slot[1]}").encode("ascii")
            out.append(value)
            out.append(run)
        return b"".join(out)


def _template(projection: Projection, meta: DocumentMeta, labels: Mapping[str, Sequence[str]]) -> _Template | None:
    stand_in = str(uuid.uuid4())
    keys: list[str] = []
    rendered = render_document_bytes(
        projection, replace(meta, disclosure_id=stand_in, timestamp=_STAND_IN_TIME), labels, id_keys=keys
    )
    slot_of: dict[bytes, tuple[int, str]] = {stand_in.encode("ascii"): (_ID, ""), _STAND_IN_INSTANT: (_TIME, "")}
    for key in keys:
        slot_of[uuid5_text(f"{stand_in}/{key}").encode("ascii")] = (_KEY, key)
    pattern = re.compile(b"|".join(re.escape(s) for s in slot_of))
    runs, slots, start, counts = [], [], 0, {_ID: 0, _TIME: 0}
    for found in pattern.finditer(rendered):
        runs.append(rendered[start : found.start()])
        slot = slot_of[found.group()]
        slots.append(slot)
        if slot[0] != _KEY:
            counts[slot[0]] += 1
        start = found.end()
    runs.append(rendered[start:])
    if counts != {_ID: 1, _TIME: _TIME_WRITTEN}:
        return None
    return _Template(tuple(runs), tuple(slots))


class DocumentTemplates:
    """At most ``size`` renderings kept (the oldest goes first), shared by the threads of a process."""

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._items: dict[bytes, _Template | None] = {}
        self._lock = threading.Lock()

    def render(self, projection: Projection, meta: DocumentMeta, labels: Mapping[str, Sequence[str]]) -> bytes:
        """The bytes :func:`render_document_bytes` writes for these arguments (it raises as that does)."""
        key = _key(projection, meta, labels)
        if key is None:
            return render_document_bytes(projection, meta, labels)
        if key in self._items:
            template = self._items.get(key)  # None: not to be filled in (or dropped meanwhile)
        else:
            template = _template(projection, meta, labels)
            with self._lock:
                if len(self._items) >= self._size:
                    del self._items[next(iter(self._items))]
                self._items[key] = template
        if template is None:
            return render_document_bytes(projection, meta, labels)
        return template.fill(meta.disclosure_id, meta.timestamp)


def _key(projection: Projection, meta: DocumentMeta, labels: Mapping[str, Sequence[str]]) -> bytes | None:
    if has_float(projection):  # orjson writes NaN as null: two projections, one key. Rendered in full.
        return None
    if not isinstance(projection, Projection):  # does not say what was released: the renderer refuses it
        return None
    try:
        made_of = orjson.dumps(
            [
                projection,  # its values only: orjson writes a dict subclass as the dict
                # What the decision released, keyed in its own right: the projections of "released, nothing
                # recorded" and "not released" hold the same values and render different documents (the
                # area's section, the Consent's performer). As given (the catalogue's order from the
                # disclosure path): the same set in another order is another key, never a wrong document.
                projection.released,
                {fid: list(labels[fid]) for fid in projection if fid in labels},
                [getattr(meta, name) for name in _META_FIELDS],
            ],
            option=orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS,
        )
    except TypeError:  # something orjson does not write as it is (a datetime, a big integer): no key
        return None
    return hashlib.sha256(made_of).digest()

"""Search results: a searchset Bundle that embeds document Bundles byte for byte.

Each document's bytes are spliced in unchanged, so the SHA-256 the disclosure log recorded for a
document still matches the document as the caller receives it. No ``total`` is given: a count would
tell a caller how many documents exist that it may not see.
"""

from __future__ import annotations

import json
from collections.abc import Sequence


def _json(value: str) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


def searchset_bytes(document_bytes_list: Sequence[bytes], self_url: str, *, base_url: str | None = None) -> bytes:
    """The searchset Bundle, as bytes, with each document's exact bytes as an entry's ``resource``.

    Each input must be a JSON object with ``resourceType`` ``Bundle`` (as produced by
    :func:`gateway.fhir.document.document_bytes`); anything else raises ``ValueError`` rather than
    produce broken JSON. Each entry gets ``fullUrl`` ``{base}/Bundle/{id}`` (FHIR R4 section 3.1.1.4:
    the resource's absolute URL, the one ``GET`` reads it at), ``base`` being ``base_url`` or, by
    default, the FHIR base that ``self_url`` (``{base}/Bundle[?...]``) searches under.
    """
    if base_url is None:
        base_url = self_url.split("?", 1)[0].rsplit("/Bundle", 1)[0]
    parts = [b'{"resourceType":"Bundle","type":"searchset","link":[{"relation":"self","url":', _json(self_url), b"}]"]
    for index, raw in enumerate(document_bytes_list):
        try:
            parsed = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"document {index} is not JSON: {exc}") from None
        if not isinstance(parsed, dict) or parsed.get("resourceType") != "Bundle":
            raise ValueError(f"document {index} is not a Bundle")
        parts.append(b',"entry":[{' if index == 0 else b",{")
        if base_url is not None and isinstance(parsed.get("id"), str):
            parts += [b'"fullUrl":', _json(f"{base_url.rstrip('/')}/Bundle/{parsed['id']}"), b","]
        parts += [b'"resource":', raw, b',"search":{"mode":"match"}}']
    if document_bytes_list:
        parts.append(b"]")  # an empty result has no "entry" at all: FHIR JSON forbids empty arrays
    parts.append(b"}")
    return b"".join(parts)

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


def _bundle_id(index: int, raw: bytes) -> object:
    try:
        parsed = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"document {index} is not JSON: {exc}") from None
    if not isinstance(parsed, dict) or parsed.get("resourceType") != "Bundle":
        raise ValueError(f"document {index} is not a Bundle")
    return parsed.get("id")


def searchset_bytes(
    document_bytes_list: Sequence[bytes],
    self_url: str,
    *,
    base_url: str | None = None,
    bundle_ids: Sequence[str] | None = None,
) -> bytes:
    """The searchset Bundle, as bytes, with each document's exact bytes as an entry's ``resource``.

    Each input must be a JSON object with ``resourceType`` ``Bundle`` (as produced by
    :func:`gateway.fhir.document.document_bytes`); anything else raises ``ValueError`` rather than
    produce broken JSON. Each entry gets ``fullUrl`` ``{base}/Bundle/{id}`` (FHIR R4 section 3.1.1.4:
    the resource's absolute URL, the one ``GET`` reads it at), ``base`` being ``base_url`` or, by
    default, the FHIR base that ``self_url`` (``{base}/Bundle[?...]``) searches under.

    ``bundle_ids``, when the caller has just built the documents (and so knows each is a Bundle and its
    id), skips parsing each document again only to learn what the caller already knows.
    """
    if base_url is None:
        base_url = self_url.split("?", 1)[0].rsplit("/Bundle", 1)[0]
    parts = [b'{"resourceType":"Bundle","type":"searchset","link":[{"relation":"self","url":', _json(self_url), b"}]"]
    if bundle_ids is not None and len(bundle_ids) != len(document_bytes_list):
        raise ValueError("one bundle id per document")
    for index, raw in enumerate(document_bytes_list):
        bundle_id = bundle_ids[index] if bundle_ids is not None else _bundle_id(index, raw)
        parts.append(b',"entry":[{' if index == 0 else b",{")
        if base_url is not None and isinstance(bundle_id, str):
            parts += [b'"fullUrl":', _json(f"{base_url.rstrip('/')}/Bundle/{bundle_id}"), b","]
        parts += [b'"resource":', raw, b',"search":{"mode":"match"}}']
    if document_bytes_list:
        parts.append(b"]")  # an empty result has no "entry" at all: FHIR JSON forbids empty arrays
    parts.append(b"}")
    return b"".join(parts)

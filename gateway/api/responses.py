"""Response helpers shared by the routes."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import Response

from gateway.denied import Why
from gateway.disclosure.service import DisclosureResult
from gateway.fhir import document_bytes, operation_outcome
from gateway.issue import Issue
from gateway.metrics import DISCLOSURES

FHIR_JSON = "application/fhir+json"


#: A refusal's status, chosen here and nowhere else (services answer :class:`~gateway.denied.Denied`).
_DENIED_STATUS = {Why.MALFORMED: 400, Why.FORBIDDEN: 403, Why.NOT_FOUND: 404, Why.CONFLICT: 412, Why.INVALID: 422}


def denied_status(why: Why) -> int:
    return _DENIED_STATUS[why]


def fhir_response(status: int, body: bytes, headers: dict[str, str] | None = None) -> Response:
    base = {"Cache-Control": "no-store"}
    return Response(content=body, status_code=status, media_type=FHIR_JSON, headers={**base, **(headers or {})})


def outcome_response(status: int, issues: Sequence[Issue], headers: dict[str, str] | None = None) -> Response:
    return fhir_response(status, document_bytes(operation_outcome(issues)), headers)


def disclosure_response(result: DisclosureResult, headers: dict[str, str] | None = None) -> Response:
    """The exact bytes that were hashed into the log, with the ids of their log entries."""
    DISCLOSURES.labels("released" if result.status == 200 else "denied").inc(len(result.disclosure_ids))
    extra = {"X-Disclosure-Id": ",".join(result.disclosure_ids)}
    if result.receipts:
        extra["X-Disclosure-Receipt"] = ",".join(result.receipts)
    if result.policy_revision:
        extra["X-Policy-Revision"] = result.policy_revision
    return fhir_response(result.status, result.body, {**extra, **(headers or {})})

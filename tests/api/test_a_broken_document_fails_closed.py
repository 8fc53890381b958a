"""Defect: a document that could not be decrypted after it was loaded was not failed closed (first
security review). DESIGN.md "Fail closed": deny *and log the denial*, answer the same to a stranger as for
a missing document, and never let the exception reach the server. Each test failed before its fix.
"""

from __future__ import annotations

import pytest
from cryptography.exceptions import InvalidTag
from sqlalchemy import text

from gateway.db.models import AssessmentVersion
from tests.fixtures.gateway import Http


def corrupt_ciphertext(gateway) -> None:
    """One flipped byte in the stored content: what disk corruption, a bad restore or tampering looks like."""
    assessment_id = gateway.published.assessment_id
    with gateway.sessions.begin() as session:
        row = session.get(AssessmentVersion, (assessment_id, gateway.published.version))
        blob = bytearray(row.ciphertext)
        blob[-1] ^= 0x01
        session.execute(
            text("UPDATE assessment_versions SET ciphertext = :c WHERE assessment_id = :a"),
            {"c": bytes(blob), "a": assessment_id},
        )


def test_failure_after_load_is_logged_as_a_denial(gateway):
    """A decrypt failure (or any non-ValueError in _decide/_render) rolled back the transaction that held
    the only log entry: 503, nothing logged."""
    corrupt_ciphertext(gateway)
    auth = gateway.auth("POL-NE", "charging")
    before = len(gateway.log_entries())
    response = gateway.http.get(f"/fhir/Bundle/{gateway.published.assessment_id}", auth=auth)
    assert response.status_code >= 500
    assert "x-disclosure-id" in response.headers
    after = gateway.log_entries()[before:]
    assert [e["outcome"] for e in after if e["event"].startswith("disclosure:")] == ["denied"]


def test_unlinked_caller_gets_the_same_404_for_a_broken_bundle(gateway):
    """read() decrypted before it checked the case link, so a caller with no relationship saw 503 for an
    existing bundle it cannot read and 404 for a missing one (and the gateway decrypted for strangers)."""
    corrupt_ciphertext(gateway)
    auth = gateway.auth("MHT-NE", "health-referral")
    broken = gateway.http.get(f"/fhir/Bundle/{gateway.published.assessment_id}", auth=auth)
    missing = gateway.http.get("/fhir/Bundle/00000000-0000-0000-0000-000000000000", auth=auth)
    assert (broken.status_code, broken.content) == (missing.status_code, missing.content) == (404, missing.content)


def test_unhandled_error_is_answered_not_reraised_to_the_server(gateway):
    """Starlette's ServerErrorMiddleware sends the 503 and then re-raises; uvicorn then writes the full
    traceback (messages, SQL parameters) to stderr as "Exception in ASGI application", outside the JSON
    logs that promise "errors by type only"."""
    corrupt_ciphertext(gateway)
    strict = Http(gateway.app, raise_app_exceptions=True)
    try:
        response = strict.get(
            f"/fhir/Bundle/{gateway.published.assessment_id}", auth=gateway.auth("POL-NE", "charging")
        )
    except InvalidTag:
        pytest.fail("the exception escaped the app: a real server logs its whole traceback")
    assert response.status_code == 503

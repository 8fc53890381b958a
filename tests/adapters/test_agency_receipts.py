"""The reference agency client checks its receipts and their inclusion in the log."""

from __future__ import annotations

import httpx
import pytest

from adapters.agency_client.receipts import ReceiptError, verify_included, verify_response

NHS = "9449305552"
SEARCH = f"/fhir/Bundle?patient.identifier=https://fhir.nhs.uk/Id/nhs-number|{NHS}"


def test_receipts_of_a_search_and_a_read_verify_and_are_in_the_log(gateway):
    key = gateway.http.get("/audit/log-key").json()
    auth = gateway.auth("POL-NE", "charging")
    search = gateway.http.get(SEARCH, auth=auth)
    (claims,) = verify_response(search, key["jwk"])
    read = gateway.http.get(f"/fhir/Bundle/{gateway.published.assessment_id}", auth=auth)
    (read_claims,) = verify_response(read, key["jwk"])
    assert read_claims["leaf_index"] > claims["leaf_index"]
    proof = gateway.http.get(f"/audit/proofs/inclusion/{claims['disclosure_id']}", auth=auth).json()
    checkpoint = verify_included(claims, proof, key["vkey"])
    assert checkpoint.size > claims["leaf_index"]


def test_tampered_body_or_receipt_is_refused(gateway):
    key = gateway.http.get("/audit/log-key").json()
    auth = gateway.auth("POL-NE", "charging")
    real = gateway.http.get(f"/fhir/Bundle/{gateway.published.assessment_id}", auth=auth)
    altered = httpx.Response(200, headers=real.headers, content=real.content[:-1] + b" }")
    with pytest.raises(ReceiptError):
        verify_response(altered, key["jwk"])
    receipt = real.headers["x-disclosure-receipt"]
    forged = dict(real.headers) | {
        "x-disclosure-receipt": receipt[:-4] + ("AAAA" if receipt[-4:] != "AAAA" else "BBBB")
    }
    with pytest.raises(ReceiptError):
        verify_response(httpx.Response(200, headers=forged, content=real.content), key["jwk"])
    (claims,) = verify_response(real, key["jwk"])
    proof = gateway.http.get(f"/audit/proofs/inclusion/{claims['disclosure_id']}", auth=auth).json()
    with pytest.raises(ReceiptError):
        verify_included(claims | {"leaf_index": claims["leaf_index"] + 1}, proof, key["vkey"])

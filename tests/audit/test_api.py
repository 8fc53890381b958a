"""/audit over HTTP: the log key, checkpoints, inclusion and consistency proofs, and who may ask."""

from __future__ import annotations

import base64

from gateway.audit.c2sp_note import NoteVerifier, open_checkpoint
from gateway.audit.rfc9162 import verify_consistency, verify_inclusion

NHS = "9449305552"
SEARCH = f"/fhir/Bundle?patient.identifier=https://fhir.nhs.uk/Id/nhs-number|{NHS}"


def _b64(values):
    return [base64.b64decode(v) for v in values]


def _pull(gateway, agency="POL-NE", purpose="charging") -> str:
    response = gateway.http.get(SEARCH, auth=gateway.auth(agency, purpose))
    assert response.status_code == 200, response.text
    return response.headers["x-disclosure-id"]


def test_inclusion_proof_of_a_disclosure_verifies_against_the_signed_checkpoint(gateway):
    key = gateway.http.get("/audit/log-key").json()
    verifier = NoteVerifier.from_vkey(key["vkey"])
    assert key["origin"] == "testserver/disclosure-log"
    disclosure_id = _pull(gateway)

    response = gateway.http.get(f"/audit/proofs/inclusion/{disclosure_id}", auth=gateway.auth("POL-NE", "charging"))
    assert response.status_code == 200, response.text
    body = response.json()
    checkpoint = open_checkpoint(body["checkpoint"], verifier)
    assert checkpoint.size == body["tree_size"] > body["leaf_index"]
    leaf = base64.b64decode(body["leaf_hash"])
    verify_inclusion(body["leaf_index"], checkpoint.size, leaf, _b64(body["proof"]), checkpoint.root)

    latest = gateway.http.get("/audit/checkpoints/latest")
    assert latest.status_code == 200
    assert latest.headers["content-type"].startswith("text/plain")
    assert latest.text == body["checkpoint"]


def test_only_the_recipient_or_an_auditor_gets_the_inclusion_proof(gateway):
    disclosure_id = _pull(gateway)
    url = f"/audit/proofs/inclusion/{disclosure_id}"
    other = gateway.http.get(url, auth=gateway.auth("MC-NE", "sentencing"))
    unknown = gateway.http.get(
        "/audit/proofs/inclusion/00000000-0000-4000-8000-000000000000", auth=gateway.auth("MC-NE", "sentencing")
    )
    assert other.status_code == unknown.status_code == 404
    assert other.content == unknown.content
    assert gateway.http.get(url, auth=gateway.auth("LD-NE", "ld-service")).status_code == 200
    assert gateway.http.get(url).status_code == 401


def test_consistency_between_two_checkpoints_verifies(gateway):
    verifier = NoteVerifier.from_vkey(gateway.http.get("/audit/log-key").json()["vkey"])
    auth = gateway.auth("POL-NE", "charging")
    first = gateway.http.get(f"/audit/proofs/inclusion/{_pull(gateway)}", auth=auth).json()
    second = gateway.http.get(f"/audit/proofs/inclusion/{_pull(gateway)}", auth=auth).json()
    old, new = open_checkpoint(first["checkpoint"], verifier), open_checkpoint(second["checkpoint"], verifier)
    assert old.size < new.size
    response = gateway.http.get(f"/audit/proofs/consistency?first={old.size}&second={new.size}")
    assert response.status_code == 200
    verify_consistency(old.size, new.size, old.root, new.root, _b64(response.json()["proof"]))
    assert gateway.http.get(f"/audit/checkpoints/{old.size}").text == first["checkpoint"]
    assert gateway.http.get(f"/audit/proofs/consistency?first={old.size}&second={new.size + 1}").status_code == 404


def test_every_disclosure_response_carries_a_signed_receipt_of_its_log_entry(gateway):
    import hashlib
    import json

    from joserfc import jws
    from joserfc.jwk import OKPKey

    key = OKPKey.import_key(gateway.http.get("/audit/log-key").json()["jwk"])
    response = gateway.http.get(SEARCH, auth=gateway.auth("POL-NE", "charging"))
    ids = response.headers["x-disclosure-id"].split(",")
    receipts = response.headers["x-disclosure-receipt"].split(",")
    assert len(ids) == len(receipts) == 1
    token = jws.deserialize_compact(receipts[0], key, algorithms=["Ed25519"])
    assert token.headers()["typ"] == "disclosure-receipt+jws"
    claims = json.loads(token.payload)
    document = json.dumps(response.json()["entry"][0]["resource"], separators=(",", ":"), ensure_ascii=False)
    assert claims["disclosure_id"] == ids[0]
    assert claims["body_sha256"] == hashlib.sha256(document.encode()).hexdigest()
    assert claims["outcome"] == "released" and claims["iss"] == "testserver/disclosure-log"

    refused = gateway.http.get(SEARCH.replace(NHS, "9000000009"), auth=gateway.auth("POL-NE", "charging"))
    assert refused.status_code == 404
    claims = json.loads(
        jws.deserialize_compact(refused.headers["x-disclosure-receipt"], key, algorithms=["Ed25519"]).payload
    )
    assert claims["body_sha256"] == hashlib.sha256(refused.content).hexdigest()
    assert claims["leaf_index"] > 0 and claims["outcome"] == "denied"

"""Regression tests for the defects found in the first security review, against a real gateway
(see tests/fixtures/gateway.py). Each failed before its fix; each states what DESIGN.md or
docs/decisions.md promise.
"""

from __future__ import annotations

import json
import logging

import pytest
from cryptography.exceptions import InvalidTag
from sqlalchemy import select, text

from gateway.assessments.identifiers import PNC_ID_SYSTEM
from gateway.auth import registry
from gateway.db.models import AssessmentVersion, DisclosureLogEntry
from tests.auth.conftest import assertion_claims, sign_assertion, token_form, unsigned_jwt
from tests.fixtures.gateway import Http

NHS = "9449305552"
PNC = "2020/0000009N"
NAME = "Daniel Hewitt"
NHS_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"


def log_text(gateway) -> str:
    """Every stored log entry, as stored (the leaf bytes that can never be erased)."""
    with gateway.sessions() as session:
        return "\n".join(session.execute(select(DisclosureLogEntry.entry).order_by(DisclosureLogEntry.seq)).scalars())


def log_entries(gateway) -> list[dict]:
    return [json.loads(line) for line in log_text(gateway).splitlines() if line]


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


# -- 1. attacker-chosen text enters the permanent, unerasable disclosure log ---------------------------


def test_unverified_bearer_token_header_text_never_enters_the_log(gateway):
    """rfc9068._verified puts the *unverified* ``typ`` (and ``alg``) into InvalidToken.reason, and
    api/security.py logs the reason: anyone, without credentials, writes up to ~3 KB of their own text
    (here a name and NHS number) into a hash-chained leaf that can never be changed or erased."""
    forged = unsigned_jwt({"alg": "RS256", "kid": "k", "typ": f"{NAME} {NHS}"}, {"sub": "x"}, b"sig")
    response = gateway.http.get("/fhir/Bundle/anything", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401
    stored = log_text(gateway)
    assert NHS not in stored and NAME not in stored


@pytest.mark.parametrize("vector", ["unknown-client", "assertion-type", "repeated-parameter", "content-type"])
def test_unauthenticated_token_requests_never_write_their_own_text_into_the_log(gateway, vector):
    """docs/decisions.md: "attacker-chosen strings never enter the log". The token endpoint's reasons
    quote the claimed client id, the assertion type, parameter names and the content type."""
    payload = f"{NAME} {NHS}"
    claims = assertion_claims(payload if vector == "unknown-client" else gateway.clients["POL-NE"])
    form = token_form(sign_assertion(gateway.key, claims, alg="RS512"), "charging")
    kwargs: dict = {"data": form}
    if vector == "assertion-type":
        form["client_assertion_type"] = payload
    elif vector == "repeated-parameter":
        kwargs = {
            "content": f"{payload}=1&{payload}=2",
            "headers": {"Content-Type": "application/x-www-form-urlencoded"},
        }
    elif vector == "content-type":
        kwargs = {"content": b"x", "headers": {"Content-Type": f"text/{NHS}"}}
    response = gateway.http.post("/oauth2/token", **kwargs)
    assert response.status_code in (400, 401)
    assert NHS not in log_text(gateway)


# -- 2. fail closed, and log it -------------------------------------------------------------------------


def test_failure_after_load_is_logged_as_a_denial(gateway):
    """DESIGN.md "Fail closed": deny *and log the denial*. A decrypt failure (or any non-ValueError in
    _decide/_render) rolls back the transaction that held the only log entry: 503, nothing logged."""
    corrupt_ciphertext(gateway)
    auth = gateway.auth("POL-NE", "charging")
    before = len(log_entries(gateway))
    response = gateway.http.get(f"/fhir/Bundle/{gateway.published.assessment_id}", auth=auth)
    assert response.status_code >= 500
    assert "x-disclosure-id" in response.headers
    after = log_entries(gateway)[before:]
    assert [e["outcome"] for e in after if e["event"].startswith("disclosure:")] == ["denied"]


def test_unlinked_caller_gets_the_same_404_for_a_broken_bundle(gateway):
    """read() decrypts before it checks the case link, so a caller with no relationship sees 503 for an
    existing bundle it cannot read and 404 for a missing one (and the gateway decrypts for strangers)."""
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


def test_deeply_nested_json_is_a_400_not_a_503(gateway):
    """api/assessments.py catches ValueError from json.loads, but deep nesting raises RecursionError."""
    response = gateway.http.post(
        "/assessments",
        content=b"[" * 100_000,
        auth=gateway.auth("LD-NE", "ld-service"),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400, response.status_code


# -- 3. audit completeness --------------------------------------------------------------------------------


def test_refusal_of_a_revoked_clients_token_names_the_client(gateway):
    """validate_access_token knows the (signature-verified) client id when it refuses a revoked client,
    but api/security.py calls refuse(None, ...) without client_id: IG cannot see who kept trying."""
    client_id = gateway.clients["POL-NE"]
    auth = gateway.auth("POL-NE", "charging")
    with gateway.sessions.begin() as session:
        registry.revoke_client(session, client_id)
    response = gateway.http.get(f"/fhir/Bundle/{gateway.published.assessment_id}", auth=auth)
    assert response.status_code == 401
    (entry,) = [e for e in log_entries(gateway) if e["disclosure_id"] == response.headers["x-disclosure-id"]]
    assert entry["client_id"] == client_id


# -- 4. personal data in application logs ------------------------------------------------------------------


def test_request_log_never_records_an_identifier_in_the_path(gateway, caplog):
    """app_logging.py logs request.url.path. A client that puts an NHS number in a path (a wrong bundle id, a
    /fhir/Patient/{nhs} probe, and the contract's own /audit/subjects/{nhs_number}/report) writes it to
    the application log. Log the route template instead."""
    auth = gateway.auth("POL-NE", "charging")
    caplog.set_level(logging.INFO, logger="gateway")
    gateway.http.get(f"/fhir/Bundle/{NHS}", auth=auth)
    gateway.http.get(f"/fhir/Patient/{NHS}", auth=auth)
    logged = [json.dumps(getattr(r, "fields", {})) + r.getMessage() for r in caplog.records]
    assert logged and not [line for line in logged if NHS in line]


# -- 5. search correctness ----------------------------------------------------------------------------------


def test_pnc_search_matches_the_stored_pnc_in_any_case(gateway):
    """Publishing upper-cases the PNC ID before hashing it; search hashes it as given, so a lower-case
    PNC ID finds nobody: a court is told "no assessment" about a person who has one."""
    url = f"/fhir/Bundle?patient.identifier={PNC_ID_SYSTEM}|{PNC.lower()}"
    response = gateway.http.get(url, auth=gateway.auth("POL-NE", "charging"))
    assert response.status_code == 200, response.status_code


def test_searchset_self_link_does_not_echo_the_host_header(gateway):
    """The self link is built from request.url, i.e. the client's Host header, and ends up in bytes the
    log hashes (and receipts will sign). Build it from GATEWAY_ISSUER."""
    auth, headers = gateway.auth("POL-NE", "charging"), {"Host": "attacker.example"}
    response = gateway.http.get(f"/fhir/Bundle?patient.identifier={NHS_SYSTEM}|{NHS}", auth=auth, headers=headers)
    assert response.status_code == 200
    assert response.json()["link"][0]["url"].startswith(gateway.settings.issuer.rstrip("/") + "/fhir/Bundle")


# -- 6. unauthenticated resource exhaustion -----------------------------------------------------------------


def test_request_metrics_do_not_grow_a_series_per_invented_method(gateway):
    """app_logging.py labels ldg_http_request_duration_seconds with request.method as sent. HTTP methods are
    free tokens, so an unauthenticated client mints a new 11-bucket histogram series per request, held in
    memory forever and served by /metrics. Map unknown methods to "other"."""
    from gateway.metrics import REQUEST_SECONDS

    for i in range(25):
        gateway.http.request(f"PROBE{i}", "/healthz")
    invented = {
        sample.labels["method"]
        for metric in REQUEST_SECONDS.collect()
        for sample in metric.samples
        if sample.labels.get("method", "").startswith("PROBE")
    }
    assert len(invented) <= 1, f"{len(invented)} series minted by one client"


# -- 7. a relationship, once published, can never be withdrawn -----------------------------------------------


def test_republishing_without_a_case_link_withdraws_that_agencys_access(gateway):
    """store._record_case_link only ever adds. An L&D service that linked the wrong police force and
    republishes the corrected assessment (same local_reference, new version) leaves the force's link in
    place, and the force keeps pulling the person's assessments; nothing in the API can remove it."""
    from tests.factories import example, publish

    corrected = example("adult.json")
    corrected["case_links"] = [link for link in corrected["case_links"] if link["agency_code"] != "POL-NE"]
    republished = publish(gateway.sessions, gateway.keyring, corrected)
    assert (republished.assessment_id, republished.version) == (gateway.published.assessment_id, 2)
    response = gateway.http.get(
        f"/fhir/Bundle?patient.identifier={NHS_SYSTEM}|{NHS}", auth=gateway.auth("POL-NE", "charging")
    )
    assert response.status_code == 404, response.status_code


# -- 8. the searchset hides its total, the header gives it away --------------------------------------------


def test_a_200_searchset_does_not_count_the_documents_it_withheld(gateway):
    """searchset.py leaves out ``total`` because "a count would tell a caller how many documents exist
    that it may not see"; yet X-Disclosure-Id lists one id per assessment, refused ones included. Here
    probation learns that an assessment from the person's childhood exists (policy: under-18s are the
    YOT's, "child-subject-yot-not-probation"), though the policy released nothing of it.

    Since the sharing agreement's second edition the age that counts is the age on the day of disclosure,
    so the childhood assessment of this (now adult) person is released to probation: both documents come
    back, and the header still lists exactly one id per document returned."""
    from tests.factories import example, publish

    childhood = example("adult.json")
    childhood["local_reference"] = "LD-NE-2008-0001"
    childhood["context"]["assessed_at"] = "2008-06-02T10:00:00Z"
    childhood["consent"]["recorded_at"] = "2008-06-02T09:50:00Z"
    publish(gateway.sessions, gateway.keyring, childhood)
    response = gateway.http.get(
        f"/fhir/Bundle?patient.identifier={NHS_SYSTEM}|{NHS}", auth=gateway.auth("PROB-NE", "sentencing")
    )
    assert response.status_code == 200, response.text
    documents = response.json()["entry"]
    assert len(documents) == 2
    assert len(response.headers["x-disclosure-id"].split(",")) == len(documents)


def test_a_200_searchset_does_not_count_a_document_the_policy_refused(gateway):
    """The same leak with a refusal under the second edition: the mental health trust may see what the
    person consented to, and nothing of an assessment where they declined the referral
    ("nothing-to-share-without-consent"). The header must not reveal that the declined one exists."""
    from tests.factories import example, publish

    for reference, status in (("LD-NE-2026-H1", "given"), ("LD-NE-2026-H2", "declined")):
        document = example("adult.json")
        document["local_reference"] = reference
        document["case_links"].append({"agency_code": "MHT-NE", "case_reference": f"MHT-{reference[-2:]}"})
        document["consent"]["status"] = status
        publish(gateway.sessions, gateway.keyring, document)
    response = gateway.http.get(
        f"/fhir/Bundle?patient.identifier={NHS_SYSTEM}|{NHS}", auth=gateway.auth("MHT-NE", "health-referral")
    )
    assert response.status_code == 200, response.text
    documents = response.json()["entry"]
    assert len(documents) == 2  # the fixture's own assessment and H1; never H2
    assert len(response.headers["x-disclosure-id"].split(",")) == len(documents)

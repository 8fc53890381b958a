"""The subject access report over HTTP: counts (publishes and overrides are not refusals), found by NHS
number or PNC ID, filtered by event, what was shared in section terms, and the clinician's sign-off of
the serious-harm check (stored, logged, shown). SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from fhir.resources.R4B.auditevent import AuditEvent as FhirAuditEvent
from sqlalchemy import select

from gateway.db.models import DisclosureLogEntry, SubjectReportSignOff
from tests.auth.conftest import assertion_claims, sign_assertion, token_form
from tests.dpop import DpopAuth
from tests.factories import example

NHS = "9449305552"
PNC = "2020/0000009N"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
SEARCH = "/fhir/Bundle?patient.identifier=https://fhir.nhs.uk/Id/nhs-number|" + NHS


def _activity(gateway) -> None:
    """A publish (version 2 over HTTP), a lawful override recorded, one release and one refusal."""
    ld = gateway.auth("LD-NE", "ld-service")
    document = example("adult.json")
    document["consent"] = {**document["consent"], "status": "declined"}
    published = gateway.http.post("/assessments", json=document, auth=ld)
    assert published.status_code in (200, 201), published.text
    override = {
        "basis": "safeguarding",
        "reason": "Risk to others; police need it tonight.",
        "recipients": ["POL-NE"],
        "expires_at": (datetime.now(UTC) + timedelta(days=3)).isoformat(),
        "recorded_by": "Sam Okafor, L&D practitioner",
    }
    target = gateway.published.assessment_id
    assert gateway.http.post(f"/assessments/{target}/overrides", json=override, auth=ld).status_code == 201
    assert gateway.http.get(SEARCH, auth=gateway.auth("POL-NE", "charging")).status_code == 200
    assert gateway.http.get(SEARCH, auth=gateway.auth("MHT-NE", "health-referral")).status_code == 404


def _report(gateway, **form) -> dict:
    body = "&".join(f"{k}={v}" for k, v in form.items())
    response = gateway.http.post(
        "/audit/subjects/report/_search", content=body, headers=FORM, auth=gateway.auth("LD-NE", "ld-service")
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_counts_sections_and_lookup_by_nhs_number_or_pnc_id(gateway):
    _activity(gateway)
    report = _report(gateway, nhs_number=NHS)
    assert report["by_event"]["ingest:assessment:published"] == 1
    assert report["by_event"]["ingest:override:recorded"] == 1
    # One release, one refusal: the publish and the override recording are neither.
    assert (report["disclosures"], report["refusals"]) == (1, 1)
    assert report["recipients"] == ["POL-NE"]
    released = next(e for e in report["entries"] if e["event"] == "disclosure:bundle:released")
    # Section terms, never field ids.
    assert "Identity" in released["shared"] and "Risk and safeguarding" in released["shared"]
    assert not any("." in title for e in report["entries"] for title in e["shared"] + e["withheld"])
    assert released["basis"]["consent_status"] == "declined" and released["basis"]["overrides"]
    assert report["shared"] == released["shared"]

    # The same person by PNC ID, however it is typed (keyed as identity keys it: padded, upper case).
    assert _report(gateway, pnc_id=PNC) == report
    assert _report(gateway, pnc_id="2020/9n") == report
    bad = gateway.http.post(
        "/audit/subjects/report/_search",
        content="pnc_id=2020/0000009A",
        headers=FORM,
        auth=gateway.auth("LD-NE", "ld-service"),
    )
    assert bad.status_code == 400 and "pnc_id" in bad.json()["problems"][0]


def test_filtered_by_event(gateway):
    _activity(gateway)
    auth = gateway.auth("LD-NE", "ld-service")
    only = gateway.http.get(f"/audit/subjects/{NHS}/report", params={"event": "disclosure:bundle:released"}, auth=auth)
    assert only.status_code == 200, only.text
    body = only.json()
    assert {e["event"] for e in body["entries"]} == {"disclosure:bundle:released"}
    assert body["events"] == ["disclosure:bundle:released"] and body["refusals"] == 0
    both = _report(gateway, nhs_number=NHS, event="disclosure:bundle:released,ingest:override:recorded")
    assert set(both["by_event"]) == {"disclosure:bundle:released", "ingest:override:recorded"}
    unknown = gateway.http.get(f"/audit/subjects/{NHS}/report", params={"event": "nonsense"}, auth=auth)
    assert unknown.status_code == 400


def test_a_clinician_signs_off_the_serious_harm_check_before_release(gateway):
    _activity(gateway)
    auth = gateway.auth("LD-NE", "ld-service")
    assert _report(gateway, nhs_number=NHS)["sign_off"] == {"signed_off": False, "current": False}
    form = "nhs_number=9449305552&clinician=Dr%20A%20Patel%20GMC%201234567&decision=release"
    signed = gateway.http.post("/audit/subjects/report/sign-off", content=form, headers=FORM, auth=auth)
    assert signed.status_code == 201, signed.text
    sign_off = _report(gateway, nhs_number=NHS)["sign_off"]
    assert sign_off["signed_off"] is True and sign_off["current"] is True
    assert (sign_off["clinician"], sign_off["decision"]) == ("Dr A Patel GMC 1234567", "release")
    assert sign_off["id"] == signed.json()["id"]

    # Stored in its own table, and logged (no name in the log: the entry names the sign-off by id).
    with gateway.sessions() as session:
        (row,) = session.execute(select(SubjectReportSignOff)).scalars().all()
        entries = [json.loads(e) for e in session.execute(select(DisclosureLogEntry.entry)).scalars()]
    (logged,) = [e for e in entries if e["event"] == "audit:report:signed-off"]
    assert logged["decision_id"] == row.id and logged["outcome"] == "done" and "Patel" not in json.dumps(entries)

    # A later disclosure makes the sign-off stale: a new check is needed.
    assert gateway.http.get(SEARCH, auth=gateway.auth("POL-NE", "charging")).status_code == 200
    stale = _report(gateway, nhs_number=NHS)["sign_off"]
    assert stale["signed_off"] is True and stale["current"] is False

    # A sign-off names its clinician and a decision from the list; a partner agency may not sign off.
    for bad in ("clinician=&decision=release", "clinician=Dr%20B&decision=maybe", "decision=release"):
        refused = gateway.http.post(
            "/audit/subjects/report/sign-off", content=f"nhs_number={NHS}&{bad}", headers=FORM, auth=auth
        )
        assert refused.status_code == 400, bad
    police = gateway.http.post(
        "/audit/subjects/report/sign-off", content=form, headers=FORM, auth=gateway.auth("POL-NE", "charging")
    )
    assert police.status_code == 403


def test_the_fhir_export_tells_each_event_as_its_own_type(gateway):
    """Over the whole path: a publish is an Update (version 2), the override a Create, the release a Read,
    the refused search a failed Query; each that succeeded with the caller's address recorded claims its profile."""
    _activity(gateway)
    bundle = gateway.http.get(
        "/audit/disclosures", params={"format": "fhir"}, auth=gateway.auth("LD-NE", "ld-service")
    ).json()
    events = [FhirAuditEvent.model_validate(e["resource"]) for e in bundle["entry"]]
    by_event = {next(c.code for c in e.subtype if c.system.endswith("/audit-event")): e for e in events}
    shapes = {
        name: (e.action, e.outcome, e.meta.profile[0].rsplit(".", 1)[-1] if e.meta else None)
        for name, e in by_event.items()
    }
    assert shapes == {
        "ingest:assessment:published": ("U", "0", "PatientUpdate"),
        "ingest:override:recorded": ("C", "0", "PatientCreate"),
        "disclosure:bundle:released": ("R", "0", "PatientRead"),
        "disclosure:bundle:denied": ("E", "4", None),  # a search refused (no case link): a failed Query
    }


def _narrowed(gateway, agency: str, scope: str) -> DpopAuth:
    """A token of the ``ld-service`` purpose asked for with ``scope`` only (RFC 6749 section 3.3)."""
    assertion = sign_assertion(gateway.key, assertion_claims(gateway.clients[agency]), alg="RS512")
    proof = gateway.dpop_key.proof("POST", gateway.settings.token_url)
    form = token_form(assertion, "ld-service", scope=scope)
    response = gateway.http.post("/oauth2/token", data=form, headers={"DPoP": proof})
    assert response.status_code == 200 and response.json()["scope"] == scope, response.text
    return DpopAuth(response.json()["access_token"], gateway.dpop_key)


def test_signing_off_needs_audit_write_not_only_audit_read(gateway):
    """A sign-off writes to the log: a token narrowed to ``audit.read`` (a reporting tool's) may read the
    report but not sign it off; ``audit.write`` may."""
    form = f"nhs_number={NHS}&clinician=Dr%20A%20Patel&decision=release"
    reader = _narrowed(gateway, "LD-NE", "audit.read")
    assert gateway.http.get(f"/audit/subjects/{NHS}/report", auth=reader).status_code == 200
    refused = gateway.http.post("/audit/subjects/report/sign-off", content=form, headers=FORM, auth=reader)
    assert refused.status_code == 403 and "insufficient_scope" in refused.headers["www-authenticate"]
    with gateway.sessions() as session:
        assert session.execute(select(SubjectReportSignOff)).first() is None
    writer = _narrowed(gateway, "LD-NE", "audit.write")
    signed = gateway.http.post("/audit/subjects/report/sign-off", content=form, headers=FORM, auth=writer)
    assert signed.status_code == 201, signed.text

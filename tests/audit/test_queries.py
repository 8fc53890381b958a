"""IG queries over the log (/audit/disclosures, /audit/disclosures/{id}, subject report, CSV, FHIR AuditEvent)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

from fhir.resources.R4B.auditevent import AuditEvent
from sqlalchemy import select

from gateway.audit import balp, queries
from gateway.db.models import DisclosureLogEntry

NHS = "9449305552"
UNKNOWN = "9000000009"
SEARCH = "/fhir/Bundle?patient.identifier=https://fhir.nhs.uk/Id/nhs-number|{}"


def _pulls(gateway) -> dict[str, str]:
    ids = {}
    for name, agency, purpose, nhs in [
        ("police", "POL-NE", "charging", NHS),
        ("court", "MC-NE", "sentencing", NHS),
        ("unlinked", "MHT-NE", "health-referral", NHS),
        ("unknown", "POL-NE", "charging", UNKNOWN),
    ]:
        response = gateway.http.get(SEARCH.format(nhs), auth=gateway.auth(agency, purpose))
        ids[name] = response.headers["x-disclosure-id"]
    return ids


def _get(gateway, url, **params):
    response = gateway.http.get(url, params=params, auth=gateway.auditor)
    assert response.status_code == 200, response.text
    return response


def test_filters_pages_and_detail(gateway):
    ids = _pulls(gateway)
    gateway.auditor = gateway.auth("LD-NE", "ld-service")
    everything = _get(gateway, "/audit/disclosures", limit=500).json()["items"]
    assert [i["seq"] for i in everything] == sorted((i["seq"] for i in everything), reverse=True)

    pages, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor is not None else {})
        body = _get(gateway, "/audit/disclosures", **params).json()
        pages += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert [p["seq"] for p in pages] == [i["seq"] for i in everything]

    person = {i["disclosure_id"] for i in _get(gateway, "/audit/disclosures", nhs_number=NHS).json()["items"]}
    assert {ids["police"], ids["court"], ids["unlinked"]} <= person and ids["unknown"] not in person
    # A search for a person nobody knows names no person of this L&D service's: it is IG's to read, not theirs.
    unknown = _get(gateway, "/audit/disclosures", nhs_number=UNKNOWN).json()["items"]
    assert unknown == []

    police = _get(gateway, "/audit/disclosures", agency="POL-NE", outcome="released").json()["items"]
    assert [i["disclosure_id"] for i in police] == [ids["police"]]
    now = datetime.now(UTC)
    assert _get(gateway, "/audit/disclosures", until=(now - timedelta(days=1)).isoformat()).json()["items"] == []
    recent = _get(gateway, "/audit/disclosures", since=(now - timedelta(hours=1)).isoformat()).json()["items"]
    assert len(recent) == len(everything)
    assert _get(gateway, "/audit/disclosures", override="true").json()["items"] == []
    assert len(_get(gateway, "/audit/disclosures", override="false", limit=500).json()["items"]) == len(everything)

    detail = _get(gateway, f"/audit/disclosures/{ids['police']}").json()
    assert detail["outcome"] == "released" and detail["purpose"] == "charging"
    assert detail["released"] and detail["withheld"]
    assert all({"field", "rule", "reason"} <= set(w) for w in detail["withheld"])
    refused = _get(gateway, f"/audit/disclosures/{ids['unlinked']}").json()
    assert refused["outcome"] == "denied" and refused["reason"] == "no-case-link"


def test_csv_and_fhir_audit_event_exports(gateway):
    ids = _pulls(gateway)
    gateway.auditor = gateway.auth("LD-NE", "ld-service")
    rows = list(csv.reader(io.StringIO(_get(gateway, "/audit/disclosures", format="csv", nhs_number=NHS).text)))
    assert rows[0][:3] == ["seq", "disclosure_id", "created_at"]
    assert {r[1] for r in rows[1:]} >= {ids["police"], ids["court"], ids["unlinked"]}
    assert not any(NHS in cell for row in rows for cell in row)

    bundle = _get(gateway, "/audit/disclosures", format="fhir", agency="POL-NE").json()
    events = [AuditEvent.model_validate(e["resource"]) for e in bundle["entry"]]
    released = next(e for e in events if e.id == ids["police"])
    assert released.action == "R" and released.outcome == "0"
    # HL7 v3 PurposeOfUse where one fits, the local purpose code beside it.
    assert [c.code for c in released.purposeOfEvent[0].coding] == ["HLEGAL", "charging"]
    assert {a.requestor for a in released.agent} == {True, False}
    detail = {d.type: d.valueString for d in released.entity[-1].detail}
    assert detail["released"] and any(k.startswith("withheld:") for k in detail)
    # The pull was a search that released a document: a read of it, saying it came from a search, from
    # the network address the gateway saw; so it meets (and claims) BALP PatientRead.
    assert [c.code for c in released.subtype][:2] == ["read", "search-type"]
    client = next(a for a in released.agent if a.requestor)
    assert client.network.address and client.network.type == "2"
    assert released.meta.profile == ["https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.PatientRead"]
    # A search for a person nobody knows (IG's to read, so from the whole log): a failed Query, no profile.
    with gateway.sessions() as session:
        unknown = balp.audit_event(queries.get_disclosure(session, ids["unknown"]), server="http://testserver")
    assert (unknown["action"], unknown["outcome"], "meta" in unknown) == ("E", "4", False)
    assert unknown["subtype"][0]["code"] == "search-type"


def test_subject_access_report(gateway):
    ids = _pulls(gateway)
    gateway.auditor = gateway.auth("LD-NE", "ld-service")
    report = _get(gateway, f"/audit/subjects/{NHS}/report").json()
    assert report["disclosures"] == 2 and report["refusals"] >= 1
    assert report["recipients"] == ["MC-NE", "POL-NE"]
    police = next(e for e in report["entries"] if e["disclosure_id"] == ids["police"])
    assert police["purpose"] == "charging" and police["basis"]["policy_revision"]
    bad = gateway.http.get("/audit/subjects/1234567890/report", auth=gateway.auditor)
    assert bad.status_code == 400


def test_only_audit_read_tokens_may_query(gateway):
    _pulls(gateway)
    assert gateway.http.get("/audit/disclosures").status_code == 401
    police = gateway.http.get("/audit/disclosures", auth=gateway.auth("POL-NE", "charging"))
    assert police.status_code == 403
    # The refusals name no person: they are in the whole log (IG's), not in an L&D service's view of it.
    with gateway.sessions() as session:
        entries = [json.loads(e) for e in session.execute(select(DisclosureLogEntry.entry)).scalars()]
    assert any(i["event"] == "audit:query:denied" and i["reason"].startswith("insufficient_scope") for i in entries)
    auditor = gateway.auth("LD-NE", "ld-service")
    assert not any(i["event"] == "audit:query:denied" for i in _get_json_log(gateway, auditor))


def _get_json_log(gateway, auditor):
    return gateway.http.get("/audit/disclosures", params={"limit": 500}, auth=auditor).json()["items"]

"""Every disclosure's log entry names its lawful basis (consent, the process minimum, each override relied
on with its statute), and an override's author, expiry and reason hash sit inside the hashed entry, so
changing any of them breaks `audit verify`. SQLite and PostgreSQL, through the HTTP API."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

from sqlalchemy import select

from gateway.audit import log
from gateway.audit.verify import verify_rows
from gateway.db.models import DisclosureLogEntry
from tests.fixtures import ROOT
from tests.overrides.test_override_flow import REASON, entries, override_body, pull, record, republish

DATA = json.loads((ROOT / "policies" / "data.json").read_text())
STATUTES = {basis: spec["statute"] for basis, spec in DATA["gateway"]["lawful_bases"].items()}


def test_a_disclosure_under_consent_names_consent_as_its_basis(gateway):
    status, _, entry = pull(gateway, "POL-NE", "charging")

    assert status == 200
    assert entry["lawful_basis"] == [{"basis": "consent", "statute": STATUTES["consent"]}]


def test_without_consent_the_process_minimum_is_the_basis(gateway):
    republish(gateway, status="withdrawn")

    status, _, entry = pull(gateway, "MC-NE", "case-management")

    assert status == 200
    assert entry["lawful_basis"] == [{"basis": "process-minimum", "statute": STATUTES["process-minimum"]}]


def test_a_refusal_names_no_basis(gateway):
    status, _, entry = pull(gateway, "MHT-NE", "health-referral")  # no case link: the person is unknown to it

    assert status == 404
    assert entry["outcome"] == "denied" and "lawful_basis" not in entry


def test_an_override_relied_on_is_named_with_its_statute_author_expiry_and_reason_hash(gateway):
    republish(gateway, status="declined")
    body = override_body()
    override_id = record(gateway, body).json()["id"]

    status, _, entry = pull(gateway, "POL-NE", "charging")

    assert status == 200
    expected_override = {
        "basis": "safeguarding",
        "statute": STATUTES["safeguarding"],
        "override_id": override_id,
        "recorded_by": body["recorded_by"],
        "expires_at": entry["lawful_basis"][1]["expires_at"],
        "reason_sha256": hashlib.sha256(REASON.encode()).hexdigest(),
    }
    assert entry["lawful_basis"] == [
        {"basis": "process-minimum", "statute": STATUTES["process-minimum"]},
        expected_override,
    ]
    assert datetime.fromisoformat(expected_override["expires_at"]) == datetime.fromisoformat(body["expires_at"])
    (recorded,) = [e for e in entries(gateway) if e["event"] == "ingest:override:recorded"]
    assert recorded["lawful_basis"] == [{key: value for key, value in expected_override.items() if key != "statute"}], (
        "the recording entry holds the practitioner to the same author, expiry and reason"
    )
    assert REASON not in json.dumps(entries(gateway)), "only the hash of the reason is in the log"


def test_the_override_record_is_inside_the_hashed_entry(gateway):
    republish(gateway, status="declined")
    record(gateway, override_body())
    _, _, entry = pull(gateway, "POL-NE", "charging")
    with gateway.sessions() as session:
        assert verify_rows(log.iter_rows(session), log.read_head(session)).ok

    with gateway.sessions.begin() as session:
        row = session.execute(
            select(DisclosureLogEntry).where(DisclosureLogEntry.disclosure_id == entry["disclosure_id"])
        ).scalar_one()
        stored = json.loads(row.entry)
        stored["lawful_basis"][1]["recorded_by"] = "Someone Else"
        row.entry = json.dumps(stored, sort_keys=True, separators=(",", ":"))

    with gateway.sessions() as session:
        result = verify_rows(log.iter_rows(session), log.read_head(session))
    assert not result.ok and result.failure is not None
    assert result.failure.seq == row.seq and result.failure.kind == "entry"


def test_the_policy_revision_an_entry_names_is_served_whole_to_a_token_holder(gateway):
    from gateway.policy.store import store_revision
    from tests.fixtures.gateway import CATALOGUE

    _, _, entry = pull(gateway, "POL-NE", "charging")
    with gateway.sessions.begin() as session:
        assert (
            store_revision(session, ROOT / "policies", CATALOGUE.ids, datetime.now().astimezone())
            == (entry["policy_revision"])
        )

    url = f"/audit/policy-revisions/{entry['policy_revision']}"
    response = gateway.http.get(url, auth=gateway.auth("POL-NE", "charging"))

    assert response.status_code == 200, response.text
    stored = response.json()
    assert stored["revision"] == entry["policy_revision"]
    assert stored["files"]["disclosure.rego"] == (ROOT / "policies" / "disclosure.rego").read_text()
    assert stored["catalogue_ids"] == list(CATALOGUE.ids)
    unknown = gateway.http.get("/audit/policy-revisions/sha256:" + "0" * 64, auth=gateway.auth("POL-NE", "charging"))
    assert unknown.status_code == 404
    assert gateway.http.get(url).status_code == 401

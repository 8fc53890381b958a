"""Every disclosure's log entry names its lawful basis (consent, the process minimum, each override relied
on with its statute), and an override's expiry and keyed commitments to its author and reason sit
inside the hashed entry, so changing any of them breaks `audit verify`. SQLite and PostgreSQL, through the HTTP API."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

from sqlalchemy import select

from gateway.assessments.store import shred_subject, subject_data_key
from gateway.audit import log
from gateway.audit.verify import verify_rows
from gateway.db.models import Assessment, DisclosureLogEntry, LawfulOverride
from gateway.keys import encrypt
from gateway.overrides.store import _reason_aad, entry_matches_override
from tests.factories import log_verdict
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


def test_an_override_relied_on_is_named_with_its_statute_expiry_and_commitments_to_author_and_reason(gateway):
    republish(gateway, status="declined")
    body = override_body()
    override_id = record(gateway, body).json()["id"]

    status, _, entry = pull(gateway, "POL-NE", "charging")

    assert status == 200
    item = entry["lawful_basis"][1]
    assert entry["lawful_basis"][0] == {"basis": "process-minimum", "statute": STATUTES["process-minimum"]}
    assert set(item) == {"basis", "statute", "override_id", "expires_at", "recorded_by_hmac", "reason_hmac"}
    assert (item["basis"], item["statute"], item["override_id"]) == (
        "safeguarding",
        STATUTES["safeguarding"],
        override_id,
    )
    assert datetime.fromisoformat(item["expires_at"]) == datetime.fromisoformat(body["expires_at"])
    with gateway.sessions() as session:
        assert entry_matches_override(session, gateway.keyring, item)
    (recorded,) = [e for e in entries(gateway) if e["event"] == "ingest:override:recorded"]
    assert recorded["lawful_basis"] == [{key: value for key, value in item.items() if key != "statute"}], (
        "the recording entry holds the practitioner to the same author, expiry and reason"
    )


def test_personal_data_in_the_immutable_log_no_author_name_or_guessable_reason_hash(gateway):
    republish(gateway, status="declined")
    body = override_body()
    record(gateway, body)
    pull(gateway, "POL-NE", "charging")

    logged = json.dumps(entries(gateway))
    assert body["recorded_by"] not in logged and REASON not in logged
    assert hashlib.sha256(REASON.encode()).hexdigest() not in logged, (
        "an unkeyed reason hash is confirmable by guessing"
    )
    assert '"recorded_by"' not in logged and '"reason_sha256"' not in logged


def test_personal_data_in_the_immutable_log_commitment_check_refuses_a_tampered_reason_or_author(gateway):
    republish(gateway, status="declined")
    override_id = record(gateway, override_body()).json()["id"]
    _, _, entry = pull(gateway, "POL-NE", "charging")
    item = entry["lawful_basis"][1]
    with gateway.sessions() as session:
        assert entry_matches_override(session, gateway.keyring, item)
        assert not entry_matches_override(session, gateway.keyring, {**item, "reason_hmac": "0" * 64})
        assert not entry_matches_override(session, gateway.keyring, {**item, "expires_at": "2030-01-01T00:00:00+00:00"})

    with gateway.sessions.begin() as session:  # the stored reason replaced, re-encrypted under the same key
        row = session.get(LawfulOverride, override_id)
        key = subject_data_key(session, gateway.keyring, session.get(Assessment, row.assessment_id).subject_id)
        row.reason_ciphertext = encrypt(key, b"A different reason", _reason_aad(override_id))
    with gateway.sessions() as session:
        assert not entry_matches_override(session, gateway.keyring, item)

    with gateway.sessions.begin() as session:
        session.get(LawfulOverride, override_id).recorded_by = "Someone Else"
        row = session.get(LawfulOverride, override_id)
        row.reason_ciphertext = encrypt(key, REASON.encode(), _reason_aad(override_id))
    with gateway.sessions() as session:
        assert not entry_matches_override(session, gateway.keyring, item), "a different author does not match"


def test_personal_data_in_the_immutable_log_erasure_leaves_it_verifiable_and_uncheckable(gateway):
    republish(gateway, status="declined")
    record(gateway, override_body())
    _, _, entry = pull(gateway, "POL-NE", "charging")
    with gateway.sessions.begin() as session:
        row = session.get(Assessment, entry["assessment_id"])
        shred_subject(session, row.subject_id, datetime.now(UTC))
    with gateway.sessions() as session:
        assert verify_rows(log.iter_rows(session), log.read_head(session)).ok
        assert not entry_matches_override(session, gateway.keyring, entry["lawful_basis"][1])


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
        stored["lawful_basis"][1]["reason_hmac"] = "0" * 64
        row.entry = json.dumps(stored, sort_keys=True, separators=(",", ":"))

    result = log_verdict(gateway.sessions)
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

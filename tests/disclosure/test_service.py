"""The hot path fails closed, logs every refusal, and never answers without its log entry."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from gateway.assessments import provenance
from gateway.assessments.catalogue import load_catalogue
from gateway.assessments.identifiers import NHS_NUMBER_SYSTEM
from gateway.audit import log
from gateway.auth.rfc9068 import AccessContext
from gateway.auth.vocab import AgencyType, Purpose
from gateway.db.models import DisclosureLogEntry
from gateway.disclosure.service import DisclosureService
from gateway.keys import load_or_create_keyring
from gateway.policy import EmbeddedRegoEngine
from gateway.policy.decision import Decision
from tests.conftest import ROOT
from tests.factories import NOW, add_agencies, example, log_verdict, publish

CATALOGUE = load_catalogue(ROOT / "schemas" / "field-catalogue.json")
ADULT = json.loads((ROOT / "schemas" / "examples" / "adult.json").read_text())
NHS = ADULT["subject"]["nhs_number"]


@pytest.fixture(scope="module")
def rego():
    return EmbeddedRegoEngine(ROOT / "policies", CATALOGUE.ids)


@pytest.fixture
def keyring(tmp_path):
    return load_or_create_keyring(tmp_path / "keys")


@pytest.fixture
def published(session_factory, keyring):
    add_agencies(session_factory)
    return publish(session_factory, keyring, example("adult.json"))


def police() -> AccessContext:
    return AccessContext(
        "client-pol", "POL-NE", AgencyType.POLICE, Purpose.CHARGING, "jti-1", NOW + timedelta(minutes=5)
    )


def service(session_factory, keyring, engine) -> DisclosureService:
    return DisclosureService(
        sessions=session_factory, keyring=keyring, engine=engine, catalogue=CATALOGUE, clock=lambda: NOW
    )


def entries(session_factory) -> list[dict]:
    with session_factory() as session:
        rows = session.execute(select(DisclosureLogEntry.entry).order_by(DisclosureLogEntry.seq)).scalars()
        return [json.loads(r) for r in rows]


class RaisingEngine:
    revision = "sha256:test"

    def decide(self, policy_input):
        raise RuntimeError("engine exploded")


class ReleaseEverything:
    """A (wrong) policy that releases every field, to show the renderer's own refusals still deny."""

    revision = "sha256:everything"

    def decide(self, policy_input):
        return Decision(True, CATALOGUE.ids, (), ("confidentiality:R",), self.revision, "d-1")


def test_released_disclosure_is_logged_with_hash_of_the_exact_bytes(session_factory, keyring, published, rego):
    import hashlib

    result = service(session_factory, keyring, rego).read(police(), published.assessment_id)
    assert result.status == 200
    (entry,) = entries(session_factory)
    assert entry["disclosure_id"] == result.disclosure_ids[0]
    assert entry["body_sha256"] == hashlib.sha256(result.body).hexdigest()
    assert entry["outcome"] == "released" and entry["policy_revision"] == rego.revision
    assert "clinical.diagnoses" in {w["field"] for w in entry["withheld"]}
    assert all(w["reason"] and w["rule"] for w in entry["withheld"])
    assert NHS not in json.dumps(entry)


def test_engine_that_raises_denies_and_logs(session_factory, keyring, published):
    result = service(session_factory, keyring, RaisingEngine()).search(police(), NHS_NUMBER_SYSTEM, NHS, "http://x")
    assert result.status == 403
    assert json.loads(result.body)["resourceType"] == "OperationOutcome"
    (entry,) = entries(session_factory)
    assert entry["outcome"] == "denied" and entry["reason"] == "policy-error" and entry["released"] == []


def test_policy_denial_for_wrong_purpose_is_403_and_logged(session_factory, keyring, published, rego):
    ctx = replace(police(), purpose=Purpose.SENTENCING)
    result = service(session_factory, keyring, rego).search(ctx, NHS_NUMBER_SYSTEM, NHS, "http://x")
    assert result.status == 403
    assert ADULT["subject"]["names"][0]["family"].encode() not in result.body
    (entry,) = entries(session_factory)
    assert entry["reason"] == "purpose-not-permitted-for-agency-type"


def test_no_case_link_and_unknown_person_look_alike(session_factory, keyring, published, rego):
    svc = service(session_factory, keyring, rego)
    health = AccessContext("client-mht", "MHT-NE", AgencyType.HEALTH, Purpose.HEALTH_REFERRAL, "j", NOW)
    unlinked = svc.search(health, NHS_NUMBER_SYSTEM, NHS, "http://x")
    unknown = svc.search(health, NHS_NUMBER_SYSTEM, "9000000009", "http://x")
    assert unlinked.status == unknown.status == 404 and unlinked.body == unknown.body
    first, second = entries(session_factory)
    assert first["reason"] == "no-case-link" and second["reason"] == "unknown-subject"
    assert first["subject_key"] and first["subject_key"] != second["subject_key"]


def test_renderer_refusal_denies_and_logs(session_factory, keyring, published, monkeypatch):
    """Content the renderer cannot express faithfully is refused whole, even under a permissive policy."""
    real_open = provenance.opened_assessments

    def open_with_unknown_consent_status(session, ring, subject_id, agency_id, only=None, limit=None):
        return [
            replace(found, content={**found.content, "consent": {**found.content["consent"], "status": "maybe"}})
            for found in real_open(session, ring, subject_id, agency_id, only, limit)
        ]

    monkeypatch.setattr(provenance, "opened_assessments", open_with_unknown_consent_status)
    result = service(session_factory, keyring, ReleaseEverything()).read(police(), published.assessment_id)
    assert result.status == 403
    (entry,) = entries(session_factory)
    assert entry["reason"] == "render-error" and entry["released"] == []


def test_no_body_without_its_log_entry(session_factory, keyring, published, rego, db_engine):
    with db_engine.begin() as conn:
        conn.execute(text("DELETE FROM log_head"))
    with pytest.raises(log.LogUnavailable):
        service(session_factory, keyring, rego).read(police(), published.assessment_id)
    with session_factory() as session:
        assert session.execute(select(func.count()).select_from(DisclosureLogEntry)).scalar_one() == 0


def test_every_request_leaves_a_verifiable_log(session_factory, keyring, published, rego):
    svc = service(session_factory, keyring, rego)
    for _ in range(3):
        svc.search(police(), NHS_NUMBER_SYSTEM, NHS, "http://x")
        svc.read(police(), "no-such-bundle")
    result = log_verdict(session_factory)
    assert result.ok and result.entries == 6

"""Documents through the real hot path (store, policy, projection, renderer): each disclosure its own
document, the publisher named by its ODS code, withheld need areas as the decision logged them."""

from __future__ import annotations

import copy
import json
from datetime import timedelta

import pytest

from gateway.assessments.catalogue import load_catalogue
from gateway.assessments.identifiers import NHS_NUMBER_SYSTEM
from gateway.auth import registry
from gateway.auth.rfc9068 import AccessContext
from gateway.db.models import DisclosureLogEntry
from gateway.disclosure.service import DisclosureService
from gateway.fhir import terminology as t
from gateway.fhir.sections import withheld_areas
from gateway.keys import load_or_create_keyring
from gateway.policy import EmbeddedRegoEngine
from tests.conftest import ROOT
from tests.factories import DEMO_AGENCIES, NOW, example, publish

CATALOGUE = load_catalogue(ROOT / "schemas" / "field-catalogue.json")


@pytest.fixture
def gateway(session_factory, tmp_path):
    keyring = load_or_create_keyring(tmp_path / "keys")
    with session_factory.begin() as session:
        for code, type_ in DEMO_AGENCIES:
            registry.add_agency(session, code, f"Agency {code}", type_, ods_code="ZZ9N1" if code == "LD-NE" else None)
    service = DisclosureService(
        sessions=session_factory,
        keyring=keyring,
        engine=EmbeddedRegoEngine(ROOT / "policies", CATALOGUE.ids),
        catalogue=CATALOGUE,
        clock=lambda: NOW,
    )
    return service, keyring


def pull(service: DisclosureService, document: dict, code: str, agency_type: str, purpose: str) -> dict:
    ctx = AccessContext(f"client-{code}", code, agency_type, purpose, "jti", NOW + timedelta(minutes=5))
    result = service.search(ctx, NHS_NUMBER_SYSTEM, document["subject"]["nhs_number"], "http://gateway/fhir/Bundle")
    assert result.status == 200, result.body[:300]
    (entry,) = json.loads(result.body)["entry"]
    return entry["resource"]


def last_decision(session_factory) -> tuple[dict[str, str], list[str]]:
    """The last log entry's decision: withheld (field → rule) and released, as the log keeps them."""
    with session_factory() as session:
        row = session.query(DisclosureLogEntry).order_by(DisclosureLogEntry.seq.desc()).first()
        entry = json.loads(row.entry)
        return {w["field"]: w["rule"] for w in entry["withheld"]}, entry["released"]


def test_every_disclosure_is_its_own_document_and_names_the_publisher_by_ods(gateway, session_factory):
    service, keyring = gateway
    document = example("adult.json")
    document["case_links"] = [*document["case_links"], {"agency_code": "MHT-NE", "case_reference": "MHT-1"}]
    publish(session_factory, keyring, document)
    readers = [("POL-NE", "police", "custody"), ("MHT-NE", "health", "health-referral")]
    first = []
    for reader in readers:
        first.append(pull(service, document, *reader))
        sections = {
            s["code"]["coding"][0]["code"] for s in first[-1]["entry"][0]["resource"]["section"] if "emptyReason" in s
        }
        assert sections == set(withheld_areas(*last_decision(session_factory)))
    amended = copy.deepcopy(document)
    amended["vulnerability_summary"] = document["vulnerability_summary"] + " Updated after review."
    publish(session_factory, keyring, amended)
    second = [pull(service, amended, *reader) for reader in readers]

    documents = first + second
    assert len({d["identifier"]["value"] for d in documents}) == 4
    urls = [e["fullUrl"] for d in documents for e in d["entry"]]
    assert len(urls) == len(set(urls))
    compositions = [d["entry"][0]["resource"] for d in documents]
    assert len({json.dumps(c["identifier"]) for c in compositions}) == 1
    assert [c["status"] for c in compositions] == ["final", "final", "amended", "amended"]
    assessment_id = compositions[0]["identifier"]["value"]
    for composition in compositions[2:]:
        assert composition["relatesTo"][0]["targetIdentifier"]["value"] == f"{assessment_id}/1"
    for bundle in documents:
        (org,) = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Organization"]
        assert org["identifier"] == [
            {"system": t.ODS_ORGANISATION_SYSTEM, "value": "ZZ9N1"},
            {"system": t.AGENCY_CODE_SYSTEM, "value": "LD-NE"},
        ]

"""A merge changes who is who on the hot path too: the kept person's disclosures cover the merged record's
case links; an unmerge takes that back."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

from gateway.ingest.records import merge_subjects, unmerge_subject
from tests.factories import example, publish

NHS = "https://fhir.nhs.uk/Id/nhs-number"
NOW = datetime(2026, 11, 26, 13, 0, tzinfo=UTC)


def _search(gateway, nhs_number):
    return gateway.http.get(
        "/fhir/Bundle",
        params={"patient.identifier": f"{NHS}|{nhs_number}"},
        auth=gateway.auth("MHT-NE", "health-referral"),
    )


def test_merge_and_unmerge_on_the_disclosure_path(gateway):
    adult = example()
    nhs = adult["subject"]["nhs_number"]
    # The mental health trust has no case with the adult's record, so it gets the not-found answer.
    assert _search(gateway, nhs).status_code == 404
    # A second record of the same man, known to the trust, kept under his PNC ID only (another L&D record).
    other = copy.deepcopy(adult)
    other["local_reference"] = "LD-NE-2026-000999"
    other["subject"] = {k: v for k, v in adult["subject"].items() if k not in ("nhs_number", "pnc_id", "cro_number")}
    other["subject"]["pnc_id"] = "2021/0000077C"
    other["case_links"] = [{"agency_code": "MHT-NE", "case_reference": "MHT-77"}]
    second = publish(gateway.sessions, gateway.keyring, other)
    assert second.subject_id != gateway.published.subject_id
    assert _search(gateway, nhs).status_code == 404

    merge_subjects(
        gateway.sessions,
        gateway.keyring,
        keep=gateway.published.subject_id,
        absorb=second.subject_id,
        by="A. Admin",
        reference="IG-1",
        now=NOW,
    )
    merged = _search(gateway, nhs)
    assert merged.status_code == 200
    assert merged.json()["resourceType"] == "Bundle"

    unmerge_subject(gateway.sessions, gateway.keyring, subject_id=second.subject_id, by="A. Admin", now=NOW)
    assert _search(gateway, nhs).status_code == 404

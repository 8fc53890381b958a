"""Defect: a lower-case PNC ID found nobody (first security review). Publishing upper-cases the PNC ID
before hashing it; search hashed it as given, so a court was told "no assessment" about a person who has
one."""

from __future__ import annotations

from gateway.assessments.identifiers import PNC_ID_SYSTEM

PNC = "2020/0000009N"


def test_pnc_search_matches_the_stored_pnc_in_any_case(gateway):
    url = f"/fhir/Bundle?patient.identifier={PNC_ID_SYSTEM}|{PNC.lower()}"
    response = gateway.http.get(url, auth=gateway.auth("POL-NE", "charging"))
    assert response.status_code == 200, response.status_code

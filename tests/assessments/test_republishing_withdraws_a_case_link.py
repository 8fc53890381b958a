"""Defect: a relationship, once published, could never be withdrawn (first security review).

store._record_case_link only ever added. An L&D service that linked the wrong police force and
republished the corrected assessment (same local_reference, new version) left the force's link in place,
and the force kept pulling the person's assessments; nothing in the API could remove it.
"""

from __future__ import annotations

from tests.factories import example, publish

NHS = "9449305552"
NHS_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"


def test_republishing_without_a_case_link_withdraws_that_agencys_access(gateway):
    corrected = example("adult.json")
    corrected["case_links"] = [link for link in corrected["case_links"] if link["agency_code"] != "POL-NE"]
    republished = publish(gateway.sessions, gateway.keyring, corrected)
    assert (republished.assessment_id, republished.version) == (gateway.published.assessment_id, 2)
    response = gateway.http.get(
        f"/fhir/Bundle?patient.identifier={NHS_SYSTEM}|{NHS}", auth=gateway.auth("POL-NE", "charging")
    )
    assert response.status_code == 404, response.status_code

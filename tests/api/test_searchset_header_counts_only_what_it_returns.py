"""Defect: the searchset hid its total, and the X-Disclosure-Id header gave it away (first security
review). searchset.py leaves out ``total`` because "a count would tell a caller how many documents exist
that it may not see"; yet X-Disclosure-Id listed one id per assessment, refused ones included.
"""

from __future__ import annotations

from tests.factories import example, publish

NHS = "9449305552"
NHS_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"


def test_a_200_searchset_does_not_count_the_documents_it_withheld(gateway):
    """Probation learnt that an assessment from the person's childhood exists (policy: under-18s are the
    YOT's, "child-subject-yot-not-probation"), though the policy released nothing of it.

    Since the sharing agreement's second edition the age that counts is the age on the day of disclosure,
    so the childhood assessment of this (now adult) person is released to probation: both documents come
    back, and the header still lists exactly one id per document returned."""
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

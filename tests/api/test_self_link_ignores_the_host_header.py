"""Defect: the searchset's self link echoed the Host header (first security review). It was built from
request.url, i.e. the client's Host header, and ends up in bytes the log hashes (and receipts sign); it is
built from GATEWAY_ISSUER."""

from __future__ import annotations

NHS = "9449305552"
NHS_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"


def test_searchset_self_link_does_not_echo_the_host_header(gateway):
    auth, headers = gateway.auth("POL-NE", "charging"), {"Host": "attacker.example"}
    response = gateway.http.get(f"/fhir/Bundle?patient.identifier={NHS_SYSTEM}|{NHS}", auth=auth, headers=headers)
    assert response.status_code == 200
    assert response.json()["link"][0]["url"].startswith(gateway.settings.issuer.rstrip("/") + "/fhir/Bundle")

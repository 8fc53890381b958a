"""Defect: the refusal of a revoked client's token did not name the client in the log (first security
review): validate_access_token knows the (signature-verified) client id when it refuses a revoked
client, but api/security.py called refuse(None, ...) without it, so IG could not see who kept trying."""

from __future__ import annotations

from gateway.auth import registry


def test_refusal_of_a_revoked_clients_token_names_the_client(gateway):
    client_id = gateway.clients["POL-NE"]
    auth = gateway.auth("POL-NE", "charging")
    with gateway.sessions.begin() as session:
        registry.revoke_client(session, client_id)
    response = gateway.http.get(f"/fhir/Bundle/{gateway.published.assessment_id}", auth=auth)
    assert response.status_code == 401
    (entry,) = [e for e in gateway.log_entries() if e["disclosure_id"] == response.headers["x-disclosure-id"]]
    assert entry["client_id"] == client_id

"""Defect: attacker-chosen text entered the permanent, unerasable disclosure log (first security review).

docs/decisions.md: "attacker-chosen strings never enter the log". Each test failed before its fix.
"""

from __future__ import annotations

import pytest

from tests.auth.conftest import assertion_claims, sign_assertion, token_form, unsigned_jwt

NHS = "9449305552"
NAME = "Daniel Hewitt"


def test_unverified_bearer_token_header_text_never_enters_the_log(gateway):
    """rfc9068._verified puts the *unverified* ``typ`` (and ``alg``) into InvalidToken.reason, and
    api/security.py logs the reason: anyone, without credentials, writes up to ~3 KB of their own text
    (here a name and NHS number) into a hash-chained leaf that can never be changed or erased."""
    forged = unsigned_jwt({"alg": "RS256", "kid": "k", "typ": f"{NAME} {NHS}"}, {"sub": "x"}, b"sig")
    response = gateway.http.get("/fhir/Bundle/anything", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401
    stored = gateway.log_text()
    assert NHS not in stored and NAME not in stored


@pytest.mark.parametrize("vector", ["unknown-client", "assertion-type", "repeated-parameter", "content-type"])
def test_unauthenticated_token_requests_never_write_their_own_text_into_the_log(gateway, vector):
    """The token endpoint's reasons quote the claimed client id, the assertion type, parameter names and
    the content type."""
    payload = f"{NAME} {NHS}"
    claims = assertion_claims(payload if vector == "unknown-client" else gateway.clients["POL-NE"])
    form = token_form(sign_assertion(gateway.key, claims, alg="RS512"), "charging")
    kwargs: dict = {"data": form}
    if vector == "assertion-type":
        form["client_assertion_type"] = payload
    elif vector == "repeated-parameter":
        kwargs = {
            "content": f"{payload}=1&{payload}=2",
            "headers": {"Content-Type": "application/x-www-form-urlencoded"},
        }
    elif vector == "content-type":
        kwargs = {"content": b"x", "headers": {"Content-Type": f"text/{NHS}"}}
    response = gateway.http.post("/oauth2/token", **kwargs)
    assert response.status_code in (400, 401)
    assert NHS not in gateway.log_text()

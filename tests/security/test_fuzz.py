"""JWT and header fuzzing (hypothesis) through the whole app.

An access token or client assertion that is not exactly the one the gateway (or the client's key)
signed is refused: 401 with an OperationOutcome, logged (X-Disclosure-Id), on the resource routes;
RFC 6749 JSON on the token endpoint. Whatever headers arrive, nothing answers 5xx, and refusals keep
their well-formed bodies.
"""

from __future__ import annotations

import base64
import json
import string

import hypothesis.strategies as st
from fhir.resources.R4B.operationoutcome import OperationOutcome
from hypothesis import HealthCheck, given, settings

from gateway.assessments.identifiers import NHS_NUMBER_SYSTEM
from tests.auth.conftest import assertion_claims, sign_assertion, token_form

B64URL = string.ascii_letters + string.digits + "-_"
FUZZ = settings(
    max_examples=60, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck)
)
HEADER_TEXT = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=200)


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def unb64(segment: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


@st.composite
def mutated(draw, token: str) -> str:
    """A token that differs from ``token`` in what it says or in what signed it."""
    header, payload, signature = token.split(".")
    kind = draw(st.sampled_from(["flip", "claims", "alg", "truncate", "swap", "garbage"]))
    if kind == "flip":
        # The last character of the signature is left alone: its low bits are padding, so some
        # changes there decode to the same signature (the same token, not a forgery).
        segments = [header, payload, signature[:-1]]
        which = draw(st.integers(0, 2))
        position = draw(st.integers(0, len(segments[which]) - 1))
        char = draw(st.sampled_from(B64URL).filter(lambda c: c != segments[which][position]))
        segments[which] = segments[which][:position] + char + segments[which][position + 1 :]
        if which == 2:
            segments[2] += signature[-1]
        return ".".join(segments)
    if kind == "claims":
        claims = unb64(payload)
        name = draw(st.sampled_from(["agency", "agency_type", "purpose_of_use", "scope", "aud", "iss", "exp", "sub"]))
        claims[name] = draw(st.one_of(st.text(max_size=20), st.integers(), st.none()))
        return f"{header}.{b64(claims)}.{signature}"
    if kind == "alg":
        protected = unb64(header)
        protected["alg"] = draw(st.sampled_from(["none", "HS256", "HS512", "RS256", "ES256", "EdDSA", "PS256", ""]))
        return f"{b64(protected)}.{payload}.{draw(st.sampled_from([signature, '']))}"
    if kind == "truncate":
        return token[: draw(st.integers(0, len(token) - 2))]
    if kind == "swap":
        return f"{payload}.{header}.{signature}"
    return draw(st.text(alphabet=B64URL + ".", min_size=1, max_size=400))


def assert_refused_and_logged(response, *, token_sent: bool = True) -> None:
    assert response.status_code == 401, response.text[:300]
    assert OperationOutcome.model_validate_json(response.content).issue
    assert response.headers["X-Disclosure-Id"]
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith(("Bearer ", "DPoP "))
    # RFC 6750 section 3.1: a request without a token gets the challenge but no error code.
    if token_sent:
        assert 'error="invalid_token"' in challenge


def test_forged_access_tokens_are_refused_and_logged(security_gateway):
    gw = security_gateway
    token = gw.token("POL-NE", "charging")
    person = gw.people["adult-police-court"]
    params = {"patient.identifier": f"{NHS_NUMBER_SYSTEM}|{person.nhs_number}"}
    assert gw.http.get("/fhir/Bundle", params=params, headers={"Authorization": f"Bearer {token}"}).status_code == 200

    @FUZZ
    @given(forged=mutated(token))
    def check(forged):
        response = gw.http.get("/fhir/Bundle", params=params, headers={"Authorization": f"Bearer {forged}"})
        assert_refused_and_logged(response)
        assert person.document["subject"]["names"][0]["family"] not in response.text

    check()


def test_forged_client_assertions_get_rfc6749_errors(security_gateway):
    gw = security_gateway

    @FUZZ
    @given(data=st.data())
    def check(data):
        assertion = sign_assertion(gw.key, assertion_claims(gw.clients["POL-NE"]), alg="RS512")
        forged = data.draw(mutated(assertion))
        response = gw.http.post("/oauth2/token", data=token_form(forged, "charging"))
        assert response.status_code in (400, 401), response.text
        body = response.json()
        assert body["error"] in {"invalid_client", "invalid_request", "invalid_grant", "unauthorized_client"}, body
        assert "access_token" not in body

    check()


def test_authorization_header_fuzz(security_gateway):
    gw = security_gateway
    schemes = st.sampled_from(["Bearer", "bearer", "BEARER", "Basic", "DPoP", "", "Bearer  ", "Token"])

    @FUZZ
    @given(scheme=schemes, value=HEADER_TEXT)
    def check(scheme, value):
        header = f"{scheme} {value}".strip()
        response = gw.http.get("/fhir/Bundle/anything", headers={"Authorization": header})
        assert_refused_and_logged(response, token_sent=header.lower().startswith("bearer ") and bool(value.strip()))

    check()


def test_other_header_fuzz_never_breaks_a_request(security_gateway):
    gw = security_gateway
    bearer = gw.bearer("POL-NE", "charging")
    person = gw.people["adult-police-court"]
    names = st.sampled_from(
        [
            "Accept",
            "Content-Type",
            "X-Forwarded-For",
            "X-Forwarded-Host",
            "Forwarded",
            "Origin",
            "Cookie",
            "X-Request-Id",
            "Prefer",
            "Accept-Encoding",
            "If-None-Match",
            "Range",
            "X-HTTP-Method-Override",
        ]
    )

    @FUZZ
    @given(extra=st.dictionaries(names, HEADER_TEXT, max_size=4))
    def check(extra):
        response = gw.http.get(f"/fhir/Bundle/{person.assessment_id}", headers={**extra, **bearer})
        assert response.status_code < 500, response.text[:300]
        assert response.headers["X-Disclosure-Id"]
        if response.status_code != 200:
            assert OperationOutcome.model_validate_json(response.content).issue
        else:
            assert response.json()["id"] == person.assessment_id

    check()

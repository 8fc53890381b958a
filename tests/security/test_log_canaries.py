"""Nothing a caller sends reaches the disclosure log: canaries in every malformed-token path, then
``ld-gateway audit export`` searched for them (SQLite and PostgreSQL).

Attack: write attacker-chosen text into the tamper-evident log (it is kept for decades, exported to
auditors, and cannot be edited afterwards) through the fields a refusal used to quote: a JWT or DPoP
header's ``kid``, ``kty``, ``alg``, ``typ``; the claims; the Authorization scheme; the form parameters.
Held by: every entry's ``reason`` is from the closed vocabulary of gateway/audit/reasons.py (applied in
``gateway.audit.log.append``); client ids are logged only when they name a registered client.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from typing import Any

import pytest
from typer.testing import CliRunner

from gateway.audit.reasons import Reason, is_closed
from gateway.cli import app as cli_app
from gateway.config import get_settings
from tests.auth.conftest import assertion_claims, b64url, raw_signed, sign_assertion, token_form
from tests.dpop import DpopKey
from tests.security.conftest import SecurityGateway

RESOURCE = "/fhir/Bundle/00000000-0000-0000-0000-000000000000"


@pytest.fixture(scope="module")
def gateway(gateway_on_each_database: SecurityGateway) -> SecurityGateway:
    return gateway_on_each_database


def unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}.{b64url(b'x' * 64)}"


def dpop(key: DpopKey, header: dict[str, Any] | None = None, **claims: Any) -> str:
    from joserfc import jws

    body = {
        "jti": secrets.token_urlsafe(12),
        "htm": "POST",
        "htu": "http://testserver/oauth2/token",
        "iat": int(time.time()),
    }
    body.update(claims)
    protected = {"typ": "dpop+jwt", "alg": key.alg, "jwk": key.public_jwk, **(header or {})}
    return jws.serialize_compact(protected, json.dumps(body).encode(), key.key, algorithms=[key.alg])


def attacks(gw: SecurityGateway, canary: Callable[[], str]) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path, request keywords): each a malformed token, assertion or proof carrying canaries."""
    key = gw.key
    cid = gw.clients["POL-NE"]

    def assertion(**kw):
        return raw_signed({"alg": "RS512", "kid": key.kid, "typ": "JWT"}, assertion_claims(cid, **kw), key)

    good = lambda: sign_assertion(key, assertion_claims(cid), alg="RS512")  # noqa: E731
    d = DpopKey()
    token = gw.token("POL-NE", "charging")
    out: list[tuple[str, str, dict[str, Any]]] = []
    token_forms = [
        token_form(raw_signed({"alg": "RS512", "kid": canary(), "typ": "JWT"}, assertion_claims(cid), key)),
        token_form(unsigned({"alg": canary(), "kid": key.kid}, assertion_claims(cid))),
        token_form(raw_signed({"alg": "RS512", "kid": key.kid, "typ": canary()}, assertion_claims(cid), key)),
        token_form(raw_signed({"alg": "RS512", "kid": key.kid, "crit": [canary()]}, assertion_claims(cid), key)),
        token_form(assertion(iss=canary(), sub=canary())),
        token_form(assertion(aud=canary())),
        token_form(assertion(jti=canary() * 20)),
        token_form(assertion(exp=canary(), iat=canary())),
        token_form(unsigned({"alg": "none", "kid": canary()}, {"iss": canary()})),
        token_form(canary()),
        token_form(good(), purpose=canary()),
        token_form(good(), scope=canary()),
        token_form(good(), grant_type=canary()),
        token_form(good(), client_assertion_type=canary()),
        token_form(good(), client_id=canary()),
        {**token_form(good()), canary(): canary()},
    ]
    out += [("POST", "/oauth2/token", {"data": form}) for form in token_forms]
    proofs = [
        dpop(d, {"kid": canary()}),
        dpop(d, {"typ": canary()}),
        dpop(d, {"jwk": {"kty": canary(), "x": canary()}}),
        dpop(d, {"jwk": {**d.public_jwk, "crv": canary()}}),
        dpop(d, htu=canary()),
        dpop(d, htm=canary()),
        dpop(d, jti=canary() * 30),
        dpop(d, iat=canary()),
        dpop(d, nonce=canary()),
        canary(),
    ]
    out += [("POST", "/oauth2/token", {"data": token_form(good()), "headers": {"DPoP": p}}) for p in proofs]
    resource_headers = [
        {"Authorization": f"Bearer {canary()}"},
        {"Authorization": f"DPoP {canary()}"},
        {"Authorization": f"{canary()} {token}"},
        {"Authorization": f"Bearer {unsigned({'alg': 'ES256', 'kid': canary(), 'typ': 'at+jwt'}, {'sub': canary()})}"},
        {"Authorization": f"Bearer {unsigned({'alg': canary(), 'kid': canary()}, {'client_id': canary()})}"},
        {"Authorization": f"DPoP {token}", "DPoP": dpop(d, {"kid": canary()}, htm="GET", htu=canary())},
        {"Authorization": f"DPoP {token}", "DPoP": canary()},
    ]
    for path in (RESOURCE, "/fhir/Task/x", "/audit/disclosures", "/assessments?task=x"):
        out += [("GET", path, {"headers": h}) for h in resource_headers]
    out.append(("GET", f"/fhir/Bundle?access_token={canary()}", {}))
    for path in ("/oauth2/introspect", "/oauth2/revoke"):
        out.append(("POST", path, {"data": {"token": canary(), **token_form(good())}}))
        out.append(
            (
                "POST",
                path,
                {
                    "data": {
                        "token": token,
                        **token_form(raw_signed({"alg": "RS512", "kid": canary()}, assertion_claims(cid), key)),
                    }
                },
            )
        )
    return out


def test_no_canary_in_a_malformed_token_ever_reaches_the_log(gateway, tmp_path, monkeypatch):
    planted: list[str] = []

    def canary() -> str:
        planted.append(f"CANARY{secrets.token_hex(6)}")
        return planted[-1]

    refused = 0
    for method, path, kwargs in attacks(gateway, canary):
        response = gateway.http.request(method, path, **kwargs)
        # Unknown parameters are ignored (RFC 6749 3.2): those few requests succeed, and are no less tested.
        assert response.status_code < 500, (method, path, response.status_code, response.text[:200])
        refused += response.status_code >= 400
    assert len(planted) > 40

    monkeypatch.setenv("GATEWAY_DATABASE_URL", gateway.settings.database_url)
    monkeypatch.setenv("GATEWAY_DATA_DIR", str(gateway.settings.data_dir))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli_app, ["audit", "export", str(tmp_path / "export")])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    exported = "\n".join(p.read_text(encoding="utf-8") for p in sorted((tmp_path / "export").iterdir()))
    lines = (tmp_path / "export" / "entries.jsonl").read_text().splitlines()
    entries = [json.loads(json.loads(line)["entry"]) for line in lines]
    denials = [e for e in entries if e["outcome"] == "denied"]
    assert refused > 50 and len(denials) >= refused - 5  # (a refusal may go unlogged: a repeated rate-limit)
    lowered = exported.lower()
    leaked = [c for c in planted if c.lower() in lowered]
    assert leaked == [], f"{len(leaked)} canaries in the export"
    assert "canary" not in lowered
    reasons = {e["reason"] for e in entries if e["reason"] is not None}
    assert all(is_closed(r) for r in reasons), reasons
    assert Reason.UNCLASSIFIED not in reasons, "a refusal path whose reason is outside the vocabulary"


def test_every_policy_denial_reason_is_in_the_vocabulary() -> None:
    """The policy's own denials (policies/data.json deny_precedence) are logged as they are, never as
    ``unclassified``: a new denial in the policy data needs its code in gateway/audit/reasons.py."""
    from tests.conftest import ROOT

    data = json.loads((ROOT / "policies" / "data.json").read_text())

    def find(node: Any) -> list[str]:
        if isinstance(node, dict):
            if "deny_precedence" in node:
                return list(node["deny_precedence"])
            return [r for v in node.values() for r in find(v)]
        return []

    denials = find(data)
    assert denials, "no deny_precedence in policies/data.json"
    assert [d for d in denials if not is_closed(d)] == []

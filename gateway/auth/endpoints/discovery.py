"""Discovery: ``GET /.well-known/jwks.json``, ``/.well-known/oauth-authorization-server`` (RFC 8414) and
``/.well-known/smart-configuration`` (SMART App Launch 2, backend services)."""

from __future__ import annotations

from typing import Any

from fastapi import Response
from fastapi.responses import JSONResponse

from gateway.auth.rfc9449 import PROOF_ALGORITHMS
from gateway.auth.signing import TokenSigner
from gateway.auth.vocab import DEFAULT_ASSERTION_ALGORITHMS, Purpose, Scope
from gateway.config import Settings

PUBLIC_METADATA = {"Cache-Control": "public, max-age=300"}
# Short: after a rotation, verifiers elsewhere must learn the new key before its tokens reach them.
JWKS_CACHE = {"Cache-Control": "public, max-age=60"}


def jwks(signing_key: TokenSigner) -> Response:
    """The public keys that sign access tokens."""
    # Read per request: a rotation publishes the new key and keeps the old one through its overlap.
    return JSONResponse(signing_key.public_jwks(), headers=JWKS_CACHE)


def metadata_response(document: dict[str, Any]) -> Response:
    """A metadata document, cacheable by anyone for five minutes (it changes only with the settings)."""
    return JSONResponse(document, headers=PUBLIC_METADATA)


def authorization_server_metadata(settings: Settings) -> dict[str, Any]:
    """RFC 8414 section 2. There is no authorization endpoint, so no response types.

    The signing algorithms advertised are those a client is registered with by default: a client that
    reads the metadata and picks one is accepted. Others (RS256, "Ed25519") need a registration that
    names them, so advertising them would invite a refusal."""
    base = settings.issuer.rstrip("/")
    auth = {
        "auth_methods_supported": ["private_key_jwt"],
        "auth_signing_alg_values_supported": list(DEFAULT_ASSERTION_ALGORITHMS),
    }
    return {
        "issuer": settings.issuer,
        "token_endpoint": settings.token_url,
        "jwks_uri": f"{base}/.well-known/jwks.json",
        "grant_types_supported": ["client_credentials"],
        "response_types_supported": [],
        "scopes_supported": [s.value for s in Scope],
        **{f"token_endpoint_{k}": v for k, v in auth.items()},
        "introspection_endpoint": f"{base}/oauth2/introspect",
        **{f"introspection_endpoint_{k}": v for k, v in auth.items()},
        "revocation_endpoint": f"{base}/oauth2/revoke",
        **{f"revocation_endpoint_{k}": v for k, v in auth.items()},
        "purposes_of_use_supported": [p.value for p in Purpose],
        "dpop_signing_alg_values_supported": list(PROOF_ALGORITHMS),
    }


def smart_configuration(settings: Settings) -> dict[str, Any]:
    """SMART App Launch 2, section "Backend Services": the fields a backend client needs, plus the
    RFC 9449 section 5.1 member that tells it tokens are bound with DPoP proofs."""
    base = settings.issuer.rstrip("/")
    return {
        "issuer": settings.issuer,
        "jwks_uri": f"{base}/.well-known/jwks.json",
        "token_endpoint": settings.token_url,
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": list(DEFAULT_ASSERTION_ALGORITHMS),
        "scopes_supported": [s.value for s in Scope],
        "capabilities": ["client-confidential-asymmetric"],
        "dpop_signing_alg_values_supported": list(PROOF_ALGORITHMS),
        "introspection_endpoint": f"{base}/oauth2/introspect",
        "revocation_endpoint": f"{base}/oauth2/revoke",
    }

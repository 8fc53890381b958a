"""DPoP (RFC 9449) for the suite: a client-side proof key, and an httpx ``Auth`` that signs a proof for
each request's real method and URL, so tests call routes exactly as an agency would.

    key = DpopKey()
    token = ...  # from POST /oauth2/token with headers={"DPoP": key.proof("POST", token_url)}
    http.get("/fhir/Bundle/x", auth=DpopAuth(token, key))
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Generator
from typing import Any

import httpx
from joserfc import jwt
from joserfc.jwk import ECKey, Key
from joserfc.jws import JWSRegistry

from gateway.auth.rfc9449 import access_token_hash, jwk_thumbprint, normalise_htu

DROP = object()


class _AnyAlgorithm(JWSRegistry):
    """Client-side signing with any algorithm, without joserfc's deprecation warning for EdDSA."""

    def get_alg(self, name: str) -> Any:
        return self.algorithms[name]


_SIGNING = _AnyAlgorithm(strict_check_header=False)


class DpopKey:
    """A client's DPoP key (ES256 on P-256 unless another private JWK is given)."""

    def __init__(self, key: Key | None = None, alg: str = "ES256") -> None:
        self.key = key if key is not None else ECKey.generate_key("P-256", private=True)
        self.alg = alg

    @property
    def public_jwk(self) -> dict[str, Any]:
        return dict(self.key.as_dict(private=False))

    @property
    def jkt(self) -> str:
        return jwk_thumbprint(self.public_jwk)

    def proof(
        self,
        method: str,
        url: str,
        *,
        access_token: str | None = None,
        nonce: str | None = None,
        header: dict[str, Any] | None = None,
        **claims: Any,
    ) -> str:
        """A proof for ``method`` ``url``; keyword arguments override claims (``DROP`` removes one)."""
        body: dict[str, Any] = {
            "jti": secrets.token_urlsafe(12),
            "htm": method,
            "htu": normalise_htu(url),
            "iat": int(time.time()),
        }
        if access_token is not None:
            body["ath"] = access_token_hash(access_token)
        if nonce is not None:
            body["nonce"] = nonce
        protected: dict[str, Any] = {"typ": "dpop+jwt", "alg": self.alg, "jwk": self.public_jwk}
        for target, overrides in ((body, claims), (protected, header or {})):
            for name, value in overrides.items():
                if value is DROP:
                    target.pop(name, None)
                else:
                    target[name] = value
        return jwt.encode(protected, body, self.key, registry=_SIGNING)


class DpopAuth(httpx.Auth):
    """``Authorization: DPoP <token>`` and a fresh proof for each request (RFC 9449 section 7)."""

    def __init__(self, token: str, key: DpopKey) -> None:
        self.token = token
        self.key = key

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"DPoP {self.token}"
        request.headers["DPoP"] = self.key.proof(request.method, str(request.url), access_token=self.token)
        yield request

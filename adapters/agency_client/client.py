"""Signing client assertions (RFC 7523 section 2.2), DPoP proofs (RFC 9449), and pulling bundles over HTTP.

The client keeps two keys: the agency's registered signing key (it proves who the client is, at the
token endpoint only) and a DPoP key (it proves, on every request, that whoever presents the token
holds the key it was bound to). The DPoP key is generated per run unless one is loaded: a new key
only means a new token, which the client fetches anyway.
"""

from __future__ import annotations

import base64
import hashlib
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from joserfc import jwt
from joserfc.jwk import ECKey, Key, OKPKey, RSAKey

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
#: A cached token is used until this many seconds before it expires, then replaced.
TOKEN_REFRESH_MARGIN = 30


def algorithm_for(key: Key) -> str:
    """The JWS algorithm this client signs with for ``key``: RS512 (NHS England's choice), ES256/ES384, Ed25519."""
    if key.key_type == "RSA":
        return "RS512"
    if key.key_type == "EC":
        return {"P-256": "ES256", "P-384": "ES384"}[str(key.as_dict()["crv"])]
    return "Ed25519"  # RFC 9864's name for EdDSA over Ed25519; the gateway accepts it wherever EdDSA is


def load_private_key(path: Path) -> Key:
    pem = path.read_bytes()
    # Parsed once, and the parsed key handed to joserfc: importing the PEM again would repeat the RSA
    # key's consistency check, which for a 4096-bit key costs as much as the whole parse.
    private = serialization.load_pem_private_key(pem, password=None)
    key: Key
    if isinstance(private, rsa.RSAPrivateKey):
        key = RSAKey(private, pem)
    elif isinstance(private, ec.EllipticCurvePrivateKey):
        key = ECKey(private, pem)
    elif isinstance(private, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey):
        key = OKPKey(private, pem)
    else:
        raise ValueError(f"{path}: not an RSA, EC or Ed25519/Ed448 private key")
    key.ensure_kid()  # RFC 7638 thumbprint: the kid `ld-gateway client add --generate-key` registered
    return key


def sign_client_assertion(
    key: Key, client_id: str, token_url: str, *, lifetime: int = 60, alg: str | None = None
) -> str:
    now = int(time.time())
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": token_url,
        "iat": now,
        "exp": now + lifetime,
        "jti": str(uuid.uuid4()),
    }
    algorithm = alg or algorithm_for(key)
    header = {"alg": algorithm, "kid": key.kid, "typ": "JWT"}
    return jwt.encode(header, claims, key, algorithms=[algorithm])


def sign_dpop_proof(
    key: Key, method: str, url: str, *, access_token: str | None = None, nonce: str | None = None
) -> str:
    """A DPoP proof (RFC 9449 section 4.2) for one request: ``htu`` is the URL without query and fragment."""
    parts = urlsplit(url)
    claims: dict[str, Any] = {
        "jti": str(uuid.uuid4()),
        "htm": method,
        "htu": urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")),
        "iat": int(time.time()),
    }
    if access_token is not None:
        digest = hashlib.sha256(access_token.encode("ascii")).digest()
        claims["ath"] = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    if nonce is not None:
        claims["nonce"] = nonce
    algorithm = algorithm_for(key)
    header = {"typ": "dpop+jwt", "alg": algorithm, "jwk": key.as_dict(private=False)}
    return jwt.encode(header, claims, key, algorithms=[algorithm])


@dataclass(frozen=True)
class PullResult:
    status: int
    body: dict[str, Any]
    raw: bytes
    disclosure_ids: tuple[str, ...]
    response: httpx.Response  # kept whole: its receipts are checked against the exact bytes


class TokenRefused(Exception):
    """The token endpoint refused; ``error`` is the RFC 6749 / RFC 9449 code (see docs/agency-onboarding.md)."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(f"HTTP {status} {error}: {description}")
        self.status = status
        self.error = error
        self.description = description


class AgencyClient:
    def __init__(
        self,
        base_url: str,
        client_id: str,
        key: Key,
        *,
        http: httpx.Client | None = None,
        dpop_key: Key | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.client_id = client_id
        self.key = key
        self.dpop_key = dpop_key or ECKey.generate_key("P-256", private=True)
        self.http = http or httpx.Client(timeout=30)
        self._tokens: dict[str, tuple[str, float]] = {}
        self._nonce: str | None = None  # the gateway's latest DPoP-Nonce, when it requires one
        self._lock = threading.Lock()

    @property
    def token_url(self) -> str:
        return self.base_url + "/oauth2/token"

    def request_token(self, purpose: str) -> httpx.Response:
        """One token request (with a retry when the gateway asks for a DPoP nonce); the raw response."""
        for _ in range(2):
            form = {
                "grant_type": "client_credentials",
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": sign_client_assertion(self.key, self.client_id, self.token_url),
                "purpose_of_use": purpose,
            }
            proof = sign_dpop_proof(self.dpop_key, "POST", self.token_url, nonce=self._nonce)
            response = self.http.post(self.token_url, data=form, headers={"DPoP": proof})
            self._nonce = response.headers.get("DPoP-Nonce", self._nonce)
            if not (response.status_code == 400 and _error(response) == "use_dpop_nonce"):
                return response
        return response

    def token(self, purpose: str) -> str:
        """A DPoP-bound token for ``purpose``, cached until shortly before it expires."""
        with self._lock:
            cached = self._tokens.get(purpose)
        if cached and cached[1] - TOKEN_REFRESH_MARGIN > time.time():
            return cached[0]
        response = self.request_token(purpose)
        if response.status_code != 200:
            raise TokenRefused(response.status_code, _error(response), _description(response))
        data = response.json()
        with self._lock:
            self._tokens[purpose] = (data["access_token"], time.time() + int(data["expires_in"]))
        return str(data["access_token"])

    def token_expires_at(self, purpose: str) -> float:
        """When the cached token for ``purpose`` expires (epoch seconds); 0 when none is cached."""
        with self._lock:
            cached = self._tokens.get(purpose)
        return cached[1] if cached else 0.0

    @property
    def nonce(self) -> str | None:
        """The gateway's latest DPoP nonce (RFC 9449 section 8), when it asks for one."""
        return self._nonce

    def request(self, method: str, path: str, purpose: str, **kwargs: Any) -> httpx.Response:
        """A resource request with the token and a fresh DPoP proof (retried once for a new nonce)."""
        token = self.token(purpose)
        url = self.base_url + path
        for _ in range(2):
            proof = sign_dpop_proof(self.dpop_key, method, url, access_token=token, nonce=self._nonce)
            headers = {**kwargs.pop("headers", {}), "Authorization": f"DPoP {token}", "DPoP": proof}
            response = self.http.request(method, url, headers=headers, **kwargs)
            self._nonce = response.headers.get("DPoP-Nonce", self._nonce)
            challenge = response.headers.get("WWW-Authenticate", "")
            if not (response.status_code == 401 and 'error="use_dpop_nonce"' in challenge):
                return response
            kwargs["headers"] = {k: v for k, v in headers.items() if k not in ("Authorization", "DPoP")}
        return response

    def _get(self, path: str, purpose: str, params: dict[str, str] | None = None) -> PullResult:
        response = self.request("GET", path, purpose, params=params)
        ids = tuple(i for i in response.headers.get("X-Disclosure-Id", "").split(",") if i)
        return PullResult(response.status_code, response.json(), response.content, ids, response)

    def log_jwk(self) -> dict[str, Any]:
        """The public key the gateway signs disclosure receipts with (GET /audit/log-key)."""
        response = self.http.get(f"{self.base_url}/audit/log-key")
        response.raise_for_status()
        return dict(response.json()["jwk"])

    def search(self, purpose: str, nhs_number: str) -> PullResult:
        return self._get("/fhir/Bundle", purpose, {"patient.identifier": f"{NHS_NUMBER_SYSTEM}|{nhs_number}"})

    def read(self, purpose: str, bundle_id: str) -> PullResult:
        return self._get(f"/fhir/Bundle/{bundle_id}", purpose)

    def publish(self, document: dict[str, Any]) -> httpx.Response:
        return self.request("POST", "/assessments", "ld-service", json=document)


def _error(response: httpx.Response) -> str:
    try:
        return str(response.json().get("error", ""))
    except ValueError:
        return ""


def _description(response: httpx.Response) -> str:
    try:
        return str(response.json().get("error_description", ""))
    except ValueError:
        return response.text[:200]

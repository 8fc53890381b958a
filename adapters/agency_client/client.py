"""Signing client assertions (RFC 7523 section 2.2) and pulling bundles over HTTP."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from joserfc import jwt
from joserfc.jwk import JWKRegistry, Key

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"


def _algorithm_for(key: Key) -> str:
    if key.key_type == "RSA":
        return "RS512"
    if key.key_type == "EC":
        return {"P-256": "ES256", "P-384": "ES384"}[key.as_dict()["crv"]]
    return "EdDSA"


def load_private_key(path: Path) -> Key:
    pem = path.read_bytes()
    private = serialization.load_pem_private_key(pem, password=None)
    key_type = (
        "RSA"
        if isinstance(private, rsa.RSAPrivateKey)
        else "EC"
        if isinstance(private, ec.EllipticCurvePrivateKey)
        else "OKP"
    )
    key = JWKRegistry.import_key(pem, key_type)
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
    algorithm = alg or _algorithm_for(key)
    header = {"alg": algorithm, "kid": key.kid, "typ": "JWT"}
    return jwt.encode(header, claims, key, algorithms=[algorithm])


@dataclass(frozen=True)
class PullResult:
    status: int
    body: dict[str, Any]
    raw: bytes
    disclosure_ids: tuple[str, ...]


class AgencyClient:
    def __init__(self, base_url: str, client_id: str, key: Key, *, http: httpx.Client | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.client_id = client_id
        self.key = key
        self.http = http or httpx.Client(timeout=30)
        self._tokens: dict[str, tuple[str, float]] = {}

    @property
    def token_url(self) -> str:
        return self.base_url + "/oauth2/token"

    def request_token(self, purpose: str) -> httpx.Response:
        form = {
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": sign_client_assertion(self.key, self.client_id, self.token_url),
            "purpose_of_use": purpose,
        }
        return self.http.post(self.token_url, data=form)

    def token(self, purpose: str) -> str:
        cached = self._tokens.get(purpose)
        if cached and cached[1] - 30 > time.time():
            return cached[0]
        response = self.request_token(purpose)
        response.raise_for_status()
        data = response.json()
        self._tokens[purpose] = (data["access_token"], time.time() + int(data["expires_in"]))
        return str(data["access_token"])

    def _get(self, path: str, purpose: str, params: dict[str, str] | None = None) -> PullResult:
        response = self.http.get(
            self.base_url + path, params=params, headers={"Authorization": f"Bearer {self.token(purpose)}"}
        )
        ids = tuple(i for i in response.headers.get("X-Disclosure-Id", "").split(",") if i)
        return PullResult(response.status_code, response.json(), response.content, ids)

    def search(self, purpose: str, nhs_number: str) -> PullResult:
        return self._get("/fhir/Bundle", purpose, {"patient.identifier": f"{NHS_NUMBER_SYSTEM}|{nhs_number}"})

    def read(self, purpose: str, bundle_id: str) -> PullResult:
        return self._get(f"/fhir/Bundle/{bundle_id}", purpose)

    def publish(self, document: dict[str, Any]) -> httpx.Response:
        return self.http.post(
            self.base_url + "/assessments",
            json=document,
            headers={"Authorization": f"Bearer {self.token('ld-service')}"},
        )

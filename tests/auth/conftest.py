"""Keys, registered clients and an app with only the authorization server's routes.

Client keys are made with ``cryptography`` and imported into joserfc, as an agency would. Keys are
session-scoped (RSA generation is slow); databases are not (see tests/conftest.py).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from fastapi import FastAPI
from joserfc import jwt
from joserfc.jwk import ECKey, Key, OKPKey, RSAKey
from joserfc.jws import JWSRegistry
from sqlalchemy.orm import Session, sessionmaker

from gateway.auth import registry
from gateway.auth.rfc7009 import InMemoryRevocationList
from gateway.auth.rfc7523 import CLIENT_ASSERTION_TYPE
from gateway.auth.router import build_router
from gateway.auth.signing import SigningKey, load_or_create_signing_key
from gateway.config import Settings
from tests.asgi import AppClient

TOKEN_URL = "http://testserver/oauth2/token"


class AnyAlgorithm(JWSRegistry):
    """Test-side signing with any registered algorithm, without joserfc's deprecation warnings."""

    def get_alg(self, name: str) -> Any:
        return self.algorithms[name]


ANY_ALGORITHM = AnyAlgorithm(strict_check_header=False)


@dataclass(frozen=True)
class KeyPair:
    """An agency's key: the private half for signing, the public JWK for registration."""

    private: Key
    public_pem: bytes
    kid: str

    @property
    def public_jwk(self) -> dict[str, Any]:
        jwk = dict(self.private.as_dict(private=False))
        jwk["kid"] = self.kid
        return jwk

    @property
    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.public_jwk]}


def key_pair(native: Any) -> KeyPair:
    pem = native.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_pem = native.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    kind = {rsa.RSAPrivateKey: RSAKey, ec.EllipticCurvePrivateKey: ECKey, ed25519.Ed25519PrivateKey: OKPKey}
    key_cls = next(cls for base, cls in kind.items() if isinstance(native, base))
    key = key_cls.import_key(pem)
    return KeyPair(private=key, public_pem=public_pem, kid=f"{key_cls.key_type.lower()}-{key.thumbprint()[:12]}")


def weak_rsa_jwks(bits: int = 1024) -> dict[str, Any]:
    """An RSA public JWK too short to register, built by hand (joserfc warns on importing one)."""
    numbers = rsa.generate_private_key(public_exponent=65537, key_size=bits).public_key().public_numbers()
    as_b64 = lambda value: b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))  # noqa: E731
    return {"keys": [{"kty": "RSA", "kid": "weak", "n": as_b64(numbers.n), "e": as_b64(numbers.e)}]}


@pytest.fixture(scope="session")
def rsa_key() -> KeyPair:
    return key_pair(rsa.generate_private_key(public_exponent=65537, key_size=2048))


@pytest.fixture(scope="session")
def other_rsa_key() -> KeyPair:
    return key_pair(rsa.generate_private_key(public_exponent=65537, key_size=2048))


@pytest.fixture(scope="session")
def ec_key() -> KeyPair:
    return key_pair(ec.generate_private_key(ec.SECP256R1()))


@pytest.fixture(scope="session")
def ec384_key() -> KeyPair:
    return key_pair(ec.generate_private_key(ec.SECP384R1()))


@pytest.fixture(scope="session")
def ed_key() -> KeyPair:
    return key_pair(ed25519.Ed25519PrivateKey.generate())


@pytest.fixture(scope="session")
def signing_key(tmp_path_factory: pytest.TempPathFactory) -> SigningKey:
    return load_or_create_signing_key(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="session")
def impostor_signing_key(signing_key: SigningKey) -> SigningKey:
    """Another RSA key that claims to be the gateway's (same kid and alg)."""
    other = RSAKey.generate_key(2048, private=True)
    return SigningKey(key=other, alg=signing_key.alg, kid=signing_key.kid)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned_jwt(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    return f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}.{b64url(signature)}"


def hmac_jwt(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(mac)}"


def assertion_claims(client_id: str, *, now: float | None = None, lifetime: int = 120, **overrides: Any) -> dict:
    issued = int(now if now is not None else time.time())
    claims: dict[str, Any] = {
        "iss": client_id,
        "sub": client_id,
        "aud": TOKEN_URL,
        "iat": issued,
        "exp": issued + lifetime,
        "jti": secrets.token_urlsafe(16),
    }
    for name, value in overrides.items():
        if value is DROP:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims


DROP = object()


def sign_assertion(key: KeyPair, claims: dict[str, Any], *, alg: str, **header: Any) -> str:
    protected: dict[str, Any] = {"typ": "JWT", "alg": alg, "kid": key.kid}
    for name, value in header.items():
        if value is DROP:
            protected.pop(name, None)
        else:
            protected[name] = value
    return jwt.encode(protected, claims, key.private, registry=ANY_ALGORITHM, default_type=None)


def raw_signed(header: dict[str, Any], claims: dict[str, Any], key: KeyPair) -> str:
    """Signed over exactly these bytes, bypassing every header check a JOSE library would make."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    signature = ANY_ALGORITHM.algorithms[header["alg"]].sign(signing_input.encode(), key.private)
    return f"{signing_input}.{b64url(signature)}"


def token_form(assertion: str, purpose: str | None = "charging", **extra: str) -> dict[str, str]:
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": CLIENT_ASSERTION_TYPE,
        "client_assertion": assertion,
    }
    if purpose is not None:
        form["purpose_of_use"] = purpose
    form.update(extra)
    return form


@dataclass
class Registered:
    client_id: str
    agency_code: str
    key: KeyPair


@pytest.fixture
def register(session_factory: sessionmaker[Session]) -> Callable[..., Registered]:
    """Register an agency and one client; returns what a test needs to act as that client.

    Clients here use bearer tokens unless ``dpop_required=True``: these tests are about client
    authentication and tokens; DPoP has its own (tests/auth/test_matrix.py, test_rfc9449.py)."""
    counter = iter(range(1, 10_000))

    def _register(
        key: KeyPair,
        *,
        agency_type: str = "police",
        purposes: tuple[str, ...] = ("charging",),
        jwks: dict[str, Any] | None = None,
        jwks_url: str | None = None,
        dpop_required: bool = False,
    ) -> Registered:
        code = f"{agency_type.upper()}-{next(counter)}"
        with session_factory.begin() as session:
            registry.add_agency(session, code, f"Agency {code}", agency_type)
            if jwks_url is not None:
                client = registry.add_client(
                    session, code, list(purposes), jwks_url=jwks_url, dpop_required=dpop_required
                )
            else:
                client = registry.add_client(
                    session, code, list(purposes), jwks=jwks or key.jwks, dpop_required=dpop_required
                )
            client_id = client.client_id
        return Registered(client_id=client_id, agency_code=code, key=key)

    return _register


@dataclass
class AuthServer:
    http: AppClient
    denials: list[tuple[str | None, str, str]]
    revocations: InMemoryRevocationList
    settings: Settings
    signing_key: SigningKey

    def token(self, form: dict[str, str], **kwargs: Any) -> Any:
        return self.http.post("/oauth2/token", data=form, **kwargs)


@pytest.fixture
def auth_server(
    settings: Settings, session_factory: sessionmaker[Session], signing_key: SigningKey
) -> Iterator[AuthServer]:
    denials: list[tuple[str | None, str, str]] = []
    revocations = InMemoryRevocationList()
    app = FastAPI()
    app.include_router(
        build_router(
            settings=settings,
            session_factory=session_factory,
            signing_key=signing_key,
            on_token_denied=lambda client_id, error, reason: denials.append((client_id, error, reason)),
            revocations=revocations,
        )
    )
    yield AuthServer(AppClient(app), denials, revocations, settings, signing_key)

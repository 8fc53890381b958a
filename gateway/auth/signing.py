"""The gateway's own token-signing key: a private JWK (RFC 7517) in ``keys/token-signing.jwk.json``.

``ld-gateway init`` creates it when absent: RSA 3072 for RS256. RS256 because RFC 9068 section 4
makes it the one algorithm every JWT access token verifier supports, and because RSA verification,
which runs on every resource request, is cheaper than ECDSA verification. An operator may put an
ES256 (P-256) key in the same file instead; its ``alg`` member says which. The ``kid`` is the key's
RFC 7638 thumbprint unless the file names one.

The file is created with mode 0600 and is refused at load if group or others can read it.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import stat
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, JWKRegistry, RSAKey
from joserfc.jws import JWSRegistry

from gateway.auth._files import write_secret_file
from gateway.auth.errors import KeyFileError

TOKEN_SIGNING_FILE = "token-signing.jwk.json"
SIGNING_ALGORITHMS: tuple[str, ...] = ("RS256", "ES256")
RSA_BITS = 3072
MIN_RSA_BITS = 2048


class TokenSigner(Protocol):
    """What issues and verifies access tokens: one :class:`SigningKey`, or the rotating
    :class:`gateway.auth.rotation.SigningKeys`."""

    @property
    def kid(self) -> str: ...

    @property
    def alg(self) -> str: ...

    def sign(self, header: dict[str, Any], claims: dict[str, Any]) -> str: ...

    def verifier(self, kid: object) -> tuple[Any, str] | None: ...

    def public_jwks(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class SigningKey:
    key: RSAKey | ECKey = field(repr=False)
    alg: str
    kid: str

    def public_jwk(self) -> dict[str, Any]:
        jwk = dict(self.key.as_dict(private=False))
        jwk.update({"kid": self.kid, "alg": self.alg, "use": "sig"})
        return jwk

    def public_jwks(self) -> dict[str, Any]:
        """The JWKS served at ``/.well-known/jwks.json``."""
        return {"keys": [self.public_jwk()]}

    @cached_property
    def verification_key(self) -> RSAKey | ECKey:
        return type(self.key).import_key(self.public_jwk())

    @cached_property
    def jws_registry(self) -> JWSRegistry:
        """A registry that allows this key's algorithm and nothing else."""
        return JWSRegistry(algorithms=[self.alg])

    def sign(self, header: dict[str, Any], claims: dict[str, Any]) -> str:
        protected = {**header, "alg": self.alg, "kid": self.kid}
        return jwt.encode(protected, claims, self.key, registry=self.jws_registry)

    def verifier(self, kid: object) -> tuple[RSAKey | ECKey, str] | None:
        """The key and algorithm that verify a token with this ``kid`` (see gateway.auth.rotation)."""
        return (self.verification_key, self.alg) if kid == self.kid else None


def load_or_create_signing_key(keys_dir: Path) -> SigningKey:
    """Load the signing key from ``keys_dir``, creating it first if absent. Idempotent, and safe
    when several processes start at once: exactly one key file wins and all of them load it."""
    return load_signing_key(ensure_signing_key(keys_dir))


def ensure_signing_key(keys_dir: Path) -> Path:
    """The signing key file in ``keys_dir``, created first if absent (see :func:`load_or_create_signing_key`)."""
    path = Path(keys_dir) / TOKEN_SIGNING_FILE
    if not path.exists():
        _create(path)
    return path


def load_signing_key(path: Path) -> SigningKey:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise KeyFileError(f"{path} does not exist; run `ld-gateway init`") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(f"{path} is readable by group or others (mode {stat.S_IMODE(mode):o}); chmod 600 it")
    try:
        return _import_signing_key(path.read_bytes())
    except _Invalid as exc:
        raise KeyFileError(f"{path}{exc}") from None


class _Invalid(Exception):
    """What is wrong with a key file's contents (the message follows the file's name)."""


@functools.lru_cache(maxsize=16)
def _import_signing_key(raw: bytes) -> SigningKey:
    """The key these bytes hold. Cached by content: importing an RSA private key checks it, which takes a
    large part of a second, and every process start and every rotation check reads the same bytes again."""
    try:
        data = json.loads(raw)
        key = JWKRegistry.import_key(data)
    except (ValueError, TypeError, KeyError, JoseError) as exc:
        raise _Invalid(f" is not a JWK private key ({exc.__class__.__name__})") from None
    if not isinstance(key, (RSAKey, ECKey)) or not key.is_private:
        raise _Invalid(" must hold an RSA or EC private key")
    alg = data.get("alg") or ("RS256" if isinstance(key, RSAKey) else "ES256")
    if alg not in SIGNING_ALGORITHMS:
        raise _Invalid(f": alg {alg!r} is not one of {', '.join(SIGNING_ALGORITHMS)}")
    if alg == "RS256" and not (isinstance(key, RSAKey) and key.public_key.key_size >= MIN_RSA_BITS):
        raise _Invalid(f": RS256 needs an RSA key of at least {MIN_RSA_BITS} bits")
    if alg == "ES256" and not (isinstance(key, ECKey) and key.curve_name == "P-256"):
        raise _Invalid(": ES256 needs an EC key on P-256")
    kid = data.get("kid") or key.thumbprint()
    return SigningKey(key=key, alg=alg, kid=str(kid))


def new_signing_key_document() -> dict[str, Any]:
    """A new private JWK: RSA 3072 for RS256, ``kid`` its RFC 7638 thumbprint."""
    key = RSAKey.generate_key(RSA_BITS, parameters={"alg": "RS256", "use": "sig"}, private=True)
    document = dict(key.as_dict(private=True))
    document["kid"] = key.thumbprint()
    return document


def _create(path: Path) -> None:
    document = new_signing_key_document()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # Write a private temporary file, then link it into place: the key file appears whole or not
    # at all, and when two processes race, the first link wins and the other loads that key.
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    write_secret_file(temporary, json.dumps(document, indent=2).encode())
    try:
        os.link(temporary, path)
    except FileExistsError:
        pass
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()

"""Client public keys (RFC 7517): what a registered JWKS may hold, and finding the key for a ``kid``.

A client's JWKS holds public signing keys only: RSA of at least 2048 bits (public exponent at least
65537), EC on P-256 or P-384, or Ed25519; each with a ``kid`` unique in the set. Symmetric keys and
any private member are refused outright, so the registry can never hold a client's secret. The same
rules apply to a JWKS fetched from a client's ``jwks_url``, each time it is fetched.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from joserfc.errors import JoseError
from joserfc.jwk import ECKey, JWKRegistry, Key, OKPKey, RSAKey

from gateway.auth.errors import InvalidJwks
from gateway.auth.vocab import ASSERTION_ALGORITHMS

if TYPE_CHECKING:
    import httpx

    from gateway.auth.clients import ClientRecord

MAX_KEYS = 10
MAX_KID_LENGTH = 200
MIN_RSA_BITS = 2048
MIN_RSA_EXPONENT = 65537

_RSA_ALGS = frozenset({"RS256", "RS384", "RS512", "PS256"})
# "EdDSA" is the RFC 8037 name most clients still send; RFC 9864 renames it "Ed25519".
_ALGS_BY_CURVE = {
    "P-256": frozenset({"ES256"}),
    "P-384": frozenset({"ES384"}),
    "Ed25519": frozenset({"EdDSA", "Ed25519"}),
}


def client_allows(algorithms: tuple[str, ...], alg: str) -> bool:
    """Whether a client's allow-list admits ``alg``."""
    return alg in algorithms or (alg == "Ed25519" and "EdDSA" in algorithms)


_PRIVATE_MEMBERS = {
    "RSA": frozenset({"d", "p", "q", "dp", "dq", "qi", "oth"}),
    "EC": frozenset({"d"}),
    "OKP": frozenset({"d"}),
}


def algorithms_for(key: Key) -> frozenset[str]:
    """The assertion algorithms a registered key may be used with."""
    if isinstance(key, RSAKey):
        allowed = _RSA_ALGS
    elif isinstance(key, (ECKey, OKPKey)):
        allowed = _ALGS_BY_CURVE.get(key.curve_name, frozenset())
    else:
        return frozenset()
    # A key that names its algorithm (RFC 7517 section 4.4) is held to exactly that name.
    named = key.alg
    return allowed if named is None else allowed & {named}


def validate_public_jwks(value: object) -> dict[str, Any]:
    """Check a client JWKS and return it normalised; raise :class:`InvalidJwks` saying what is wrong."""
    if not isinstance(value, Mapping) or not isinstance(value.get("keys"), list):
        raise InvalidJwks("a JWKS must be a JSON object with a 'keys' array")
    keys = value["keys"]
    if not keys:
        raise InvalidJwks("the JWKS holds no keys")
    if len(keys) > MAX_KEYS:
        raise InvalidJwks(f"the JWKS holds {len(keys)} keys; at most {MAX_KEYS} are accepted")
    normalised: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, jwk in enumerate(keys):
        key = import_public_key(jwk, where=f"key {index}")
        kid = str(key.kid)
        if kid in seen:
            raise InvalidJwks(f"key {index}: kid {kid!r} appears more than once")
        seen.add(kid)
        normalised.append(dict(key.as_dict(private=False)))
    return {"keys": normalised}


def import_public_key(jwk: object, *, where: str = "key", require_kid: bool = True) -> Key:
    """Import one JWK after checking it against the rules in the module docstring.

    ``require_kid=False`` is for a DPoP proof's ``jwk`` (RFC 9449), which names no ``kid``.
    """
    if not isinstance(jwk, Mapping):
        raise InvalidJwks(f"{where}: a JWK must be a JSON object")
    kty = jwk.get("kty")
    if kty == "oct":
        raise InvalidJwks(f"{where}: symmetric keys (kty 'oct') are not accepted; register a public key")
    if kty not in _PRIVATE_MEMBERS:
        raise InvalidJwks(f"{where}: kty must be RSA, EC or OKP, not {kty!r}")
    private = sorted(_PRIVATE_MEMBERS[kty] & set(jwk))
    if private:
        raise InvalidJwks(
            f"{where}: contains private key material ({', '.join(private)}); register the public key only"
        )
    kid = jwk.get("kid")
    if not require_kid and kid is None:
        kid = "no kid"
    elif not isinstance(kid, str) or not kid or len(kid) > MAX_KID_LENGTH:
        raise InvalidJwks(f"{where}: every key needs a kid (a non-empty string of at most {MAX_KID_LENGTH} characters)")
    where = f"{where} ({kid})"
    if jwk.get("use", "sig") != "sig":
        raise InvalidJwks(f"{where}: use must be 'sig'")
    key_ops = jwk.get("key_ops")
    if key_ops is not None and (not isinstance(key_ops, list) or set(key_ops) != {"verify"}):
        raise InvalidJwks(f"{where}: key_ops, when given, must be ['verify']")
    alg = jwk.get("alg")
    if alg is not None and alg not in ASSERTION_ALGORITHMS:
        raise InvalidJwks(f"{where}: alg {alg!r} is not accepted; use one of {', '.join(ASSERTION_ALGORITHMS)}")
    if kty == "RSA":
        # Before importing: joserfc only warns about a short modulus, and we refuse it.
        bits = _modulus_bits(jwk.get("n"))
        if bits is None:
            raise InvalidJwks(f"{where}: not a valid RSA public key (bad n)")
        if bits < MIN_RSA_BITS:
            raise InvalidJwks(f"{where}: RSA key of {bits} bits; at least {MIN_RSA_BITS} are required")
    try:
        key = JWKRegistry.import_key(dict(jwk))
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise InvalidJwks(f"{where}: not a valid {kty} public key ({exc.__class__.__name__})") from None
    if key.is_private:
        raise InvalidJwks(f"{where}: contains private key material; register the public key only")
    _check_strength(key, where)
    if not algorithms_for(key):
        raise InvalidJwks(f"{where}: alg {alg!r} does not fit this key")
    return key


def _modulus_bits(n: object) -> int | None:
    if not isinstance(n, str) or not re.fullmatch(r"[A-Za-z0-9_-]+", n):
        return None
    return int.from_bytes(base64.urlsafe_b64decode(n + "=" * (-len(n) % 4)), "big").bit_length()


def _check_strength(key: Key, where: str) -> None:
    if isinstance(key, RSAKey):
        exponent = key.public_key.public_numbers().e
        if exponent < MIN_RSA_EXPONENT or exponent % 2 == 0:
            raise InvalidJwks(f"{where}: RSA public exponent must be odd and at least {MIN_RSA_EXPONENT}")
    elif isinstance(key, ECKey):
        if key.curve_name not in ("P-256", "P-384"):
            raise InvalidJwks(f"{where}: EC keys must be on P-256 or P-384, not {key.curve_name}")
    elif isinstance(key, OKPKey) and key.curve_name != "Ed25519":
        raise InvalidJwks(f"{where}: OKP keys must be Ed25519, not {key.curve_name}")


def find_key(jwks: Mapping[str, Any], kid: str) -> Key | None:
    """The key whose ``kid`` is exactly ``kid``, re-checked against today's rules; None if absent.

    Never falls back to "the only key in the set": a ``kid`` is required to name the key.
    """
    keys = jwks.get("keys")
    if not isinstance(keys, list):
        return None
    for jwk in keys:
        if isinstance(jwk, Mapping) and jwk.get("kid") == kid:
            return import_public_key(jwk)
    return None


class JwksUnavailable(Exception):
    """A client's published JWKS could not be fetched or is not acceptable; the message says why."""


class ClientKeys(Protocol):
    """Finds the verification key a client's assertion names."""

    def find(self, client: ClientRecord, kid: str) -> Key | None:
        """The key, None when the client has no key with that ``kid``; raises
        :class:`JwksUnavailable` or :class:`InvalidJwks` when the client's keys cannot be used."""
        ...


@dataclass
class _Fetched:
    jwks: dict[str, Any]
    fetched_at: float
    lifetime: float


def cache_lifetime(cache_control: str | None, ceiling: float) -> float:
    """How long a response may be reused (RFC 9111 section 5.2.2): ``no-store`` and ``no-cache``
    mean not at all, ``max-age`` its value; never longer than ``ceiling``, which is also the lifetime
    of a response that says nothing."""
    if cache_control is None:
        return ceiling
    directives = [part.strip().lower() for part in cache_control.split(",")]
    if "no-store" in directives or "no-cache" in directives:
        return 0.0
    for directive in directives:
        name, _, value = directive.partition("=")
        if name.strip() == "max-age":
            value = value.strip().strip('"')
            return min(float(value), ceiling) if value.isdigit() else 0.0
    return ceiling


class RemoteJwks:
    """Fetches and caches the JWKS a client publishes at its ``jwks_url``.

    A fetched set is reused no longer than its ``Cache-Control`` allows, and never longer than
    ``ttl`` seconds. An unknown ``kid`` forces one refetch (the client may have rotated keys), at most
    once per ``refresh_interval`` per URL, so a stream of bogus ``kid`` values cannot turn the gateway
    into a load generator against the client. A failed fetch raises :class:`JwksUnavailable`, and the
    assertion is refused: nothing stale stands in.
    """

    def __init__(
        self,
        *,
        http: httpx.Client | None = None,
        ttl: float = 300.0,
        refresh_interval: float = 60.0,
        timeout: float = 5.0,
        max_bytes: int = 65_536,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self._timeout = timeout
        self._ttl = ttl
        self._refresh_interval = refresh_interval
        self._max_bytes = max_bytes
        self._clock = clock
        self._cache: dict[str, _Fetched] = {}
        self._lock = threading.Lock()

    def get(self, url: str, *, refresh: bool = False) -> dict[str, Any]:
        now = self._clock()
        with self._lock:
            cached = self._cache.get(url)
        if cached is not None:
            age = now - cached.fetched_at
            if (age < self._refresh_interval) if refresh else (age < cached.lifetime):
                return cached.jwks
        jwks, lifetime = self._fetch(url)
        with self._lock:
            self._cache[url] = _Fetched(jwks, now, lifetime)
        return jwks

    def _fetch(self, url: str) -> tuple[dict[str, Any], float]:
        parts = urlsplit(url)
        if not (parts.scheme == "https" or (parts.scheme == "http" and _is_loopback(parts.hostname or ""))):
            raise JwksUnavailable("a JWKS URL must be https:// (http:// only to a loopback host)")
        # Imported here, not at the top: httpx (with the CLI libraries it loads) is megabytes of every
        # serving process, and only clients registered with a JWKS URL need it.
        import httpx

        if self._http is None:
            self._http = httpx.Client(timeout=self._timeout, follow_redirects=False)
        try:
            with self._http.stream("GET", url, headers={"Accept": "application/json"}) as response:
                if response.status_code != 200:
                    raise JwksUnavailable(f"fetching {url} gave HTTP {response.status_code}")
                lifetime = cache_lifetime(response.headers.get("cache-control"), self._ttl)
                body = bytearray()
                for chunk in response.iter_bytes():
                    body.extend(chunk)
                    if len(body) > self._max_bytes:
                        raise JwksUnavailable(f"the JWKS at {url} exceeds {self._max_bytes} bytes")
        except httpx.HTTPError as exc:
            raise JwksUnavailable(f"fetching {url} failed: {exc.__class__.__name__}") from None
        try:
            document = json.loads(bytes(body))
        except ValueError:
            raise JwksUnavailable(f"the JWKS at {url} is not JSON") from None
        try:
            return validate_public_jwks(document), lifetime
        except InvalidJwks as exc:
            raise JwksUnavailable(f"the JWKS at {url} is not acceptable: {exc.message}") from None


class RegisteredKeys:
    """The default :class:`ClientKeys`: the JWKS stored at registration, or the one at ``jwks_url``."""

    def __init__(self, remote: RemoteJwks | None = None) -> None:
        self._remote = remote

    def find(self, client: ClientRecord, kid: str) -> Key | None:
        if client.jwks is not None:
            return find_key(client.jwks, kid)
        if client.jwks_url:
            if self._remote is None:
                self._remote = RemoteJwks()
            key = find_key(self._remote.get(client.jwks_url), kid)
            if key is None:
                key = find_key(self._remote.get(client.jwks_url, refresh=True), kid)
            return key
        return None


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False

"""Rotating the gateway's token-signing key, with overlap.

``ld-gateway token-key rotate`` retires the current key and makes a new one. The retired key's
*public* half is kept in ``keys/token-signing-retired/<kid>.jwk.json`` with the time it was retired:
it stops signing at once, is published in the JWKS and still verifies for :data:`OVERLAP` seconds, as
long as a token it signed can live (RFC 9068 tokens here live at most 300 s, plus clock skew). After
that a token it signed is refused, whatever its ``exp`` says.

Every running process sees a rotation: :class:`SigningKeys` re-reads the key files when they change,
checking at most every ``reload_interval`` seconds.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from joserfc.jwk import JWKRegistry, Key

from gateway.auth._files import write_secret_file
from gateway.auth.signing import TOKEN_SIGNING_FILE, SigningKey, load_signing_key, new_signing_key_document

RETIRED_DIR = "token-signing-retired"
#: How long a retired key still verifies: the longest access token lifetime (300 s) and clock skew (30 s).
OVERLAP = 330


@dataclass(frozen=True)
class RetiredKey:
    kid: str
    alg: str
    public_jwk: dict[str, Any]
    retired_at: float

    @property
    def key(self) -> Key:
        return JWKRegistry.import_key(self.public_jwk)


class SigningKeys:
    """The current signing key (it signs) and the retired keys still inside their overlap (they verify).

    Stands in for a :class:`SigningKey` wherever one is expected: ``sign``, ``alg``, ``kid``,
    ``public_jwks`` and ``verifier``.
    """

    def __init__(
        self,
        keys_dir: Path,
        *,
        clock: Callable[[], float] = time.time,
        reload_interval: float = 2.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._dir = Path(keys_dir)
        self._clock = clock
        self._monotonic = monotonic
        self._reload_interval = reload_interval
        self._lock = threading.Lock()
        self._checked = -float("inf")
        self._signature: tuple[Any, ...] = ()
        self._current: SigningKey
        self._retired: tuple[RetiredKey, ...] = ()
        self._refresh(force=True)

    def _files_signature(self) -> tuple[Any, ...]:
        current = (self._dir / TOKEN_SIGNING_FILE).stat().st_mtime_ns
        retired_dir = self._dir / RETIRED_DIR
        retired = sorted(p.name for p in retired_dir.glob("*.jwk.json")) if retired_dir.is_dir() else []
        return (current, *retired)

    def _refresh(self, force: bool = False) -> None:
        with self._lock:
            now = self._monotonic()
            if not force and now - self._checked < self._reload_interval:
                return
            self._checked = now
            signature = self._files_signature()
            if signature == self._signature and not force:
                return
            self._current = load_signing_key(self._dir / TOKEN_SIGNING_FILE)
            self._retired = tuple(load_retired(self._dir))
            self._signature = signature

    @property
    def current(self) -> SigningKey:
        self._refresh()
        return self._current

    @property
    def alg(self) -> str:
        return self.current.alg

    @property
    def kid(self) -> str:
        return self.current.kid

    def sign(self, header: dict[str, Any], claims: dict[str, Any]) -> str:
        return self.current.sign(header, claims)

    def in_overlap(self) -> list[RetiredKey]:
        now = self._clock()
        current = self.current
        return [r for r in self._retired if r.kid != current.kid and now < r.retired_at + OVERLAP]

    def public_jwks(self) -> dict[str, Any]:
        """The current key and every retired key still in its overlap (RFC 7517 JWK Set)."""
        retired = [dict(r.public_jwk, kid=r.kid, alg=r.alg, use="sig") for r in self.in_overlap()]
        return {"keys": [self.current.public_jwk(), *retired]}

    def verifier(self, kid: object) -> tuple[Key, str] | None:
        """The key and algorithm that verify tokens with this ``kid``: None for an unknown key, or a
        retired one whose overlap has ended."""
        current = self.current
        if kid == current.kid:
            return current.verification_key, current.alg
        for retired in self.in_overlap():
            if kid == retired.kid:
                return retired.key, retired.alg
        return None


def load_retired(keys_dir: Path) -> list[RetiredKey]:
    found = []
    directory = Path(keys_dir) / RETIRED_DIR
    for path in sorted(directory.glob("*.jwk.json")) if directory.is_dir() else []:
        document = json.loads(path.read_text())
        retired_at = float(document.pop("retired_at"))
        public = {k: v for k, v in document.items() if k not in ("d", "p", "q", "dp", "dq", "qi")}
        found.append(RetiredKey(str(public["kid"]), str(public["alg"]), public, retired_at))
    return found


def rotate_signing_key(keys_dir: Path, *, now: float | None = None) -> tuple[str, str]:
    """Retire the current key (its public half kept for the overlap) and put a new one in its place.

    Returns the retired and the new ``kid``. The new key file replaces the old one atomically.
    """
    keys_dir = Path(keys_dir)
    old = load_signing_key(keys_dir / TOKEN_SIGNING_FILE)
    retired = {**old.public_jwk(), "retired_at": time.time() if now is None else now}
    retired_dir = keys_dir / RETIRED_DIR
    retired_dir.mkdir(mode=0o700, exist_ok=True)
    retired_path = retired_dir / f"{old.kid}.jwk.json"
    if not retired_path.exists():
        write_secret_file(retired_path, json.dumps(retired, indent=2).encode())
    document = new_signing_key_document()
    temporary = keys_dir / f".{TOKEN_SIGNING_FILE}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
    write_secret_file(temporary, json.dumps(document, indent=2).encode())
    os.replace(temporary, keys_dir / TOKEN_SIGNING_FILE)
    return old.kid, str(document["kid"])

"""Key files under ``GATEWAY_DATA_DIR/keys``: created once by ``ld-gateway init``, never shipped."""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass
from pathlib import Path

MASTER_KEY_FILE = "master.key"
HMAC_KEY_FILE = "identifier-hmac.key"


class KeysMissing(RuntimeError):
    """The key files are absent: the operator has not run ``ld-gateway init`` for this data directory."""


@dataclass(frozen=True)
class KeyRing:
    master_key: bytes
    hmac_key: bytes

    @property
    def master_key_id(self) -> str:
        # Names the key without revealing it, so a later rotation knows which key wrapped a row.
        return hashlib.sha256(b"ld-gateway master key id:" + self.master_key).hexdigest()[:16]

    def content_mac(self, content: bytes) -> str:
        """Keyed digest of stored content: it can tell versions apart, but after erasure nobody holding
        a copy of a document can confirm it against the database, as a plain hash would let them."""
        return hmac.new(self.hmac_key, b"content|" + content, hashlib.sha256).hexdigest()

    def identifier_hmac(self, system: str, value: str) -> str:
        """Keyed hash of an identifier: searchable by whoever holds the key, meaningless to anyone else."""
        message = f"{system}|{value}".encode()
        return hmac.new(self.hmac_key, message, hashlib.sha256).hexdigest()


def _write_secret(path: Path, secret: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(secret)


def _read_secret(path: Path) -> bytes:
    secret = path.read_bytes()
    if len(secret) != 32:
        raise KeysMissing(f"{path.name} is not a 256-bit key")
    return secret


def load_keyring(keys_dir: Path) -> KeyRing:
    try:
        return KeyRing(_read_secret(keys_dir / MASTER_KEY_FILE), _read_secret(keys_dir / HMAC_KEY_FILE))
    except FileNotFoundError as exc:
        raise KeysMissing(f"no keys in {keys_dir}: run `ld-gateway init` first") from exc


def load_or_create_keyring(keys_dir: Path) -> KeyRing:
    keys_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(keys_dir, 0o700)
    for name in (MASTER_KEY_FILE, HMAC_KEY_FILE):
        path = keys_dir / name
        if not path.exists():
            _write_secret(path, os.urandom(32))
    return load_keyring(keys_dir)

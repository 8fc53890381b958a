"""The log's signing key: Ed25519, ``GATEWAY_DATA_DIR/keys/log-signing.pem`` (PKCS#8, mode 0600).

It signs checkpoints and receipts, nothing else. ``ld-gateway init`` creates it when absent; the
public half is published (``GET /audit/log-key``) as a C2SP verifier key whose name is the log's origin.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from gateway.audit.c2sp_note import NoteSigner
from gateway.auth._files import write_secret_file
from gateway.config import Settings
from gateway.keys import KeysMissing

LOG_KEY_FILE = "log-signing.pem"


def load_or_create_log_key(keys_dir: Path) -> Ed25519PrivateKey:
    path = keys_dir / LOG_KEY_FILE
    if not path.exists():
        key = Ed25519PrivateKey.generate()
        write_secret_file(path, key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    return load_log_key(keys_dir)


def load_log_key(keys_dir: Path) -> Ed25519PrivateKey:
    path = keys_dir / LOG_KEY_FILE
    if not path.exists():
        raise KeysMissing(f"{path} is missing; run `ld-gateway init`")
    if path.stat().st_mode & 0o077:
        raise KeysMissing(f"{path} is readable by group or others; chmod 600 it")
    key = load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise KeysMissing(f"{path} is not an Ed25519 private key")
    return key


def log_origin(settings: Settings) -> str:
    """The checkpoint origin (and key name): GATEWAY_LOG_ORIGIN, else the issuer without its scheme."""
    if settings.log_origin:
        return settings.log_origin
    bare = settings.issuer.split("://", 1)[-1].rstrip("/")
    return f"{bare}/disclosure-log"


def log_signer(settings: Settings, *, create: bool = False) -> NoteSigner:
    key = load_or_create_log_key(settings.keys_dir) if create else load_log_key(settings.keys_dir)
    return NoteSigner(log_origin(settings), key)

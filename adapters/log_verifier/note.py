"""C2SP signed-note checkpoints signed with Ed25519 (https://c2sp.org/signed-note, /tlog-checkpoint)."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from adapters.log_verifier.merkle import VerificationError


@dataclass(frozen=True)
class LogKey:
    """A verifier key ``<name>+<hex key id>+<base64(0x01 || Ed25519 public key)>``."""

    name: str
    key_id: bytes
    public: Ed25519PublicKey

    @classmethod
    def parse(cls, vkey: str) -> LogKey:
        parts = vkey.strip().split("+", 2)
        if len(parts) != 3:
            raise VerificationError("a verifier key is NAME+KEYID+KEY")
        name, key_id_hex, encoded = parts
        raw = base64.b64decode(encoded)
        if len(raw) != 33 or raw[0] != 1:
            raise VerificationError("not an Ed25519 verifier key")
        key_id = hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4]
        if key_id.hex() != key_id_hex.lower():
            raise VerificationError("the verifier key's id does not match its key")
        return cls(name, key_id, Ed25519PublicKey.from_public_bytes(raw[1:]))


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes


def open_checkpoint(note: str, key: LogKey) -> Checkpoint:
    """The checkpoint, if ``note`` is signed by ``key`` and its origin is the key's name."""
    text, sep, block = note.rpartition("\n\n")
    if not sep:
        raise VerificationError("checkpoint has no signature")
    body = text + "\n"
    signed = False
    for line in block.rstrip("\n").split("\n"):
        dash, _, rest = line.partition(" ")
        name, _, encoded = rest.partition(" ")
        if dash != "\u2014" or name != key.name:
            continue
        raw = base64.b64decode(encoded)
        if len(raw) != 68 or raw[:4] != key.key_id:
            continue
        try:
            key.public.verify(raw[4:], body.encode("utf-8"))
        except InvalidSignature:
            raise VerificationError("checkpoint signature does not verify") from None
        signed = True
    if not signed:
        raise VerificationError(f"checkpoint is not signed by {key.name}")
    lines = body.split("\n")
    if len(lines) < 4 or not lines[1].isdigit():
        raise VerificationError("checkpoint body is not origin, size, root")
    if lines[0] != key.name:
        raise VerificationError(f"checkpoint origin {lines[0]!r} is not {key.name!r}")
    root = base64.b64decode(lines[2])
    if len(root) != 32:
        raise VerificationError("checkpoint root is not a SHA-256 hash")
    return Checkpoint(lines[0], int(lines[1]), root)

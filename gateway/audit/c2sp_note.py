"""Signed notes (C2SP signed-note) with Ed25519, and the checkpoint body (C2SP tlog-checkpoint). Pure.

A note is UTF-8 text ending in a newline, a blank line, then one signature line per signer:
``— <key name> <base64(key id || signature)>`` (U+2014 EM DASH). For Ed25519 the key id is the first
four bytes of SHA-256(key name || 0x0A || 0x01 || public key), and the signature covers the text
alone. A verifier key is written ``<name>+<hex key id>+<base64(0x01 || public key)>``.

A checkpoint's text is three lines: the log's origin, the tree size in decimal, the root hash in
base64 (RFC 9162 SHA-256 root), and then optional extension lines, which we do not write.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ED25519_ALG = b"\x01"
DASH = "\u2014"


class NoteError(ValueError):
    """A note or checkpoint is malformed, or carries no valid signature by the expected key."""


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _check_name(name: str) -> None:
    if not name or any(c.isspace() for c in name) or "+" in name:
        raise NoteError(f"key name {name!r} must be non-empty, without spaces or '+'")


def key_id(name: str, public: Ed25519PublicKey) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + ED25519_ALG + _raw_public(public)).digest()[:4]


@dataclass(frozen=True)
class NoteVerifier:
    name: str
    public: Ed25519PublicKey

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.public)

    def vkey(self) -> str:
        encoded = base64.b64encode(ED25519_ALG + _raw_public(self.public)).decode()
        return f"{self.name}+{self.key_id.hex()}+{encoded}"

    @classmethod
    def from_vkey(cls, vkey: str) -> NoteVerifier:
        try:
            name, hex_id, encoded = vkey.strip().split("+", 2)
            raw = base64.b64decode(encoded, validate=True)
        except ValueError:
            raise NoteError("verifier key must be NAME+HEXID+BASE64") from None
        if len(raw) != 33 or raw[:1] != ED25519_ALG:
            raise NoteError("verifier key is not an Ed25519 key")
        _check_name(name)
        verifier = cls(name, Ed25519PublicKey.from_public_bytes(raw[1:]))
        if verifier.key_id.hex() != hex_id.lower():
            raise NoteError(f"verifier key id {hex_id} does not match its key ({verifier.key_id.hex()})")
        return verifier


@dataclass(frozen=True)
class NoteSigner:
    name: str
    private: Ed25519PrivateKey

    def __post_init__(self) -> None:
        _check_name(self.name)

    @property
    def verifier(self) -> NoteVerifier:
        return NoteVerifier(self.name, self.private.public_key())

    def sign(self, text: str) -> str:
        """The signed note: ``text``, a blank line, our signature line."""
        _check_text(text)
        signature = self.private.sign(text.encode("utf-8"))
        encoded = base64.b64encode(self.verifier.key_id + signature).decode()
        return f"{text}\n{DASH} {self.name} {encoded}\n"


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise NoteError("note text must end with a newline")
    if any(c < " " and c != "\n" for c in text):
        raise NoteError("note text holds control characters")


def open_note(note: str, verifier: NoteVerifier) -> str:
    """The note's text if it carries a valid signature by ``verifier``; other signers are ignored."""
    text, sep, signatures = note.rpartition("\n\n")
    if not sep or not signatures.endswith("\n"):
        raise NoteError("note has no signature block")
    text += "\n"
    _check_text(text)
    for line in signatures[:-1].split("\n"):
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != DASH:
            raise NoteError(f"malformed signature line {line[:40]!r}")
        _, name, encoded = parts
        try:
            raw = base64.b64decode(encoded, validate=True)
        except ValueError:
            raise NoteError("signature is not base64") from None
        if name != verifier.name or len(raw) != 68 or not hmac.compare_digest(raw[:4], verifier.key_id):
            continue
        try:
            verifier.public.verify(raw[4:], text.encode("utf-8"))
        except InvalidSignature:
            raise NoteError(f"signature by {name} does not verify") from None
        return text
    raise NoteError(f"note is not signed by {verifier.name} ({verifier.key_id.hex()})")


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes

    def text(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        lines = text.split("\n")
        if len(lines) < 4 or lines[-1] != "":
            raise NoteError("checkpoint needs origin, size and root hash lines")
        origin, size, root = lines[0], lines[1], lines[2]
        if not origin:
            raise NoteError("checkpoint origin is empty")
        if not size.isdigit() or (size != "0" and size.startswith("0")):
            raise NoteError(f"checkpoint size {size!r} is not a decimal number")
        try:
            digest = base64.b64decode(root, validate=True)
        except ValueError:
            raise NoteError("checkpoint root hash is not base64") from None
        if len(digest) != 32:
            raise NoteError(f"checkpoint root hash is {len(digest)} bytes, expected 32")
        return cls(origin, int(size), digest)


def open_checkpoint(note: str, verifier: NoteVerifier, origin: str | None = None) -> Checkpoint:
    """Verify a signed checkpoint and parse it; ``origin`` (default: the key name) must match."""
    checkpoint = Checkpoint.parse(open_note(note, verifier))
    expected = origin or verifier.name
    if checkpoint.origin != expected:
        raise NoteError(f"checkpoint origin is {checkpoint.origin!r}, expected {expected!r}")
    return checkpoint

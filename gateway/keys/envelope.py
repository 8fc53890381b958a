"""Envelope encryption with AES-256-GCM (NIST SP 800-38D).

Each subject has a random 256-bit data key; it is stored only wrapped (encrypted) by the master key,
with the subject id as associated data so a wrapped key cannot be moved to another subject. Content is
encrypted under the data key with its own associated data (assessment id and version), so ciphertexts
cannot be swapped between rows either. Layout of every blob: 12-byte random nonce || ciphertext || tag.
"""

from __future__ import annotations

import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_NONCE_BYTES = 12


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def encrypt(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(_NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def decrypt(key: bytes, blob: bytes, aad: bytes) -> bytes:
    """Raises ``cryptography.exceptions.InvalidTag`` when the blob or its context was altered."""
    return AESGCM(key).decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], aad)


def wrap_key(master_key: bytes, data_key: bytes, subject_id: str) -> bytes:
    return encrypt(master_key, data_key, b"subject-key:" + subject_id.encode())


def unwrap_key(master_key: bytes, wrapped: bytes, subject_id: str) -> bytes:
    return decrypt(master_key, wrapped, b"subject-key:" + subject_id.encode())

"""C2SP signed notes and checkpoints, against the golang.org/x/mod/sumdb/note known answer."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.audit.c2sp_note import Checkpoint, NoteError, NoteSigner, NoteVerifier, open_checkpoint, open_note

# The example of golang.org/x/mod/sumdb/note (its package documentation and note_test.go).
SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
SIGNATURE = "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
SIGNED = f"{TEXT}\n\u2014 PeterNeumann {SIGNATURE}\n"


def _peter() -> NoteSigner:
    seed = base64.b64decode(SKEY.split("+", 4)[-1])[1:]
    return NoteSigner("PeterNeumann", Ed25519PrivateKey.from_private_bytes(seed))


def test_signing_reproduces_the_go_note_byte_for_byte():
    signer = _peter()
    assert signer.verifier.vkey() == VKEY
    assert signer.sign(TEXT) == SIGNED


def test_opening_the_go_note_with_its_verifier_key():
    assert open_note(SIGNED, NoteVerifier.from_vkey(VKEY)) == TEXT


@pytest.mark.parametrize(
    "note",
    [
        SIGNED.replace("problem,", "problem;"),  # text changed
        SIGNED.replace("x08go", "x08gp"),  # signature changed
        TEXT,  # no signature block
        SIGNED.replace("PeterNeumann", "EnochRoot"),  # another signer only
    ],
)
def test_tampered_or_foreign_notes_are_refused(note):
    with pytest.raises(NoteError):
        open_note(note, NoteVerifier.from_vkey(VKEY))


@pytest.mark.parametrize("vkey", [VKEY.replace("c74f20a3", "c74f20a4"), "PeterNeumann+c74f20a3", VKEY[:-4]])
def test_bad_verifier_keys_are_refused(vkey):
    with pytest.raises(NoteError):
        NoteVerifier.from_vkey(vkey)


def test_checkpoint_round_trip_and_origin_check():
    signer = NoteSigner("example.org/log", Ed25519PrivateKey.generate())
    cp = Checkpoint("example.org/log", 42, bytes(range(32)))
    note = signer.sign(cp.text())
    assert note.startswith(
        "example.org/log\n42\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n\n\u2014 example.org/log "
    )
    assert open_checkpoint(note, signer.verifier) == cp
    with pytest.raises(NoteError):
        open_checkpoint(note, signer.verifier, origin="other.org/log")


@pytest.mark.parametrize(
    "text", ["o\n01\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", "o\n1\nAAEC\n", "o\n1\n", "\n1\nAA==\n"]
)
def test_malformed_checkpoints_are_refused(text):
    with pytest.raises(NoteError):
        Checkpoint.parse(text)


def test_a_verifier_key_whose_base64_holds_a_plus():
    # transparency-dev/formats note tests: "The base64 of plusKey contains a '+'."
    verifier = NoteVerifier.from_vkey("TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6")
    assert verifier.key_id.hex() == "7997405c"

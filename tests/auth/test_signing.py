"""The gateway's token-signing key."""

from __future__ import annotations

import json
import os
import stat

import pytest
from joserfc.jwk import ECKey, RSAKey

from gateway.auth.errors import KeyFileError
from gateway.auth.signing import TOKEN_SIGNING_FILE, load_or_create_signing_key, load_signing_key
from tests.factories import in_threads


@pytest.fixture(scope="module")
def created(tmp_path_factory):
    keys_dir = tmp_path_factory.mktemp("data") / "keys"
    return keys_dir, load_or_create_signing_key(keys_dir)


def test_created_as_a_private_rs256_jwk_with_mode_0600(created):
    keys_dir, key = created
    path = keys_dir / TOKEN_SIGNING_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    document = json.loads(path.read_text())
    assert document["kty"] == "RSA" and "d" in document
    assert document["alg"] == "RS256"
    assert key.alg == "RS256"
    assert key.key.public_key.key_size == 3072
    assert key.kid == document["kid"] == RSAKey.import_key(document).thumbprint()


def test_idempotent(created):
    keys_dir, key = created
    again = load_or_create_signing_key(keys_dir)
    assert (again.kid, again.public_jwks()) == (key.kid, key.public_jwks())
    assert [p.name for p in keys_dir.iterdir()] == [TOKEN_SIGNING_FILE]


def test_public_jwks_has_no_private_members(created):
    _, key = created
    (jwk,) = key.public_jwks()["keys"]
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(jwk)
    assert (jwk["kid"], jwk["alg"], jwk["use"]) == (key.kid, "RS256", "sig")
    assert "key=" not in repr(key)


def test_concurrent_creation_yields_one_key(tmp_path):
    results = []
    assert not in_threads(3, lambda _: results.append(load_or_create_signing_key(tmp_path).kid))
    assert len(set(results)) == 1
    assert [p.name for p in tmp_path.iterdir()] == [TOKEN_SIGNING_FILE]


def _write(path, document, mode=0o600):
    path.write_text(json.dumps(document))
    os.chmod(path, mode)


def test_an_operator_supplied_es256_key_is_used(tmp_path):
    key = ECKey.generate_key("P-256", private=True)
    _write(tmp_path / TOKEN_SIGNING_FILE, dict(key.as_dict(private=True), alg="ES256"))
    loaded = load_or_create_signing_key(tmp_path)
    assert (loaded.alg, loaded.kid) == ("ES256", key.thumbprint())


@pytest.mark.parametrize(
    ("document", "mode", "fragment"),
    [
        ("private", 0o644, "readable by group or others"),
        ("public", 0o600, "private key"),
        ("es384", 0o600, "alg 'ES384'"),
        ("garbage", 0o600, "not a JWK"),
    ],
)
def test_bad_key_files_are_refused(document, mode, fragment, tmp_path):
    path = tmp_path / TOKEN_SIGNING_FILE
    rsa = RSAKey.generate_key(2048, private=True)
    documents = {
        "private": rsa.as_dict(private=True),
        "public": rsa.as_dict(private=False),
        "es384": dict(ECKey.generate_key("P-384", private=True).as_dict(private=True), alg="ES384"),
    }
    if document == "garbage":
        path.write_text("{not json")
        os.chmod(path, mode)
    else:
        _write(path, documents[document], mode)
    with pytest.raises(KeyFileError) as caught:
        load_signing_key(path)
    assert fragment in caught.value.message


def test_missing_file(tmp_path):
    with pytest.raises(KeyFileError):
        load_signing_key(tmp_path / TOKEN_SIGNING_FILE)

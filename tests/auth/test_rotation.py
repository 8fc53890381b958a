"""Rotating the gateway's token-signing key: old and new published, old verifying only through its overlap."""

from __future__ import annotations

import base64
import json

import pytest

from gateway.auth.clients import ClientRecord
from gateway.auth.errors import InvalidToken
from gateway.auth.rfc9068 import issue_access_token, validate_access_token
from gateway.auth.rotation import OVERLAP, RETIRED_DIR, SigningKeys, rotate_signing_key
from gateway.auth.signing import TOKEN_SIGNING_FILE
from gateway.auth.vocab import AgencyType, Purpose

ISSUER = "https://gw.example"
CLIENT = ClientRecord("c1", "POL", AgencyType.POLICE, (Purpose.CHARGING,), None, None, False)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def keys_dir(tmp_path, signing_key):
    directory = tmp_path / "keys"
    directory.mkdir(mode=0o700)
    document = {**signing_key.key.as_dict(private=True), "kid": signing_key.kid, "alg": signing_key.alg}
    path = directory / TOKEN_SIGNING_FILE
    path.write_text(json.dumps(document))
    path.chmod(0o600)
    return directory


def _token(keys, now):
    return issue_access_token(
        signing_key=keys,
        issuer=ISSUER,
        audience=ISSUER + "/fhir",
        client=CLIENT,
        purpose=Purpose.CHARGING,
        scopes=["system/Bundle.read"],
        now=lambda: now,
    )[0]


def _validate(token, keys, now):
    return validate_access_token(
        token,
        signing_key=keys,
        issuer=ISSUER,
        audience=ISSUER + "/fhir",
        is_client_active=lambda _: True,
        now=lambda: now,
    )


def test_rotation_publishes_both_keys_and_the_old_one_verifies_only_through_its_overlap(keys_dir, signing_key):
    t0 = 1_900_000_000.0
    clock = Clock(t0)
    keys = SigningKeys(keys_dir, clock=clock, reload_interval=0)
    old_kid = keys.kid
    old_token = _token(keys, t0)

    retired, new_kid = rotate_signing_key(keys_dir, now=t0)

    assert retired == old_kid != new_kid
    assert keys.kid == new_kid  # this process follows the files
    assert [k["kid"] for k in keys.public_jwks()["keys"]] == [new_kid, old_kid]
    assert all("d" not in k for k in keys.public_jwks()["keys"])
    assert "d" not in json.loads((keys_dir / RETIRED_DIR / f"{old_kid}.jwk.json").read_text())
    assert _validate(old_token, keys, t0 + 100).client_id == "c1"
    new_token = _token(keys, t0 + 100)
    assert json.loads(base64.urlsafe_b64decode(new_token.split(".")[0] + "=="))["kid"] == new_kid
    assert _validate(new_token, keys, t0 + 100).client_id == "c1"

    clock.now = t0 + OVERLAP
    assert [k["kid"] for k in keys.public_jwks()["keys"]] == [new_kid]
    # A token the retired key signed after its overlap (forged, or with a bad exp) is refused.
    late = _token(signing_key, t0 + OVERLAP)  # the retired key's private half, from a backup or a thief
    with pytest.raises(InvalidToken) as caught:
        _validate(late, keys, t0 + OVERLAP)
    assert "retired past its overlap" in caught.value.reason


def test_a_process_sees_another_processes_rotation_within_its_reload_interval(keys_dir):
    monotonic = Clock(0.0)
    keys = SigningKeys(keys_dir, reload_interval=2.0, monotonic=monotonic)
    before = keys.kid
    _, new_kid = rotate_signing_key(keys_dir)
    assert keys.kid == before  # checked at most every 2 s
    monotonic.now = 2.0
    assert keys.kid == new_kid

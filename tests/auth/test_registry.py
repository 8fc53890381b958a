"""Registering agencies and clients, on SQLite and PostgreSQL."""

from __future__ import annotations

import stat

import pytest
from cryptography.hazmat.primitives import serialization
from joserfc.jwk import RSAKey
from sqlalchemy import func, select

from gateway.auth import registry
from gateway.auth.errors import (
    DuplicateAgency,
    InvalidAgencyCode,
    InvalidAgencyName,
    InvalidAgencyType,
    InvalidJwks,
    InvalidOdsCode,
    InvalidPurpose,
    KeyFileError,
    RegistrationError,
    UnknownAgency,
    UnknownClient,
)
from gateway.auth.jwks import validate_public_jwks
from gateway.auth.vocab import AgencyType, Purpose
from gateway.db.models import Agency, Client
from tests.auth.conftest import weak_rsa_jwks


def test_add_agency(session_factory):
    with session_factory.begin() as session:
        agency = registry.add_agency(session, "POL-NE", "Northshire Police", "police")
        assert agency.id is not None
    with session_factory() as session:
        stored = registry.get_agency(session, "POL-NE")
        assert (stored.name, stored.type) == ("Northshire Police", "police")


def test_duplicate_agency_code_is_a_clear_error_and_leaves_the_transaction_usable(session_factory):
    with session_factory.begin() as session:
        registry.add_agency(session, "MC-NE", "Magistrates", "court")
    with session_factory.begin() as session:
        with pytest.raises(DuplicateAgency) as caught:
            registry.add_agency(session, "MC-NE", "Another court", "court")
        assert caught.value.code == "duplicate_agency"
        assert "MC-NE" in caught.value.message
        registry.add_agency(session, "MC-SW", "Magistrates SW", "court")
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Agency)) == 2


@pytest.mark.parametrize(
    ("code", "name", "type_", "error"),
    [
        ("POL NE", "Police", "police", InvalidAgencyCode),
        ("", "Police", "police", InvalidAgencyCode),
        ("X" * 33, "Police", "police", InvalidAgencyCode),
        ("-POL", "Police", "police", InvalidAgencyCode),
        ("POL", "  ", "police", InvalidAgencyName),
        ("POL", "Police", "constabulary", InvalidAgencyType),
        ("POL", "Police", "Police", InvalidAgencyType),
    ],
)
def test_bad_agency_input(code, name, type_, error, session_factory):
    with session_factory() as session, pytest.raises(error):
        registry.add_agency(session, code, name, type_)


@pytest.mark.parametrize(("type_", "given", "stored"), [("health", "rx4", "RX4"), ("ld-service", "RX4A1", "RX4A1")])
def test_an_nhs_agency_keeps_its_ods_code(type_, given, stored, session_factory):
    with session_factory.begin() as session:
        registry.add_agency(session, "NHS-1", "A trust", type_, ods_code=given)
    with session_factory() as session:
        assert registry.get_agency(session, "NHS-1").ods_code == stored


@pytest.mark.parametrize(
    ("type_", "ods_code", "says"),
    [
        ("health", "R4", "3 to 5 letters or digits"),
        ("health", "RX4A12", "3 to 5 letters or digits"),
        ("health", "RX-4", "3 to 5 letters or digits"),
        ("ld-service", "", "3 to 5 letters or digits"),
        ("police", "RX4", "only health and ld-service agencies"),
        ("court", "ABC12", "only health and ld-service agencies"),
    ],
)
def test_a_bad_or_misplaced_ods_code_is_refused(type_, ods_code, says, session_factory):
    with session_factory() as session, pytest.raises(InvalidOdsCode, match=says):
        registry.add_agency(session, "AG-1", "Agency", type_, ods_code=ods_code)
        assert registry.get_agency(session, "AG-1") is None


def _agency(session_factory, code="POL-1", type_="police"):
    with session_factory.begin() as session:
        registry.add_agency(session, code, f"Agency {code}", type_)
    return code


def test_add_client(session_factory, rsa_key):
    code = _agency(session_factory)
    with session_factory.begin() as session:
        client = registry.add_client(session, code, ["charging", "charging"], jwks=rsa_key.jwks)
        client_id = client.client_id
    assert 30 <= len(client_id) <= 64
    assert all(c.isalnum() or c in "-_" for c in client_id)
    with session_factory() as session:
        record = registry.load_client_record(session, client_id)
        stored = registry.get_client(session, client_id)
    assert record.agency_code == code
    assert record.agency_type is AgencyType.POLICE
    assert record.purposes == (Purpose.CHARGING,)
    assert record.revoked is False
    assert stored.jwks == {"keys": [rsa_key.public_jwk]}
    assert stored.jwks_url is None


def test_client_ids_are_random(session_factory, rsa_key):
    code = _agency(session_factory)
    with session_factory.begin() as session:
        ids = {registry.add_client(session, code, ["charging"], jwks=rsa_key.jwks).client_id for _ in range(5)}
    assert len(ids) == 5


def test_client_with_jwks_url(session_factory):
    code = _agency(session_factory)
    with session_factory.begin() as session:
        client = registry.add_client(session, code, ["charging"], jwks_url="https://pol.example/jwks.json")
        assert (client.jwks, client.jwks_url) == (None, "https://pol.example/jwks.json")


@pytest.mark.parametrize(
    "url",
    [
        "http://pol.example/jwks.json",
        "ftp://pol.example/jwks",
        "https://user:pw@pol.example/jwks",
        "https://pol.example/jwks#frag",
        "/jwks.json",
        "https://" + "a" * 500 + ".example",
    ],
)
def test_bad_jwks_url(url, session_factory):
    code = _agency(session_factory)
    with session_factory() as session, pytest.raises(InvalidJwks):
        registry.add_client(session, code, ["charging"], jwks_url=url)


def test_loopback_http_jwks_url_is_allowed_for_development():
    assert registry.validate_jwks_url("http://127.0.0.1:9000/jwks.json")
    assert registry.validate_jwks_url("http://localhost/jwks.json")


def test_exactly_one_of_jwks_and_url(session_factory, rsa_key):
    code = _agency(session_factory)
    with session_factory() as session:
        with pytest.raises(InvalidJwks):
            registry.add_client(session, code, ["charging"])
        with pytest.raises(InvalidJwks):
            registry.add_client(session, code, ["charging"], jwks=rsa_key.jwks, jwks_url="https://x.example/j")


def test_private_key_in_jwks_is_rejected(session_factory, rsa_key):
    code = _agency(session_factory)
    private_jwk = dict(rsa_key.private.as_dict(private=True), kid="k1")
    with session_factory() as session, pytest.raises(InvalidJwks) as caught:
        registry.add_client(session, code, ["charging"], jwks={"keys": [private_jwk]})
    assert "private key material" in caught.value.message
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Client)) == 0


def test_rsa_1024_is_rejected_at_registration(session_factory):
    code = _agency(session_factory)
    with session_factory() as session, pytest.raises(InvalidJwks) as caught:
        registry.add_client(session, code, ["charging"], jwks=weak_rsa_jwks(1024))
    assert "1024 bits" in caught.value.message


@pytest.mark.parametrize(
    ("purposes", "agency_type", "fragment"),
    [
        (["curiosity"], "police", "not one of"),
        ([], "police", "at least one"),
        ("charging", "police", "not a single string"),
        (["ld-service"], "police", "only for ld-service agencies"),
        (["charging"], "ld-service", "ld-service purpose only"),
        (["ld-service", "health-referral"], "ld-service", "ld-service purpose only"),
    ],
)
def test_bad_purposes_are_rejected(purposes, agency_type, fragment, session_factory, rsa_key):
    code = _agency(session_factory, "AG-1", agency_type)
    with session_factory() as session, pytest.raises(InvalidPurpose) as caught:
        registry.add_client(session, code, purposes, jwks=rsa_key.jwks)
    assert fragment in caught.value.message


def test_ld_service_agency_registers_ld_service(session_factory, ed_key):
    code = _agency(session_factory, "LD-1", "ld-service")
    with session_factory.begin() as session:
        assert registry.add_client(session, code, ["ld-service"], jwks=ed_key.jwks).purposes == ["ld-service"]


def test_unknown_agency(session_factory, rsa_key):
    with session_factory() as session, pytest.raises(UnknownAgency):
        registry.add_client(session, "NOPE", ["charging"], jwks=rsa_key.jwks)


def test_revoke_client_is_idempotent(session_factory, rsa_key):
    code = _agency(session_factory)
    with session_factory.begin() as session:
        client_id = registry.add_client(session, code, ["charging"], jwks=rsa_key.jwks).client_id
    with session_factory.begin() as session:
        assert registry.is_client_active(session, client_id)
        first = registry.revoke_client(session, client_id).revoked_at
    with session_factory.begin() as session:
        # SQLite hands back naive datetimes; the instant is what matters.
        again = registry.revoke_client(session, client_id).revoked_at
        assert again.replace(tzinfo=None) == first.replace(tzinfo=None)
        assert not registry.is_client_active(session, client_id)
        assert registry.load_client_record(session, client_id).revoked


def test_revoke_unknown_client(session_factory):
    with session_factory() as session, pytest.raises(UnknownClient):
        registry.revoke_client(session, "no-such-client")
    with session_factory() as session:
        assert not registry.is_client_active(session, "no-such-client")
        assert registry.load_client_record(session, "no-such-client") is None


def test_registration_errors_have_stable_codes():
    codes = {cls.code for cls in RegistrationError.__subclasses__()}
    assert {"duplicate_agency", "invalid_purpose", "invalid_jwks", "unknown_client"} <= codes


# --- generate_client_key (no database) ----------------------------------------------------------


def test_generate_client_key(tmp_path):
    path = tmp_path / "agency" / "client.pem"
    jwk = registry.generate_client_key(path)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    pem = path.read_bytes()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")  # PKCS #8
    private = serialization.load_pem_private_key(pem, password=None)
    assert private.key_size == 4096
    assert jwk["alg"] == "RS512"
    assert jwk["use"] == "sig"
    assert jwk["kid"] == RSAKey.import_key(jwk).thumbprint()
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(jwk)
    assert validate_public_jwks({"keys": [jwk]})["keys"][0]["kid"] == jwk["kid"]


def test_generate_client_key_never_overwrites(tmp_path):
    path = tmp_path / "client.pem"
    path.write_text("precious")
    with pytest.raises(KeyFileError):
        registry.generate_client_key(path)
    assert path.read_text() == "precious"

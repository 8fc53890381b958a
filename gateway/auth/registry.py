"""Registering partner agencies and their OAuth clients: service functions over a Session.

The caller owns the transaction: these functions add and flush (so constraint violations surface
here, as :class:`RegistrationError` values) and never commit.

Client keys follow NHS England's signed-JWT pattern for application-restricted APIs: the client
keeps the private key, the gateway stores only the public JWKS (or the URL where the client
publishes it). :func:`generate_client_key` makes a key the way that guidance does (RSA 4096,
signing with RS512).
"""

from __future__ import annotations

import ipaddress
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc.jwk import RSAKey
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.auth._files import write_secret_file
from gateway.auth.clients import ClientRecord
from gateway.auth.errors import (
    DuplicateAgency,
    InvalidAgencyCode,
    InvalidAgencyName,
    InvalidAgencyType,
    InvalidJwks,
    InvalidOdsCode,
    InvalidPurpose,
    UnknownAgency,
    UnknownClient,
)
from gateway.auth.jwks import validate_public_jwks
from gateway.auth.vocab import ASSERTION_ALGORITHMS, DEFAULT_ASSERTION_ALGORITHMS, AgencyType, Purpose, allowed_purposes
from gateway.db.models import Agency, Client

AGENCY_CODE_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")
# NHS Organisation Data Service codes: 3 (trusts) to 5 (sites, services) letters and digits.
ODS_CODE_PATTERN = re.compile(r"[A-Z0-9]{3,5}")
NHS_AGENCY_TYPES = frozenset({AgencyType.HEALTH, AgencyType.LD_SERVICE})
MAX_AGENCY_NAME = 200
MAX_JWKS_URL = 500
CLIENT_KEY_BITS = 4096
CLIENT_KEY_ALG = "RS512"
_LOOPBACK_NAMES = frozenset({"localhost"})


def add_agency(session: Session, code: str, name: str, type: str, *, ods_code: str | None = None) -> Agency:
    """Register a partner agency. Raises on a malformed or already-registered code, an unknown type, or
    an ODS code that is malformed or given for an agency that is not an NHS organisation."""
    if not isinstance(code, str) or not AGENCY_CODE_PATTERN.fullmatch(code):
        raise InvalidAgencyCode(
            f"agency code {code!r} must be 1-32 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    name = name.strip() if isinstance(name, str) else ""
    if not name or len(name) > MAX_AGENCY_NAME:
        raise InvalidAgencyName(f"agency name must be 1-{MAX_AGENCY_NAME} characters")
    agency_type = _agency_type(type)
    ods = _ods_code(ods_code, agency_type)
    if get_agency(session, code) is not None:
        raise DuplicateAgency(f"an agency with code {code!r} is already registered")
    agency = Agency(code=code, name=name, type=str(agency_type), created_at=_now(), ods_code=ods)
    try:
        # A savepoint, so that losing a race with a concurrent registration leaves the caller's
        # transaction usable.
        with session.begin_nested():
            session.add(agency)
    except IntegrityError:
        raise DuplicateAgency(f"an agency with code {code!r} is already registered") from None
    return agency


def _ods_code(value: str | None, agency_type: AgencyType) -> str | None:
    """An ODS code in its canonical upper case, only for an NHS organisation (health, L&D services):
    police forces, courts, CPS, probation and YOTs have no ODS code, so one given for them is a mistake."""
    if value is None:
        return None
    ods = value.strip().upper() if isinstance(value, str) else ""
    if not ODS_CODE_PATTERN.fullmatch(ods):
        raise InvalidOdsCode(f"ODS code {value!r} must be 3 to 5 letters or digits (e.g. RX4 or RX4A1)")
    if agency_type not in NHS_AGENCY_TYPES:
        raise InvalidOdsCode(
            f"an ODS code identifies an NHS organisation: only health and ld-service agencies have one, "
            f"not {agency_type.value}"
        )
    return ods


def get_agency(session: Session, code: str) -> Agency | None:
    return session.execute(select(Agency).where(Agency.code == code)).scalar_one_or_none()


def add_client(
    session: Session,
    agency_code: str,
    purposes: Iterable[str],
    *,
    jwks: Mapping[str, Any] | None = None,
    jwks_url: str | None = None,
    algorithms: Iterable[str] | None = None,
    dpop_required: bool = True,
) -> Client:
    """Register an OAuth client for an agency, with the purposes it may ask for and its public keys.

    Give exactly one of ``jwks`` (stored, after :func:`gateway.auth.jwks.validate_public_jwks`) and
    ``jwks_url`` (HTTPS; plain HTTP only to a loopback host, for development). ``algorithms`` narrows
    or widens the assertion algorithms from the default allow-list (within what the gateway supports);
    ``dpop_required`` (the default) means its access tokens must be DPoP-bound (RFC 9449).
    """
    agency, chosen, chosen_algorithms = _client_request(session, agency_code, purposes, algorithms)
    if (jwks is None) == (jwks_url is None):
        raise InvalidJwks("give exactly one of a JWKS and a JWKS URL")
    stored_jwks = validate_public_jwks(jwks) if jwks is not None else None
    stored_url = validate_jwks_url(jwks_url) if jwks_url is not None else None
    client = Client(
        client_id=secrets.token_hex(16),  # hex: never starts with '-', which CLIs would read as an option
        agency_id=agency.id,
        purposes=[str(p) for p in chosen],
        jwks=stored_jwks,
        jwks_url=stored_url,
        created_at=_now(),
        revoked_at=None,
        assertion_algorithms=chosen_algorithms,
        dpop_required=bool(dpop_required),
    )
    session.add(client)
    session.flush()
    return client


def check_client(
    session: Session, agency_code: str, purposes: Iterable[str], *, algorithms: Iterable[str] | None = None
) -> None:
    """Refuse, as :func:`add_client` would, a client of an unknown agency, for a purpose its agency may
    not ask for, or with an algorithm the gateway does not support: what a request can be refused for
    before a key is made for it. Reads only."""
    _client_request(session, agency_code, purposes, algorithms)


def _client_request(
    session: Session, agency_code: str, purposes: Iterable[str], algorithms: Iterable[str] | None
) -> tuple[Agency, list[Purpose], list[str] | None]:
    agency = get_agency(session, agency_code)
    if agency is None:
        raise UnknownAgency(f"no agency with code {agency_code!r}")
    return agency, _purposes(purposes, _agency_type(agency.type)), _algorithms(algorithms)


def check_client_keys(session: Session, client_id: str) -> None:
    """Refuse, as :func:`add_client_keys` would, keys for an unknown client or one that publishes its
    keys at a JWKS URL. Reads only."""
    _inline_jwks_client(session, client_id)


def add_client_keys(session: Session, client_id: str, jwks: Mapping[str, Any]) -> list[str]:
    """Add the keys of ``jwks`` to a client's registered JWKS (rotation: old and new both work until
    the old one is removed). Returns the client's kids. The whole set is re-checked."""
    client = _inline_jwks_client(session, client_id)
    new = validate_public_jwks(jwks)["keys"]
    stored = list((client.jwks or {}).get("keys", []))
    client.jwks = validate_public_jwks({"keys": stored + new})
    session.flush()
    return [str(k["kid"]) for k in client.jwks["keys"]]


def remove_client_key(session: Session, client_id: str, kid: str) -> list[str]:
    """Remove the key ``kid`` from a client's JWKS; its assertions stop working at once. The last key
    cannot be removed (revoke the client instead). Returns the remaining kids."""
    client = _inline_jwks_client(session, client_id)
    keys = list((client.jwks or {}).get("keys", []))
    remaining = [k for k in keys if k.get("kid") != kid]
    if len(remaining) == len(keys):
        raise InvalidJwks(f"client {client_id!r} has no key with kid {kid!r}")
    if not remaining:
        raise InvalidJwks("that is the client's last key: add its replacement first, or revoke the client")
    client.jwks = {"keys": remaining}
    session.flush()
    return [str(k["kid"]) for k in remaining]


def _inline_jwks_client(session: Session, client_id: str) -> Client:
    client = get_client(session, client_id)
    if client is None:
        raise UnknownClient(f"no client with id {client_id!r}")
    if client.jwks is None:
        raise InvalidJwks("this client publishes its keys at a JWKS URL: rotate them there")
    return client


def get_client(session: Session, client_id: str) -> Client | None:
    return session.get(Client, client_id)


def revoke_client(session: Session, client_id: str) -> Client:
    """Revoke a client: no new tokens, and its live tokens fail validation. Idempotent."""
    client = get_client(session, client_id)
    if client is None:
        raise UnknownClient(f"no client with id {client_id!r}")
    if client.revoked_at is None:
        client.revoked_at = _now()
        session.flush()
    return client


def load_client_record(session: Session, client_id: str) -> ClientRecord | None:
    """The client and its agency as a frozen snapshot, or None when no such client is registered."""
    row = session.execute(
        select(Client, Agency).join(Agency, Agency.id == Client.agency_id).where(Client.client_id == client_id)
    ).one_or_none()
    if row is None:
        return None
    client, agency = row
    known = {p.value for p in Purpose}
    return ClientRecord(
        client_id=client.client_id,
        agency_code=agency.code,
        agency_type=AgencyType(agency.type),
        # A stored purpose this version does not know is dropped: it can then never be granted.
        purposes=tuple(Purpose(p) for p in client.purposes if p in known),
        jwks=client.jwks,
        jwks_url=client.jwks_url,
        revoked=client.revoked_at is not None,
        algorithms=tuple(client.assertion_algorithms or DEFAULT_ASSERTION_ALGORITHMS),
        dpop_required=bool(client.dpop_required),
    )


def is_client_active(session: Session, client_id: str) -> bool:
    """True when the client is registered and not revoked."""
    revoked_at = session.execute(select(Client.revoked_at).where(Client.client_id == client_id)).one_or_none()
    return revoked_at is not None and revoked_at[0] is None


def validate_jwks_url(url: str) -> str:
    if not isinstance(url, str) or not url or len(url) > MAX_JWKS_URL:
        raise InvalidJwks(f"the JWKS URL must be 1-{MAX_JWKS_URL} characters")
    parts = urlsplit(url)
    if not parts.hostname or parts.username or parts.password or parts.fragment:
        raise InvalidJwks("the JWKS URL must be an absolute https:// URL without credentials or fragment")
    if parts.scheme == "https":
        return url
    if parts.scheme == "http" and _is_loopback(parts.hostname):
        return url
    raise InvalidJwks("the JWKS URL must use https:// (http:// only to localhost, for development)")


@dataclass(frozen=True, slots=True)
class ClientKey:
    """A client key pair made by the gateway: the private key (PKCS #8 PEM) for the agency, and the
    public JWK the gateway registers."""

    private_pem: bytes = field(repr=False)
    public_jwk: dict[str, Any]


def new_client_key() -> ClientKey:
    """A new RSA 4096 key pair, in memory (about a second of CPU: make it with no transaction open).

    The JWK carries ``kid`` = its RFC 7638 thumbprint, ``alg`` RS512 and ``use`` sig.
    """
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=CLIENT_KEY_BITS)
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_pem = private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    key = RSAKey.import_key(public_pem)
    jwk = dict(key.as_dict(private=False))
    jwk.update({"kid": key.thumbprint(), "alg": CLIENT_KEY_ALG, "use": "sig"})
    return ClientKey(pem, jwk)


def generate_client_key(path: Path) -> dict[str, Any]:
    """Write a new RSA 4096 private key to ``path`` (PKCS #8 PEM, mode 0600); return its public JWK
    (see :func:`new_client_key`). An existing file is never overwritten."""
    key = new_client_key()
    write_secret_file(path, key.private_pem)
    return key.public_jwk


def _agency_type(value: str) -> AgencyType:
    try:
        return AgencyType(value)
    except ValueError:
        known = "|".join(t.value for t in AgencyType)
        raise InvalidAgencyType(f"agency type {value!r} is not one of {known}") from None


def _purposes(values: Iterable[str], agency_type: AgencyType) -> list[Purpose]:
    if isinstance(values, str):
        raise InvalidPurpose("purposes must be a list of purposes, not a single string")
    chosen: list[Purpose] = []
    for value in values:
        try:
            purpose = Purpose(value)
        except ValueError:
            known = ", ".join(p.value for p in Purpose)
            raise InvalidPurpose(f"purpose {value!r} is not one of {known}") from None
        if purpose not in allowed_purposes(agency_type):
            if purpose is Purpose.LD_SERVICE:
                raise InvalidPurpose("the ld-service purpose is only for ld-service agencies")
            raise InvalidPurpose(
                f"an ld-service agency's clients register the ld-service purpose only, not {purpose.value!r}"
            )
        if purpose not in chosen:
            chosen.append(purpose)
    if not chosen:
        raise InvalidPurpose("a client needs at least one purpose")
    return chosen


def _algorithms(values: Iterable[str] | None) -> list[str] | None:
    """A client's assertion algorithm allow-list; None keeps the default (and follows it if it changes)."""
    if values is None:
        return None
    if isinstance(values, str):
        raise InvalidJwks("algorithms must be a list of JWS algorithm names, not a single string")
    chosen: list[str] = []
    for value in values:
        if value not in ASSERTION_ALGORITHMS:
            raise InvalidJwks(f"algorithm {value!r} is not one of {', '.join(ASSERTION_ALGORITHMS)}")
        if value not in chosen:
            chosen.append(value)
    if not chosen:
        raise InvalidJwks("a client needs at least one assertion algorithm")
    return chosen


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _now() -> datetime:
    return datetime.now(UTC)

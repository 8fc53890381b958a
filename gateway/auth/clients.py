"""A registered client as the authorization server sees it: a plain, frozen snapshot.

The token endpoint loads one of these in a short transaction and does its cryptography after the
transaction has closed; nothing here touches the database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gateway.auth.vocab import DEFAULT_ASSERTION_ALGORITHMS, AgencyType, Purpose


@dataclass(frozen=True, slots=True)
class ClientRecord:
    client_id: str
    agency_code: str
    agency_type: AgencyType
    purposes: tuple[Purpose, ...]
    jwks: Mapping[str, Any] | None
    jwks_url: str | None
    revoked: bool
    algorithms: tuple[str, ...] = DEFAULT_ASSERTION_ALGORITHMS
    dpop_required: bool = False


@dataclass(frozen=True, slots=True)
class AuthenticatedClient:
    """A client that has just proved possession of one of its registered keys (RFC 7523)."""

    client: ClientRecord
    key_id: str
    algorithm: str
    assertion_id: str

    @property
    def client_id(self) -> str:
        return self.client.client_id

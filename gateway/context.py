"""What the routes and the IG pages need, built once by the app factory and kept on ``app.state.gateway``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session, sessionmaker

from gateway.assessments.catalogue import Catalogue
from gateway.auth.ratelimit import RateLimiter
from gateway.auth.rfc7009 import RevocationList
from gateway.auth.rfc7523 import InMemoryReplayCache, ReplayCache
from gateway.auth.rfc9449 import DpopNonces
from gateway.auth.signing import TokenSigner
from gateway.config import Settings
from gateway.db.agencies import AgencyDirectory
from gateway.disclosure.service import DisclosureService
from gateway.keys import KeyRing
from gateway.policy.engine import PolicyEngine


@dataclass
class Gateway:
    settings: Settings
    sessions: sessionmaker[Session]
    keyring: KeyRing
    signing_key: TokenSigner
    policy: PolicyEngine
    catalogue: Catalogue
    assessment_schema: dict[str, Any]
    disclosures: DisclosureService
    revocations: RevocationList
    client_active: Callable[[str], bool]
    # issue 3: DPoP proof jti values (shared with client assertions' store) and optional server nonces
    replay_cache: ReplayCache = field(default_factory=InMemoryReplayCache)
    dpop_nonces: DpopNonces | None = None
    rate_limits: RateLimiter | None = None
    # issue 6: told of each publish inside its transaction (amended / consent-withdrawn notifications)
    on_published: Callable[[Session, str, int, dict[str, Any]], None] | None = None
    # Agencies by code and id, one cache for every use case (gateway.db.agencies)
    agencies: AgencyDirectory = field(default_factory=AgencyDirectory)


def gateway_of(request: Request) -> Gateway:
    return request.app.state.gateway  # type: ignore[no-any-return]

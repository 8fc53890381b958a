"""What the routes and the IG pages need, built once by the app factory and kept on the application.

:func:`install` puts it there and :func:`gateway_of` (or :func:`gateway_of_app`) takes it back, typed and
checked: nothing else reads or writes ``app.state``, so the rest of the code never sees an untyped
attribute.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette

from gateway.assessments.catalogue import Catalogue
from gateway.audit.c2sp_note import NoteSigner
from gateway.auth.ratelimit import RateLimiter
from gateway.auth.rfc7009 import RevocationList
from gateway.auth.rfc7523 import InMemoryReplayCache, ReplayCache
from gateway.auth.rfc9449 import DpopNonces
from gateway.auth.signing import TokenSigner
from gateway.auth.store import DatabaseRevocations
from gateway.config import Settings
from gateway.court_requests.service import RequestService
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
    # issue 6: court requests (FHIR Task), their notifications and the access view
    requests: RequestService
    # What open event streams check every moment: their own revocation view (gateway/api/stream_revocation.py)
    stream_revocations: DatabaseRevocations
    # Signs the log's checkpoints and proves inclusion in them (gateway.audit.log_key)
    log_signer: NoteSigner
    # issue 3: DPoP proof jti values (shared with client assertions' store) and optional server nonces
    replay_cache: ReplayCache = field(default_factory=InMemoryReplayCache)
    dpop_nonces: DpopNonces | None = None
    rate_limits: RateLimiter | None = None
    # issue 6: told of each publish inside its transaction (amended / consent-withdrawn notifications)
    on_published: Callable[[Session, str, int, dict[str, Any]], None] | None = None
    # Agencies by code and id, one cache for every use case (gateway.db.agencies)
    agencies: AgencyDirectory = field(default_factory=AgencyDirectory)


def install(app: Starlette, gateway: Gateway) -> None:
    """Keep ``gateway`` on ``app`` for :func:`gateway_of` (the one attribute of ``app.state`` the gateway sets)."""
    app.state.gateway = gateway


def gateway_of_app(app: Starlette) -> Gateway:
    gateway = getattr(app.state, "gateway", None)
    if not isinstance(gateway, Gateway):  # fail closed: an application not built by create_app serves nothing
        raise LookupError("this application has no Gateway context (build it with gateway.app.create_app)")
    return gateway


def gateway_of(request: Request) -> Gateway:
    return gateway_of_app(request.app)

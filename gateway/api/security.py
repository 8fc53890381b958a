"""Authenticating resource requests. Every refusal is logged before the caller hears of it.

:func:`require_access` takes the one ``Authorization`` header, ``Bearer`` or ``DPoP`` (RFC 9449
section 7), validates the access token (RFC 9068), and for a DPoP-bound token (``cnf.jkt``) checks the
request's ``DPoP`` proof: method, URL (the configured issuer plus the request path, never the Host
header), ``ath``, freshness, replay, and that its key is the token's. A bound token sent as
``Bearer``, or a bearer token sent as ``DPoP``, is refused. When the gateway requires DPoP nonces, a
proof without a current one gets 401 ``use_dpop_nonce`` with a ``DPoP-Nonce`` header, unlogged (a step
of the protocol: the client retries at once). Each client is then rate-limited per process (429 with
``Retry-After``; see :mod:`gateway.auth.ratelimit` for how refusals are logged).
"""

from __future__ import annotations

import ipaddress
import time
from dataclasses import replace

from fastapi import Request, Response

from gateway.api.responses import disclosure_response, outcome_response
from gateway.audit.events import AuditEvent
from gateway.auth.deferred_replay import DeferredReplay
from gateway.auth.dependencies import access_token
from gateway.auth.errors import InvalidDpopProof, InvalidToken, OAuthError, UseDpopNonce
from gateway.auth.ratelimit import Limited
from gateway.auth.rfc9068 import AccessContext, validate_access_token
from gateway.auth.rfc9449 import PROOF_ALGORITHMS, verify_proof
from gateway.auth.vocab import Scope
from gateway.context import Gateway, gateway_of
from gateway.fhir import document_bytes, operation_outcome
from gateway.issue import Issue

_DPOP_CHALLENGE = f'DPoP algs="{" ".join(PROOF_ALGORITHMS)}"'


class Refused(Exception):
    """Raised by route helpers; the app turns it into its (already logged) response."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def require_access(
    request: Request,
    scope: Scope = Scope.BUNDLE_READ,
    event: AuditEvent = AuditEvent.BUNDLE_DENIED,
    *,
    replay: DeferredReplay | None = None,
) -> AccessContext:
    """A valid access token (with its DPoP proof when bound) that grants ``scope``; anything else is
    refused and logged.

    With ``replay``, the DPoP proof's replay claim is only recorded there, for the caller to make in its
    own write transaction (:mod:`gateway.auth.deferred_replay`); a refusal here makes it at once.
    """
    ctx = authenticate(request, event, replay=replay)
    if not ctx.allows(scope):
        _claim_now(replay)
        gw = gateway_of(request)
        issue = Issue("forbidden", f"The access token does not grant {scope}.")
        result = gw.disclosures.refuse(
            ctx, event, f"insufficient_scope:{scope}", 403, document_bytes(operation_outcome([issue]))
        )
        scheme_name = "DPoP" if ctx.jkt else "Bearer"
        headers = {"WWW-Authenticate": f'{scheme_name} error="insufficient_scope", scope="{scope}"'}
        raise Refused(disclosure_response(result, headers))
    return ctx


def authenticate(request: Request, event: AuditEvent, *, replay: DeferredReplay | None = None) -> AccessContext:
    """Who is asking: a valid access token, its DPoP proof when bound, within the client's rate limit.
    For routes that decide per request what a token may see (their refusals are logged as ``event``)."""
    gw = gateway_of(request)
    scheme = "bearer"
    try:
        scheme, token = access_token(request)
        ctx = validate_access_token(
            token,
            signing_key=gw.signing_key,
            issuer=gw.settings.issuer,
            audience=gw.settings.resource_audience,
            is_client_active=gw.client_active,
            is_token_revoked=gw.revocations.is_revoked,
        )
        _check_binding(request, gw, scheme, token, ctx, replay)
    except UseDpopNonce:
        nonce = gw.dpop_nonces.issue() if gw.dpop_nonces is not None else ""
        issue = Issue("login", "Retry with the DPoP nonce in the DPoP-Nonce header.")
        headers = {"WWW-Authenticate": f'{_DPOP_CHALLENGE}, error="use_dpop_nonce"', "DPoP-Nonce": nonce}
        raise Refused(outcome_response(401, [issue], headers)) from None
    except (InvalidToken, InvalidDpopProof) as exc:
        raise Refused(_refusal(gw, event, exc, scheme)) from None
    network = network_address(request.client.host if request.client is not None else None)
    if network is not None:
        ctx = replace(ctx, network=network)
    limited = gw.rate_limits.take(ctx.client_id) if gw.rate_limits is not None else None
    if limited is not None:
        _claim_now(replay)
        raise Refused(_rate_limited(gw, ctx, event, limited))
    return ctx


def network_address(host: str | None) -> str | None:
    """The caller's address as the log records it (``network``, the AuditEvent's agent.network): an IP
    address in its normalised form, or nothing. ``request.client.host`` is whatever a trusted proxy's
    ``X-Forwarded-For`` said, unchecked, so free text (a name, a date of birth) would otherwise land in a
    hashed entry that can never be corrected. A zone (``fe80::1%zone``) is free text too: refused."""
    if not host:
        return None
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id is not None:
        return None
    return str(address)


def deferred_replay(request: Request) -> DeferredReplay:
    """A replay claim for the request's DPoP proof, to be made in the route's own write transaction."""
    return DeferredReplay(gateway_of(request).replay_cache)


def replayed_response(request: Request, ctx: AccessContext, event: AuditEvent = AuditEvent.BUNDLE_DENIED) -> Response:
    """The answer to a request whose deferred claim lost (:class:`ProofReplayed`): as any replayed proof."""
    exc = InvalidDpopProof(reason="replayed DPoP proof (jti seen before)", client_id=ctx.client_id)
    return _refusal(gateway_of(request), event, exc, "dpop")


def _claim_now(replay: DeferredReplay | None) -> None:
    # A refused request makes its claim at once, in a transaction of its own, as verify_proof would have.
    if replay is not None:
        for claim in replay.claims:
            replay.store.claim(*claim)
        replay.settle()


def _check_binding(
    request: Request, gw: Gateway, scheme: str, token: str, ctx: AccessContext, replay: DeferredReplay | None = None
) -> None:
    """RFC 9449 section 7: a bound token needs the DPoP scheme and a proof by its key."""
    if ctx.jkt is None:
        if scheme == "dpop":
            raise InvalidToken(reason="DPoP scheme with a token not bound to a key", client_id=ctx.client_id)
        return
    if scheme != "dpop":
        raise InvalidToken(reason="DPoP-bound token sent as a bearer token", client_id=ctx.client_id)
    try:
        proof = verify_proof(
            request.headers.getlist("dpop"),
            method=request.method,
            url=gw.settings.issuer.rstrip("/") + request.url.path,
            replay_cache=gw.replay_cache if replay is None else replay,
            now=time.time(),
            access_token=token,
            nonces=gw.dpop_nonces,
        )
    except (InvalidDpopProof, UseDpopNonce) as exc:
        exc.client_id = ctx.client_id
        raise
    if proof.jkt != ctx.jkt:
        raise InvalidDpopProof(reason="the proof is signed by another key than the token's", client_id=ctx.client_id)


def _rate_limited(gw: Gateway, ctx: AccessContext, event: AuditEvent, limited: Limited) -> Response:
    """429 with Retry-After. Logged (and given a disclosure id) at most once a minute per client: a flood
    must not write one log entry per request (gateway.auth.ratelimit)."""
    issue = Issue("throttled", f"Too many requests; retry after {limited.retry_after} s.")
    headers = {"Retry-After": str(limited.retry_after)}
    if not limited.log:
        return outcome_response(429, [issue], headers)
    unlogged = f" ({limited.unlogged} more refused since the last entry)" if limited.unlogged else ""
    body = document_bytes(operation_outcome([issue]))
    result = gw.disclosures.refuse(ctx, event, f"rate-limited{unlogged}", 429, body)
    return disclosure_response(result, headers)


def _refusal(gw: Gateway, event: AuditEvent, exc: OAuthError, scheme: str) -> Response:
    # The caller learns only that the token or proof is not acceptable; the log keeps the precise reason.
    if isinstance(exc, InvalidDpopProof):
        text = "The DPoP proof is missing or invalid."
        challenge = f'{_DPOP_CHALLENGE}, error="invalid_dpop_proof", error_description="{exc.description}"'
    else:
        text = "The access token is missing, invalid or expired."
        assert isinstance(exc, InvalidToken)
        challenge = exc.www_authenticate
        challenge = challenge.replace("Bearer ", "DPoP ", 1) if scheme == "dpop" else f"{challenge}, {_DPOP_CHALLENGE}"
    body = document_bytes(operation_outcome([Issue("login", text)]))
    result = gw.disclosures.refuse(None, event, f"{exc.error}:{exc.reason}", 401, body, client_id=exc.client_id)
    return disclosure_response(result, {"WWW-Authenticate": challenge})


def require_publisher(request: Request) -> AccessContext:
    """An L&D service client, with a token for the ``ld-service`` purpose."""
    ctx = require_access(request, Scope.ASSESSMENTS_WRITE, AuditEvent.PUBLISH_DENIED)
    if ctx.agency_type == "ld-service" and ctx.purpose == "ld-service":
        return ctx
    gw = gateway_of(request)
    issue = Issue("forbidden", "Only an L&D service may publish assessments.")
    result = gw.disclosures.refuse(
        ctx, AuditEvent.PUBLISH_DENIED, "not-a-publisher", 403, document_bytes(operation_outcome([issue]))
    )
    raise Refused(disclosure_response(result))

"""Authenticating resource requests. Every refusal is logged before the caller hears of it."""

from __future__ import annotations

from fastapi import Request, Response

from gateway.api.context import gateway_of
from gateway.api.responses import disclosure_response
from gateway.audit.events import AuditEvent
from gateway.auth.dependencies import bearer_token
from gateway.auth.errors import InvalidToken
from gateway.auth.rfc9068 import AccessContext, validate_access_token
from gateway.auth.vocab import Scope
from gateway.fhir import document_bytes, operation_outcome


class Refused(Exception):
    """Raised by route helpers; the app turns it into its (already logged) response."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def require_access(
    request: Request, scope: Scope = Scope.BUNDLE_READ, event: AuditEvent = AuditEvent.BUNDLE_DENIED
) -> AccessContext:
    """A valid access token that grants ``scope``; anything else is refused and logged."""
    gw = gateway_of(request)
    try:
        ctx = validate_access_token(
            bearer_token(request),
            signing_key=gw.signing_key,
            issuer=gw.settings.issuer,
            audience=gw.settings.resource_audience,
            is_client_active=gw.client_active,
            is_token_revoked=gw.revocations.is_revoked,
        )
    except InvalidToken as exc:
        # The caller learns only that the token is not acceptable; the log keeps the precise reason.
        issue = ("error", "login", "The access token is missing, invalid or expired.", None)
        body = document_bytes(operation_outcome([issue]))
        result = gw.disclosures.refuse(None, event, f"invalid_token:{exc.reason}", 401, body, client_id=exc.client_id)
        raise Refused(disclosure_response(result, {"WWW-Authenticate": exc.www_authenticate})) from None
    if not ctx.allows(scope):
        issue = ("error", "forbidden", f"The access token does not grant {scope}.", None)
        result = gw.disclosures.refuse(
            ctx, event, f"insufficient_scope:{scope}", 403, document_bytes(operation_outcome([issue]))
        )
        headers = {"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{scope}"'}
        raise Refused(disclosure_response(result, headers))
    return ctx


def require_publisher(request: Request) -> AccessContext:
    """An L&D service client, with a token for the ``ld-service`` purpose."""
    ctx = require_access(request, Scope.ASSESSMENTS_WRITE, AuditEvent.PUBLISH_DENIED)
    if ctx.agency_type == "ld-service" and ctx.purpose == "ld-service":
        return ctx
    gw = gateway_of(request)
    issue = ("error", "forbidden", "Only an L&D service may publish assessments.", None)
    result = gw.disclosures.refuse(
        ctx, AuditEvent.PUBLISH_DENIED, "not-a-publisher", 403, document_bytes(operation_outcome([issue]))
    )
    raise Refused(disclosure_response(result))

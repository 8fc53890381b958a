"""The OpenAPI 3.1 description a partner's developer reads before our code: ``/openapi.json``.

The routes read their query strings and bodies themselves (so that every problem can be reported at
once, as a FHIR OperationOutcome or RFC 6749 JSON), which leaves FastAPI nothing to infer. Each
operation's contract is therefore written in one table (``openapi_operations``) and laid over FastAPI's skeleton here:
parameters, request body (with an example), security requirement and every error it can answer.
A route missing from the table is an error when the description is built, so the description cannot
silently fall behind the routes.

Security (OpenAPI 3.1 section 4.8.27):
- ``DPoP``: ``Authorization: DPoP <token>`` plus a ``DPoP`` proof header (RFC 9449 section 7), the way a
  client registered with ``dpop_required`` (the default) must call;
- ``Bearer``: an unbound token (RFC 6750), only for clients registered without DPoP;
- ``oauth2``: where the tokens come from: the client credentials grant, the client authenticating with
  ``private_key_jwt`` (RFC 7523 section 2.2, a signed JWT in ``client_assertion``). The token endpoint
  itself takes no token: its requirement is empty and its request body carries the assertion.
The scopes an operation needs are listed in its requirement (for ``http`` schemes, OpenAPI 3.1 calls
them roles).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from gateway.api.openapi_components import ANY_TOKEN, components, error_responses
from gateway.api.openapi_operations import DPOP_HEADER, Examples, operations
from gateway.auth.vocab import Scope

__all__ = ["Examples", "describe", "install"]

# ----------------------------------------------------------------------------------------- assembly


def _security(scope: Scope | str | None) -> list[dict[str, list[str]]]:
    if scope is None:
        return []
    roles = [] if scope == ANY_TOKEN else [str(scope)]
    return [{"DPoP": roles}, {"Bearer": roles}]


def describe(app: FastAPI, assessment_schema: dict[str, Any], examples: Examples) -> dict[str, Any]:
    """The whole OpenAPI document. Raises ``LookupError`` naming any route the table does not describe."""
    spec = get_openapi(title=app.title, version=app.version, description=_DESCRIPTION, routes=app.routes)
    table = operations(examples)
    missing = [f"{m.upper()} {p}" for p, ops in spec["paths"].items() for m in ops if (m, p) not in table]
    if missing:
        raise LookupError(f"routes with no OpenAPI description: {', '.join(missing)}")
    for (method, path), op in table.items():
        operation = spec["paths"].get(path, {}).get(method)
        if operation is None:
            continue  # a route this app does not serve
        # FastAPI's own parameters (from Query/Path declarations) stay; the table's add to or replace them.
        named = {(p["in"], p["name"]): p for p in operation.get("parameters", [])}
        named.update({(p["in"], p["name"]): p for p in op.parameters})
        if op.scope is not None:
            named[("header", "DPoP")] = DPOP_HEADER
        parameters = list(named.values())
        operation["summary"] = op.summary
        operation["parameters"] = parameters
        operation.pop("requestBody", None)
        if op.body is not None:
            operation["requestBody"] = op.body
        operation["security"] = _security(op.scope)
        operation["responses"] = {
            **{str(s): r for s, r in op.ok.items()},
            **error_responses(op.errors, op.errors_as),
        }
        operation.update(op.extra)
        if not parameters:
            del operation["parameters"]
    spec.setdefault("components", {}).update(components(assessment_schema))
    spec["components"]["schemas"].pop("HTTPValidationError", None)
    spec["components"]["schemas"].pop("ValidationError", None)
    return spec


_DESCRIPTION = """Secure information sharing for Liaison and Diversion services.

A partner agency's system gets an access token from `POST /oauth2/token` (client credentials; the client
authenticates with a JWT signed by its registered key, `private_key_jwt`; one `purpose_of_use` per token;
a `DPoP` proof header binds the token to a key), then calls the FHIR API with `Authorization: DPoP <token>`
and a fresh `DPoP` proof per request. Every disclosure is logged before it is answered: the
`X-Disclosure-Id` header names the log entry. Errors are FHIR OperationOutcomes (RFC 6749 JSON under
`/oauth2`). A step-by-step guide for a supplier's developer is docs/agency-onboarding.md."""


def install(app: FastAPI, assessment_schema: dict[str, Any], examples: Callable[[], Examples]) -> None:
    """Serve :func:`describe` as ``/openapi.json`` (built once, on first request)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = describe(app, assessment_schema, examples())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

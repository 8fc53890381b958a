"""The OpenAPI 3.1 description a partner's developer reads before our code: ``/openapi.json``.

The routes read their query strings and bodies themselves (so that every problem can be reported at
once, as a FHIR OperationOutcome or RFC 6749 JSON), which leaves FastAPI nothing to infer. Each
operation's contract is therefore written here, in one table, and laid over FastAPI's skeleton:
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

import copy
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from gateway.auth.jwks import DEFAULT_ASSERTION_ALGORITHMS
from gateway.auth.rfc9449 import PROOF_ALGORITHMS
from gateway.auth.vocab import Purpose, Scope
from gateway.court_requests.codes import (
    ASSESSMENT_INFORMATION_REQUEST,
    COURT_CASE_URN,
    REQUEST_TYPE_SYSTEM,
    TASK_INPUT_SYSTEM,
)
from gateway.overrides.validation import BASES as OVERRIDE_BASES

FHIR_JSON = "application/fhir+json"
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
ANY_TOKEN = "any"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
NHS_NUMBER = "https://fhir.nhs.uk/Id/nhs-number"

# ---------------------------------------------------------------------------------------------- errors

#: What the caller reads in each refusal (the texts the routes send; the log keeps the precise reason).
_OUTCOME_TEXT = {
    400: ("invalid", "give exactly one composition.patient.identifier as SYSTEM|VALUE"),
    401: ("login", "The access token is missing, invalid or expired."),
    403: ("forbidden", "The access token does not grant system/Bundle.read."),
    404: ("not-found", "No such resource."),
    409: ("conflict", "The resource was changed by someone else; read it again."),
    411: ("structure", "send Content-Length with the body"),
    412: ("conflict", "If-Match does not name the current version."),
    413: ("too-costly", "request bodies are limited to 1048576 bytes"),
    406: ("not-supported", "only JSON is served (_format=json)"),
    415: ("not-supported", "send an RFC 6902 JSON Patch as application/json-patch+json"),
    422: ("required", "subject.date_of_birth is required"),
    429: ("throttled", "Too many requests; retry after 1 s."),
    503: ("transient", "The gateway could not complete the request."),
}
_STATUS_TEXT = {
    400: "Bad request: every problem is listed",
    401: "No valid access token or DPoP proof (see WWW-Authenticate)",
    403: "The token does not allow this",
    404: "Not found, or not yours to see (the same answer either way)",
    409: "Conflict",
    411: "Length required",
    412: "Precondition failed",
    406: "Not acceptable: only JSON is served",
    413: "Too large",
    415: "Unsupported media type",
    422: "Unprocessable: every problem is listed",
    429: "Rate limited (see Retry-After)",
    503: "The gateway could not complete the request; nothing was disclosed",
}
_OAUTH_ERROR = {
    400: ("invalid_request", "purpose_of_use is missing"),
    401: ("invalid_client", "client authentication failed"),
    411: ("invalid_request", "send Content-Length with the body"),
    413: ("invalid_request", "request bodies are limited to 1048576 bytes"),
    429: ("slow_down", "too many token requests; retry later"),
}


def _outcome_example(status: int) -> dict[str, Any]:
    code, text = _OUTCOME_TEXT[status]
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": text}],
    }


def _outcome_response(status: int) -> dict[str, Any]:
    content = {FHIR_JSON: {"schema": _ref("OperationOutcome"), "example": _outcome_example(status)}}
    return {"description": _STATUS_TEXT[status], "content": content}


def _oauth_response(status: int) -> dict[str, Any]:
    error, text = _OAUTH_ERROR[status]
    example = {"error": error, "error_description": text}
    return {
        "description": _STATUS_TEXT.get(status, "Refused"),
        "content": {JSON: {"schema": _ref("OAuthError"), "example": example}},
    }


def _audit_response(status: int, text: str) -> dict[str, Any]:
    """The audit routes answer their own problems as small JSON, their authentication refusals as FHIR."""
    content: dict[str, Any] = {JSON: {"schema": _ref("AuditError"), "example": {"error": text}}}
    if status in (400, 401, 403, 429):
        content[FHIR_JSON] = {"schema": _ref("OperationOutcome"), "example": _outcome_example(status)}
    return {"description": _STATUS_TEXT[status], "content": content}


# ------------------------------------------------------------------------------------------ the table


@dataclass(frozen=True)
class Op:
    """One operation's contract. ``scope`` None: public (no token); ``ANY_TOKEN``: any valid token."""

    summary: str
    scope: Scope | str | None
    ok: Mapping[int, dict[str, Any]]
    errors: Iterable[int] = ()
    parameters: tuple[dict[str, Any], ...] = ()
    body: dict[str, Any] | None = None
    errors_as: str = "fhir"  # "fhir" | "oauth" | "audit"
    extra: dict[str, Any] = field(default_factory=dict)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _ok(description: str, media: str, schema: dict[str, Any], example: Any = None, **more: Any) -> dict[str, Any]:
    content: dict[str, Any] = {"schema": schema}
    if example is not None:
        content["example"] = example
    return {"description": description, "content": {media: content}, **more}


def _query(name: str, description: str, schema: dict[str, Any] | None = None, **more: Any) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema or {"type": "string"},
        **more,
    }


def _path(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": description, "schema": {"type": "string"}}


def _header(name: str, description: str, **schema: Any) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": False,
        "description": description,
        "schema": {"type": "string", **schema},
    }


DPOP_HEADER = _header(
    "DPoP",
    "The DPoP proof (RFC 9449 section 4) for this request, when the token is DPoP-bound: a JWT signed by "
    "the token's key with htm, htu (the gateway's issuer URL plus the path), iat, jti and ath.",
)
IDEMPOTENCY_HEADER = _header(
    "Idempotency-Key",
    "Optional. A retry with the same key and body answers the first result again (Idempotent-Replayed: true).",
    maxLength=255,
)

SEARCH_PARAMETERS = (
    _query(
        "composition.patient.identifier",
        "The person, as SYSTEM|VALUE (FHIR token search chained through Bundle.composition). NHS number, "
        "PNC ID or a case reference the calling agency holds.",
        example=f"{NHS_NUMBER}|9000000009",
    ),
    _query("patient.identifier", "Alias of composition.patient.identifier.", example=f"{NHS_NUMBER}|9000000009"),
    _query("_count", "Page size (FHIR search); every match fits in one page.", {"type": "integer", "minimum": 0}),
    _query("_format", "Response format: only JSON is served.", {"type": "string", "enum": ["json", FHIR_JSON]}),
)


@dataclass(frozen=True)
class Examples:
    """Request bodies the gateway accepts, shown in the description."""

    assessment: dict[str, Any]
    document: dict[str, Any]


def _table(examples: Examples) -> dict[tuple[str, str], Op]:
    bundle = _ref("Bundle")
    fhir_errors = (400, 401, 403, 429, 503)
    receipt_ok = {
        201: _ok(
            "Stored: a new assessment or a new version",
            JSON,
            _ref("PublishReceipt"),
            {"id": "a1b2c3", "version": 1, "created": True, "changed": True},
        ),
        200: _ok(
            "The same content as the current version: no new version",
            JSON,
            _ref("PublishReceipt"),
            {"id": "a1b2c3", "version": 1, "created": False, "changed": False},
        ),
    }
    json_ok = {200: _ok("OK", JSON, {"type": "object"})}
    return {
        ("post", "/oauth2/token"): Op(
            "Client credentials grant, client authenticated by private_key_jwt (RFC 6749, RFC 7523)",
            None,
            {
                200: _ok(
                    "An access token for one purpose (DPoP-bound when a DPoP header was sent)",
                    JSON,
                    _ref("TokenResponse"),
                    {
                        "access_token": "eyJ...",
                        "token_type": "DPoP",
                        "expires_in": 300,
                        "scope": "system/Bundle.read system/Task.read system/Task.write",
                        "purpose_of_use": "charging",
                    },
                )
            },
            (400, 401, 411, 413, 429),
            (
                _header(
                    "DPoP",
                    "A DPoP proof (RFC 9449 section 4) for this token request: binds the token to "
                    "its key. Required for clients registered with dpop_required (the default).",
                ),
            ),
            {
                "required": True,
                "content": {
                    FORM: {
                        "schema": _ref("TokenRequest"),
                        "example": {
                            "grant_type": "client_credentials",
                            "client_assertion_type": JWT_BEARER,
                            "client_assertion": "eyJhbGciOiJFUzI1NiIsImtpZCI6Ii4uLiJ9...",
                            "purpose_of_use": "charging",
                        },
                    }
                },
            },
            "oauth",
            {
                "x-token-endpoint-auth-methods-supported": ["private_key_jwt"],
                "x-token-endpoint-auth-signing-alg-values-supported": list(DEFAULT_ASSERTION_ALGORITHMS),
            },
        ),
        ("post", "/oauth2/introspect"): Op(
            "Token introspection (RFC 7662); the caller authenticates with private_key_jwt",
            None,
            {
                200: _ok(
                    "Whether the token is active (and its claims when it is)",
                    JSON,
                    {"type": "object"},
                    {"active": False},
                )
            },
            (400, 401, 411, 413),
            body=_client_auth_body("token"),
            errors_as="oauth",
        ),
        ("post", "/oauth2/revoke"): Op(
            "Token revocation (RFC 7009); the caller authenticates with private_key_jwt",
            None,
            {200: {"description": "Revoked (or was not valid: RFC 7009 section 2.2)"}},
            (400, 401, 411, 413),
            body=_client_auth_body("token"),
            errors_as="oauth",
        ),
        ("get", "/.well-known/jwks.json"): Op(
            "The public keys that sign access tokens (RFC 7517)", None, {200: _ok("JWK set", JSON, {"type": "object"})}
        ),
        ("get", "/.well-known/oauth-authorization-server"): Op(
            "Authorization server metadata (RFC 8414), with dpop_signing_alg_values_supported (RFC 9449)",
            None,
            {200: _ok("Metadata", JSON, {"type": "object"})},
        ),
        ("get", "/.well-known/smart-configuration"): Op(
            "SMART Backend Services configuration, with dpop_signing_alg_values_supported (RFC 9449)",
            None,
            {200: _ok("Configuration", JSON, {"type": "object"})},
        ),
        ("post", "/assessments"): Op(
            "An L&D service publishes a canonical assessment (schemas/assessment.schema.json)",
            Scope.ASSESSMENTS_WRITE,
            receipt_ok,
            (*fhir_errors, 411, 413, 422),
            (IDEMPOTENCY_HEADER,),
            {"required": True, "content": {JSON: {"schema": _ref("Assessment"), "example": examples.assessment}}},
        ),
        ("get", "/assessments"): Op(
            "The calling L&D service's assessments about the person a request (Task) names, newest first",
            Scope.ASSESSMENTS_WRITE,
            json_ok,
            (*fhir_errors, 404),
            (_query("task", "The Task id", required=True),),
        ),
        ("get", "/assessments/{assessment_id}/disclosures"): Op(
            "Who received what of one of the caller's assessments (from the disclosure log; no content)",
            Scope.ASSESSMENTS_WRITE,
            json_ok,
            (*fhir_errors, 404),
            (_path("assessment_id", "The assessment id"),),
        ),
        ("post", "/assessments/{assessment_id}/overrides"): Op(
            "An L&D practitioner records a lawful basis to share without consent (reviewed by IG)",
            Scope.ASSESSMENTS_WRITE,
            {201: _ok("Recorded", JSON, {"type": "object"})},
            (*fhir_errors, 404, 411, 413, 422),
            (_path("assessment_id", "The assessment id"),),
            {
                "required": True,
                "content": {
                    JSON: {
                        "schema": _ref("OverrideRequest"),
                        "example": {
                            "basis": "safeguarding",
                            "recipients": ["POL-NE"],
                            "reason": "Immediate risk to life reported at interview.",
                            "recorded_by": "Dr A Practitioner",
                            "expires_at": "2026-12-31T00:00:00Z",
                        },
                    }
                },
            },
        ),
        ("get", "/fhir/metadata"): Op(
            "The CapabilityStatement: exactly what this FHIR server serves",
            None,
            {200: _ok("CapabilityStatement", FHIR_JSON, {"type": "object"})},
            (503,),
        ),
        ("get", "/fhir/Bundle"): Op(
            "Search: the document Bundles about a person that the caller may see, each filtered by policy",
            Scope.BUNDLE_READ,
            {
                200: _ok(
                    "A searchset Bundle of document Bundles (X-Disclosure-Id names the log entries)", FHIR_JSON, bundle
                )
            },
            (*fhir_errors, 404, 406),
            SEARCH_PARAMETERS,
        ),
        ("post", "/fhir/Bundle/_search"): Op(
            "Search by POST (FHIR search, section 3.1.1.1): the same parameters in a form body",
            Scope.BUNDLE_READ,
            {200: _ok("A searchset Bundle of document Bundles", FHIR_JSON, bundle)},
            (*fhir_errors, 404, 406, 411, 413),
            body={
                "required": True,
                "content": {
                    FORM: {
                        "schema": {
                            "type": "object",
                            "properties": {p["name"]: p["schema"] for p in SEARCH_PARAMETERS},
                        },
                        "example": {"composition.patient.identifier": f"{NHS_NUMBER}|9000000009"},
                    }
                },
            },
        ),
        ("get", "/fhir/Bundle/{bundle_id}"): Op(
            "Read one assessment's current document, filtered by policy for the caller's purpose",
            Scope.BUNDLE_READ,
            {200: _ok("A document Bundle", FHIR_JSON, bundle)},
            (*fhir_errors, 404),
            (_path("bundle_id", "The assessment id (Composition.identifier of its documents)"),),
        ),
        ("post", "/fhir/Bundle"): Op(
            "An L&D service publishes an assessment as a FHIR document Bundle (structured entries are read)",
            Scope.ASSESSMENTS_WRITE,
            receipt_ok,
            (*fhir_errors, 411, 413, 422),
            (IDEMPOTENCY_HEADER,),
            {"required": True, "content": {FHIR_JSON: {"schema": bundle, "example": examples.document}}},
        ),
        ("post", "/fhir/Task"): Op(
            "Request assessment information about a person (court staff and other agencies)",
            Scope.TASK_WRITE,
            {201: _ok("The Task as created", FHIR_JSON, _ref("Task"))},
            (*fhir_errors, 404, 411, 413, 422),
            body={"required": True, "content": {FHIR_JSON: {"schema": _ref("Task"), "example": _task_example()}}},
        ),
        ("get", "/fhir/Task"): Op(
            "The caller's requests (as requester or as owner)",
            Scope.TASK_READ,
            {200: _ok("A searchset Bundle of Tasks", FHIR_JSON, bundle)},
            fhir_errors,
            (_query("status", "Task.status; a comma means any of them", example="requested,in-progress"),),
        ),
        ("get", "/fhir/Task/{task_id}"): Op(
            "One request the caller is a party to",
            Scope.TASK_READ,
            {200: _ok("The Task", FHIR_JSON, _ref("Task"))},
            (*fhir_errors, 404),
            (_path("task_id", "The Task id"),),
        ),
        ("patch", "/fhir/Task/{task_id}"): Op(
            "The owning L&D service works the request (RFC 6902 JSON Patch on status, output, note)",
            Scope.TASK_WRITE,
            {200: _ok("The Task after the patch", FHIR_JSON, _ref("Task"))},
            (*fhir_errors, 404, 409, 411, 412, 413, 415, 422),
            (
                _path("task_id", "The Task id"),
                _header("If-Match", 'The version read (ETag, W/"n"): the patch applies only to it'),
            ),
            {
                "required": True,
                "content": {
                    "application/json-patch+json": {
                        "schema": _ref("JsonPatch"),
                        "example": [{"op": "replace", "path": "/status", "value": "in-progress"}],
                    }
                },
            },
        ),
        ("get", "/events"): Op(
            "Server-sent events about the caller's requests (ids and statuses, never personal data)",
            Scope.TASK_READ,
            {
                200: {
                    "description": "An event stream until the token expires",
                    "content": {"text/event-stream": {"schema": {"type": "string"}}},
                }
            },
            (401, 403, 429, 503),
        ),
        ("get", "/healthz"): Op("Liveness", None, {200: _ok("Alive", JSON, {"type": "object"})}),
        ("get", "/readyz"): Op(
            "Readiness (the database answers)",
            None,
            {
                200: _ok("Ready", JSON, {"type": "object"}),
                503: _ok("Not ready", JSON, {"type": "object"}, {"status": "unavailable", "database": "unreachable"}),
            },
        ),
        ("get", "/metrics"): Op(
            "Prometheus metrics, on this port only when GATEWAY_METRICS_TOKEN is set (else 404)",
            None,
            {
                200: {"description": "Metrics", "content": {"text/plain": {"schema": {"type": "string"}}}},
                401: _ok(
                    "No or wrong metrics token", JSON, {"type": "object"}, {"detail": "a bearer token is required"}
                ),
                404: _ok("Metrics are served elsewhere", JSON, {"type": "object"}, {"detail": "Not Found"}),
            },
            extra={"security": [{"metricsToken": []}]},
        ),
        ("get", "/audit/log-key"): Op("The log's checkpoint-signing public key", None, json_ok),
        ("get", "/audit/checkpoints/latest"): Op(
            "The newest signed checkpoint (C2SP signed note)", None, _note_ok(), (404,), errors_as="audit"
        ),
        ("get", "/audit/checkpoints/{size}"): Op(
            "The signed checkpoint at a tree size",
            None,
            _note_ok(),
            (400, 404),
            errors_as="audit",
            parameters=({**_path("size", "Tree size"), "schema": {"type": "integer", "minimum": 0}},),
        ),
        ("get", "/audit/proofs/consistency"): Op(
            "RFC 9162 consistency proof between two checkpointed tree sizes",
            None,
            json_ok,
            (400, 404),
            errors_as="audit",
            parameters=(
                _query("first", "Tree size", {"type": "integer", "minimum": 0}, required=True),
                _query("second", "Tree size", {"type": "integer", "minimum": 0}, required=True),
            ),
        ),
        ("get", "/audit/proofs/inclusion/{disclosure_id}"): Op(
            "RFC 9162 inclusion proof of one entry (its recipient, or audit.read)",
            ANY_TOKEN,
            json_ok,
            (400, 401, 404, 409, 429),
            errors_as="audit",
            parameters=(
                _path("disclosure_id", "The X-Disclosure-Id of the response"),
                _query("tree_size", "A checkpointed tree size (default: newest)", {"type": "integer", "minimum": 1}),
            ),
        ),
        ("get", "/audit/disclosures"): Op(
            "IG query over the disclosure log: JSON pages, or every match as CSV or FHIR AuditEvents",
            Scope.AUDIT_READ,
            json_ok,
            (400, 401, 403, 429),
            errors_as="audit",
        ),
        ("get", "/audit/disclosures/{disclosure_id}"): Op(
            "One log entry: who, when, why, released and withheld fields",
            Scope.AUDIT_READ,
            json_ok,
            (401, 403, 404, 429),
            errors_as="audit",
            parameters=(_path("disclosure_id", "The disclosure id"),),
        ),
        ("get", "/audit/policy-revisions/{revision}"): Op(
            "A stored policy revision whole (files, catalogue ids): what decided every entry naming it",
            ANY_TOKEN,
            json_ok,
            (401, 404, 429),
            errors_as="audit",
            parameters=(_path("revision", "The revision, as a log entry's policy_revision names it (sha256:...)"),),
        ),
        ("get", "/audit/subjects/{nhs_number}/report"): Op(
            "Subject access report: who received what about this person, and the clinician's sign-off",
            Scope.AUDIT_READ,
            json_ok,
            (400, 401, 403, 429),
            errors_as="audit",
            parameters=(
                _path("nhs_number", "The person's NHS number"),
                _query(
                    "event",
                    "Only entries of these events (repeat, or comma-separate), e.g. disclosure:bundle:released",
                    {"type": "array", "items": {"type": "string"}},
                    style="form",
                    explode=True,
                ),
            ),
        ),
        ("post", "/audit/disclosures/_search"): Op(
            "The IG query by POST: the same parameters in a form body, so no NHS number is in a URL",
            Scope.AUDIT_READ,
            json_ok,
            (400, 401, 403, 429),
            errors_as="audit",
            body=_audit_form(
                {
                    "nhs_number": {"type": "string"},
                    "agency": {"type": "string"},
                    "client_id": {"type": "string"},
                    "purpose": {"type": "string"},
                    "outcome": {"type": "string", "enum": ["released", "denied"]},
                    "since": {"type": "string", "format": "date-time"},
                    "until": {"type": "string", "format": "date-time"},
                    "override": {"type": "boolean"},
                    "limit": {"type": "integer", "minimum": 1, "maximum": 500},
                    "cursor": {"type": "integer", "minimum": 0},
                    "format": {"type": "string", "enum": ["json", "csv", "fhir"]},
                },
                {"nhs_number": "9000000009", "outcome": "released"},
            ),
        ),
        ("post", "/audit/subjects/report/_search"): Op(
            "Subject access report by POST: the person (NHS number or PNC ID) in a form body, not in the URL",
            Scope.AUDIT_READ,
            json_ok,
            (400, 401, 403, 429),
            errors_as="audit",
            body=_audit_form(
                {
                    "nhs_number": {"type": "string"},
                    "pnc_id": {"type": "string", "description": "YYYY/NNNNNNNL; give this or nhs_number"},
                    "event": {"type": "string", "description": "Event names, comma-separated"},
                },
                {"nhs_number": "9000000009"},
            ),
        ),
        ("post", "/audit/subjects/report/sign-off"): Op(
            "Record a clinician's serious-harm check of a subject access report before it is released",
            Scope.AUDIT_READ,
            {
                201: _ok(
                    "The sign-off, as the report now shows it",
                    JSON,
                    {"type": "object"},
                    {
                        "id": "3f2b6a1c-8d4e-4f0a-9b7c-2e5d1a0c9f48",
                        "clinician": "Dr A Patel (GMC 1234567)",
                        "decision": "release",
                        "signed_at": "2026-12-06T09:00:00+00:00",
                        "through_seq": 41,
                        "disclosure_id": "5b0f7a1e-2c1d-4d8e-9a43-0c6f2b8d9e10",
                    },
                )
            },
            (400, 401, 403, 404, 429),
            errors_as="audit",
            body=_audit_form(
                {
                    "nhs_number": {"type": "string"},
                    "pnc_id": {"type": "string", "description": "YYYY/NNNNNNNL; give this or nhs_number"},
                    "clinician": {"type": "string", "maxLength": 200, "description": "Name or registration"},
                    "decision": {"type": "string", "enum": ["release", "release-with-redactions", "withhold"]},
                },
                {"nhs_number": "9000000009", "clinician": "Dr A Patel (GMC 1234567)", "decision": "release"},
                required=["clinician", "decision"],
            ),
        ),
    }


def _audit_form(properties: dict[str, Any], example: dict[str, str], **more: Any) -> dict[str, Any]:
    schema = {"type": "object", "properties": properties, **more}
    return {"required": True, "content": {FORM: {"schema": schema, "example": example}}}


def _note_ok() -> dict[int, dict[str, Any]]:
    return {200: {"description": "A signed note", "content": {"text/plain": {"schema": {"type": "string"}}}}}


def _client_auth_body(*names: str) -> dict[str, Any]:
    schema = {
        "type": "object",
        "required": [*names, "client_assertion_type", "client_assertion"],
        "properties": {
            **{n: {"type": "string"} for n in names},
            "token_type_hint": {"type": "string", "enum": ["access_token"]},
            "client_assertion_type": {"type": "string", "enum": [JWT_BEARER]},
            "client_assertion": {"type": "string", "description": "private_key_jwt (RFC 7523 section 2.2)"},
        },
    }
    example = {"token": "eyJ...", "client_assertion_type": JWT_BEARER, "client_assertion": "eyJ..."}
    return {"required": True, "content": {FORM: {"schema": schema, "example": example}}}


def _task_example() -> dict[str, Any]:
    return {
        "resourceType": "Task",
        "status": "requested",
        "intent": "order",
        "priority": "urgent",
        "code": {"coding": [{"system": REQUEST_TYPE_SYSTEM, "code": ASSESSMENT_INFORMATION_REQUEST}]},
        "for": {"identifier": {"system": NHS_NUMBER, "value": "9000000009"}},
        "input": [
            {"type": {"coding": [{"system": TASK_INPUT_SYSTEM, "code": COURT_CASE_URN}]}, "valueString": "01NE0077726"}
        ],
        "restriction": {"period": {"end": "2026-12-07T14:00:00+00:00"}},
        "note": [{"text": "Listed for first appearance this afternoon."}],
    }


# --------------------------------------------------------------------------------------- components


def _components(assessment_schema: dict[str, Any]) -> dict[str, Any]:
    assessment, defs = _hoist(assessment_schema, "Assessment")
    resource = {"type": "object", "required": ["resourceType"], "properties": {"resourceType": {"type": "string"}}}
    schemas: dict[str, Any] = {
        "Assessment": assessment,
        **defs,
        "OperationOutcome": {
            "type": "object",
            "required": ["resourceType", "issue"],
            "properties": {
                "resourceType": {"const": "OperationOutcome"},
                "issue": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["severity", "code"],
                        "properties": {
                            "severity": {"type": "string"},
                            "code": {"type": "string"},
                            "diagnostics": {"type": "string"},
                            "expression": {"type": "array", "items": {"type": "string"}},
                        },
                    },
                },
            },
        },
        "OAuthError": {
            "type": "object",
            "required": ["error"],
            "properties": {"error": {"type": "string"}, "error_description": {"type": "string"}},
        },
        "AuditError": {
            "type": "object",
            "required": ["error"],
            "properties": {"error": {"type": "string"}, "problems": {"type": "array", "items": {"type": "string"}}},
        },
        "Bundle": {
            **resource,
            "properties": {
                "resourceType": {"const": "Bundle"},
                "type": {"type": "string"},
                "entry": {"type": "array", "items": {"type": "object"}},
            },
        },
        "Task": {
            **resource,
            "properties": {
                "resourceType": {"const": "Task"},
                "status": {"type": "string"},
                "intent": {"type": "string"},
            },
        },
        "JsonPatch": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["op", "path"],
                "properties": {
                    "op": {"type": "string", "enum": ["add", "remove", "replace", "move", "copy", "test"]},
                    "path": {"type": "string"},
                    "value": {},
                    "from": {"type": "string"},
                },
            },
        },
        "PublishReceipt": {
            "type": "object",
            "required": ["id", "version"],
            "properties": {
                "id": {"type": "string"},
                "version": {"type": "integer"},
                "created": {"type": "boolean"},
                "changed": {"type": "boolean"},
                "outcome": {
                    "description": (
                        "Present when the publish was accepted with warnings: an OperationOutcome whose issues "
                        "(severity warning) name, by JSON Pointer, each text bound for police or the CPS that "
                        "appears to contain a diagnostic term. The text and the term are never repeated."
                    ),
                    "allOf": [_ref("OperationOutcome")],
                },
            },
        },
        "OverrideRequest": {
            "type": "object",
            "required": ["basis", "reason", "recipients", "expires_at", "recorded_by"],
            "properties": {
                "basis": {"type": "string", "enum": list(OVERRIDE_BASES)},
                "reason": {"type": "string", "maxLength": 2000},
                "recipients": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 20},
                "expires_at": {
                    "type": "string",
                    "format": "date-time",
                    "description": "At most 30 days ahead; an emergency at most 72 hours",
                },
                "recorded_by": {"type": "string", "maxLength": 200},
            },
        },
        "TokenRequest": {
            "type": "object",
            "required": ["grant_type", "client_assertion_type", "client_assertion", "purpose_of_use"],
            "properties": {
                "grant_type": {"type": "string", "enum": ["client_credentials"]},
                "client_assertion_type": {"type": "string", "enum": [JWT_BEARER]},
                "client_assertion": {
                    "type": "string",
                    "description": "A JWT signed by the client's registered key (RFC 7523 section 3): iss = sub = "
                    "client_id, aud = the token endpoint, a unique jti, exp at most 5 minutes ahead. alg one of "
                    + ", ".join(DEFAULT_ASSERTION_ALGORITHMS),
                },
                "purpose_of_use": {"type": "string", "enum": [p.value for p in Purpose]},
                "scope": {"type": "string", "description": "Space-separated; default: every scope of the purpose"},
            },
        },
        "TokenResponse": {
            "type": "object",
            "required": ["access_token", "token_type", "expires_in"],
            "properties": {
                "access_token": {"type": "string"},
                "token_type": {"type": "string", "enum": ["DPoP", "Bearer"]},
                "expires_in": {"type": "integer"},
                "scope": {"type": "string"},
                "purpose_of_use": {"type": "string"},
            },
        },
    }
    return {"schemas": schemas, "securitySchemes": _security_schemes()}


def _security_schemes() -> dict[str, Any]:
    return {
        "DPoP": {
            "type": "http",
            "scheme": "DPoP",
            "description": "A DPoP-bound access token (RFC 9449 section 7.1): `Authorization: DPoP <token>` "
            "with a `DPoP` proof header signed by the bound key (alg one of "
            + ", ".join(PROOF_ALGORITHMS)
            + "). The default for registered clients.",
        },
        "Bearer": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT (RFC 9068)",
            "description": "An unbound access token, only for clients registered without DPoP.",
        },
        "metricsToken": {
            "type": "http",
            "scheme": "bearer",
            "description": "The operator's GATEWAY_METRICS_TOKEN (not an OAuth token).",
        },
        "oauth2": {
            "type": "oauth2",
            "description": "Tokens come from the client credentials grant; the client authenticates with "
            "private_key_jwt (RFC 7523 section 2.2) and names one purpose_of_use. Send a DPoP header to the "
            "token endpoint to get a DPoP-bound token.",
            "flows": {
                "clientCredentials": {
                    "tokenUrl": "/oauth2/token",
                    "scopes": {
                        Scope.BUNDLE_READ.value: "read the document bundles the policy releases",
                        Scope.TASK_READ.value: "read requests",
                        Scope.TASK_WRITE.value: "make and work requests",
                        Scope.ASSESSMENTS_WRITE.value: "publish assessments (L&D services)",
                        Scope.AUDIT_READ.value: "query the disclosure log (L&D services, IG)",
                    },
                }
            },
        },
    }


def _hoist(schema: dict[str, Any], name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A JSON Schema document as OpenAPI components: its ``$defs`` become ``<name>.<def>`` schemas and
    its local references follow them, so that every OpenAPI tool resolves them from the document root."""
    schema = copy.deepcopy(schema)
    defs = schema.pop("$defs", {})
    for key in ("$schema", "$id"):
        schema.pop(key, None)

    def fix(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                node = {**node, "$ref": f"#/components/schemas/{name}.{ref.removeprefix('#/$defs/')}"}
            return {k: fix(v) for k, v in node.items()}
        if isinstance(node, list):
            return [fix(v) for v in node]
        return node

    return fix(schema), {f"{name}.{k}": fix(v) for k, v in defs.items()}


# ----------------------------------------------------------------------------------------- assembly


def _security(scope: Scope | str | None) -> list[dict[str, list[str]]]:
    if scope is None:
        return []
    roles = [] if scope == ANY_TOKEN else [str(scope)]
    return [{"DPoP": roles}, {"Bearer": roles}]


def _errors(op: Op) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for status in op.errors:
        if op.errors_as == "oauth":
            out[str(status)] = _oauth_response(status)
        elif op.errors_as == "audit":
            out[str(status)] = _audit_response(status, _STATUS_TEXT[status].split(":")[0].lower())
        else:
            out[str(status)] = _outcome_response(status)
    return out


def describe(app: FastAPI, assessment_schema: dict[str, Any], examples: Examples) -> dict[str, Any]:
    """The whole OpenAPI document. Raises ``LookupError`` naming any route the table does not describe."""
    spec = get_openapi(title=app.title, version=app.version, description=_DESCRIPTION, routes=app.routes)
    table = _table(examples)
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
            **_errors(op),
        }
        operation.update(op.extra)
        if not parameters:
            del operation["parameters"]
    spec.setdefault("components", {}).update(_components(assessment_schema))
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

"""Every operation's contract, in one table (gateway/api/openapi.py lays it over FastAPI's skeleton).

Why one module of over 400 lines: the table is data, one entry per route, read top to bottom by whoever
reviews what the API promises (parameters, body and example, scope, every error). Split by route family,
the check that no route is missing would have to gather it back together.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway.api.openapi_components import ANY_TOKEN, FHIR_JSON, FORM, JSON, JWT_BEARER, NHS_NUMBER, ref
from gateway.auth.vocab import DEFAULT_ASSERTION_ALGORITHMS, Scope
from gateway.court_requests.codes import (
    ASSESSMENT_INFORMATION_REQUEST,
    COURT_CASE_URN,
    REQUEST_TYPE_SYSTEM,
    TASK_INPUT_SYSTEM,
)

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


def operations(examples: Examples) -> dict[tuple[str, str], Op]:
    bundle = ref("Bundle")
    fhir_errors = (400, 401, 403, 429, 503)
    receipt_ok = {
        201: _ok(
            "Stored: a new assessment or a new version",
            JSON,
            ref("PublishReceipt"),
            {"id": "a1b2c3", "version": 1, "created": True, "changed": True},
        ),
        200: _ok(
            "The same content as the current version: no new version",
            JSON,
            ref("PublishReceipt"),
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
                    ref("TokenResponse"),
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
                        "schema": ref("TokenRequest"),
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
            {"required": True, "content": {JSON: {"schema": ref("Assessment"), "example": examples.assessment}}},
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
                        "schema": ref("OverrideRequest"),
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
            {201: _ok("The Task as created", FHIR_JSON, ref("Task"))},
            (*fhir_errors, 404, 411, 413, 422),
            body={"required": True, "content": {FHIR_JSON: {"schema": ref("Task"), "example": _task_example()}}},
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
            {200: _ok("The Task", FHIR_JSON, ref("Task"))},
            (*fhir_errors, 404),
            (_path("task_id", "The Task id"),),
        ),
        ("patch", "/fhir/Task/{task_id}"): Op(
            "The owning L&D service works the request (RFC 6902 JSON Patch on status, output, note)",
            Scope.TASK_WRITE,
            {200: _ok("The Task after the patch", FHIR_JSON, ref("Task"))},
            (*fhir_errors, 404, 409, 411, 412, 413, 415, 422),
            (
                _path("task_id", "The Task id"),
                _header("If-Match", 'The version read (ETag, W/"n"): the patch applies only to it'),
            ),
            {
                "required": True,
                "content": {
                    "application/json-patch+json": {
                        "schema": ref("JsonPatch"),
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
            Scope.AUDIT_WRITE,
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

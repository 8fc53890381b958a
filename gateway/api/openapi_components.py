"""The reusable parts of the OpenAPI description (gateway/api/openapi.py): media types, the error
responses every operation can answer, the component schemas and the security schemes."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from gateway.auth.rfc9449 import PROOF_ALGORITHMS
from gateway.auth.vocab import DEFAULT_ASSERTION_ALGORITHMS, Purpose, Scope
from gateway.overrides.validation import BASES as OVERRIDE_BASES

FHIR_JSON = "application/fhir+json"
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
ANY_TOKEN = "any"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
NHS_NUMBER = "https://fhir.nhs.uk/Id/nhs-number"


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


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
    content = {FHIR_JSON: {"schema": ref("OperationOutcome"), "example": _outcome_example(status)}}
    return {"description": _STATUS_TEXT[status], "content": content}


def _oauth_response(status: int) -> dict[str, Any]:
    error, text = _OAUTH_ERROR[status]
    example = {"error": error, "error_description": text}
    return {
        "description": _STATUS_TEXT.get(status, "Refused"),
        "content": {JSON: {"schema": ref("OAuthError"), "example": example}},
    }


def _audit_response(status: int, text: str) -> dict[str, Any]:
    """The audit routes answer their own problems as small JSON, their authentication refusals as FHIR."""
    content: dict[str, Any] = {JSON: {"schema": ref("AuditError"), "example": {"error": text}}}
    if status in (400, 401, 403, 429):
        content[FHIR_JSON] = {"schema": ref("OperationOutcome"), "example": _outcome_example(status)}
    return {"description": _STATUS_TEXT[status], "content": content}


def error_responses(statuses: Iterable[int], errors_as: str) -> dict[str, Any]:
    """The responses for an operation's error statuses, in the shape its routes answer them."""
    out: dict[str, Any] = {}
    for status in statuses:
        if errors_as == "oauth":
            out[str(status)] = _oauth_response(status)
        elif errors_as == "audit":
            out[str(status)] = _audit_response(status, _STATUS_TEXT[status].split(":")[0].lower())
        else:
            out[str(status)] = _outcome_response(status)
    return out


# --------------------------------------------------------------------------------------- components


def components(assessment_schema: dict[str, Any]) -> dict[str, Any]:
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
                    "allOf": [ref("OperationOutcome")],
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
                        Scope.AUDIT_WRITE.value: "sign off subject access reports (L&D services)",
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

"""/openapi.json: what a supplier's developer reads first. Every operation declares its parameters,
request body (with an example), security and error responses; the examples are the real thing (the
gateway accepts them); the metadata documents advertise DPoP and the default algorithms."""

from __future__ import annotations

from typing import Any

import pytest
from fhir.resources.R4B.operationoutcome import OperationOutcome

from gateway.api.openapi_components import JWT_BEARER
from gateway.auth.rfc9449 import PROOF_ALGORITHMS
from gateway.auth.vocab import DEFAULT_ASSERTION_ALGORITHMS

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

FHIR_JSON = "application/fhir+json"
#: Operations that take no input and need no token: they answer 200 (or readiness's 503) and nothing else.
NO_INPUT = {
    ("get", "/.well-known/jwks.json"),
    ("get", "/.well-known/oauth-authorization-server"),
    ("get", "/.well-known/smart-configuration"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/audit/log-key"),
    ("get", "/fhir/metadata"),
}


@pytest.fixture
def spec(gateway) -> dict[str, Any]:
    response = gateway.http.get("/openapi.json")
    assert response.status_code == 200
    return response.json()


def operations(spec: dict[str, Any]):
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            yield method, path, op


def test_every_operation_declares_security_parameters_bodies_and_errors(spec):
    schemes = spec["components"]["securitySchemes"]
    assert schemes["DPoP"] == {**schemes["DPoP"], "type": "http", "scheme": "DPoP"}
    assert schemes["oauth2"]["flows"]["clientCredentials"]["tokenUrl"] == "/oauth2/token"
    seen = 0
    for method, path, op in operations(spec):
        seen += 1
        where = f"{method.upper()} {path}"
        assert op.get("summary"), where
        assert "security" in op, f"{where}: no security requirement (not even an empty one)"
        for name in (part[1:-1] for part in path.split("/") if part.startswith("{")):
            assert any(p["in"] == "path" and p["name"] == name for p in op.get("parameters", [])), (where, name)
        if method in ("post", "patch"):
            body = op.get("requestBody")
            assert body and body.get("required"), f"{where}: no request body"
            assert all("schema" in media for media in body["content"].values()), where
            assert any("example" in media for media in body["content"].values()), f"{where}: no example body"
        errors = {s: r for s, r in op["responses"].items() if s.startswith(("4", "5"))}
        if (method, path) not in NO_INPUT:
            assert any(s.startswith("4") for s in errors), f"{where}: no error responses"
        assert "422" not in errors or "HTTPValidationError" not in str(errors["422"]), where
        for status, response in errors.items():
            for media, content in response.get("content", {}).items():
                assert "example" in content, (where, status, media)
                if media == FHIR_JSON:
                    OperationOutcome.model_validate(content["example"])
        if op["security"]:
            if (method, path) == ("get", "/metrics"):
                continue  # the operator's own token, not an OAuth one
            assert {"DPoP", "Bearer"} == {name for req in op["security"] for name in req}, where
            assert "401" in errors, f"{where}: takes a token but declares no 401"
            assert any(p["in"] == "header" and p["name"] == "DPoP" for p in op["parameters"]), where
    assert seen >= 25
    assert "HTTPValidationError" not in spec["components"]["schemas"]


def test_token_endpoint_is_private_key_jwt(spec):
    op = spec["paths"]["/oauth2/token"]["post"]
    assert op["security"] == []  # no token to get a token: the client authenticates in the body
    assert op["x-token-endpoint-auth-methods-supported"] == ["private_key_jwt"]
    form = op["requestBody"]["content"]["application/x-www-form-urlencoded"]
    schema = spec["components"]["schemas"]["TokenRequest"]
    assert form["schema"] == {"$ref": "#/components/schemas/TokenRequest"}
    assert schema["properties"]["client_assertion_type"]["enum"] == [JWT_BEARER]
    assert {"grant_type", "client_assertion", "purpose_of_use"} <= set(schema["required"])
    assert all(o["content"].get("application/json") for s, o in op["responses"].items() if s.startswith("4"))


def test_scopes_are_named_per_operation(spec):
    def roles(method, path):
        return {tuple(v) for req in spec["paths"][path][method]["security"] for v in req.values()}

    assert roles("get", "/fhir/Bundle") == {("system/Bundle.read",)}
    assert roles("post", "/assessments") == {("assessments.write",)}
    assert roles("patch", "/fhir/Task/{task_id}") == {("system/Task.write",)}
    assert roles("get", "/audit/disclosures") == {("audit.read",)}
    assert roles("post", "/audit/subjects/report/sign-off") == {("audit.write",)}
    assert spec["paths"]["/fhir/metadata"]["get"]["security"] == []


def test_bundle_search_parameters_are_declared(spec):
    names = {p["name"] for p in spec["paths"]["/fhir/Bundle"]["get"]["parameters"]}
    assert {"composition.patient.identifier", "patient.identifier", "_count", "_format"} <= names
    assert {p["name"] for p in spec["paths"]["/fhir/Task"]["get"]["parameters"]} >= {"status"}


def test_the_assessment_schema_resolves_from_the_document_root(spec):
    schemas = spec["components"]["schemas"]
    assert "$defs" not in schemas["Assessment"]

    def refs(node):
        if isinstance(node, dict):
            if "$ref" in node:
                yield node["$ref"]
            for value in node.values():
                yield from refs(value)
        elif isinstance(node, list):
            for value in node:
                yield from refs(value)

    for ref in refs(spec):
        assert ref.startswith("#/components/schemas/") and ref.split("/")[-1] in schemas, ref


def test_publish_example_is_accepted(gateway, spec):
    example = spec["paths"]["/assessments"]["post"]["requestBody"]["content"]["application/json"]["example"]
    response = gateway.http.post("/assessments", json=example, auth=gateway.auth("LD-NE", "ld-service"))
    assert response.status_code in (200, 201), response.text


def test_metadata_advertises_dpop_and_the_default_algorithms(gateway):
    for path in ("/.well-known/smart-configuration", "/.well-known/oauth-authorization-server"):
        body = gateway.http.get(path).json()
        assert body["dpop_signing_alg_values_supported"] == list(PROOF_ALGORITHMS), path
        assert body["token_endpoint_auth_signing_alg_values_supported"] == list(DEFAULT_ASSERTION_ALGORITHMS), path
        assert body["token_endpoint_auth_methods_supported"] == ["private_key_jwt"], path


def test_document_example_is_accepted(gateway, spec):
    example = spec["paths"]["/fhir/Bundle"]["post"]["requestBody"]["content"][FHIR_JSON]["example"]
    response = gateway.http.post(
        "/fhir/Bundle", json=example, auth=gateway.auth("LD-NE", "ld-service"), headers={"Content-Type": FHIR_JSON}
    )
    assert response.status_code in (200, 201), response.text

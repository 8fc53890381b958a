"""Bad input is never a 5xx: a property test over every route of the app (the IG pages included).

Attacks, and what holds them:
- lone surrogates (JSON ``\\ud800`` escapes) in any JSON field or key, including deep inside an
  otherwise valid assessment or Task that would reach the database: 400 OperationOutcome naming each
  place (gateway/api/json_body.py, gateway/json_text.py);
- lone surrogates in the claims of a client assertion, an access token or a DPoP proof: refused as
  malformed (401/400), never stored;
- integers past int64 (and negative) in every parameter, path or query: 400;
- IG error pages (bad parameters, unknown pages, failures) carry the IG security headers.
Each example goes out with the token of the agency that can reach furthest into the route.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
import pytest
from fhir.resources.R4B.operationoutcome import OperationOutcome
from hypothesis import HealthCheck, given, settings
from starlette.routing import Mount, Route

from tests.court_requests.conftest import other_person, task_body
from tests.ig.conftest import StaffBrowser, add_staff
from tests.security.conftest import SecurityGateway

INT64_MAX = 2**63 - 1
BIG = [str(INT64_MAX + 1), str(2**64), "9" * 40, "-1", str(-(2**63) - 1)]
SURROGATES = st.text(alphabet=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=3)
TEXT = st.one_of(SURROGATES, st.text(max_size=5).map(lambda t: t + "\udc80"))
INT_PARAMS = ("cursor", "before", "limit", "tree_size", "first", "second", "size", "_count", "version")


@pytest.fixture(scope="module")
def gateway(gateway_on_each_database: SecurityGateway) -> SecurityGateway:
    return gateway_on_each_database


def routes(app: Any, prefix: str = "") -> list[tuple[str, str]]:
    """Every (method, path) of an app: its routes, included routers (FastAPI wraps them) and mounts."""
    found = []
    for route in getattr(app, "routes", ()):
        if isinstance(route, Mount):
            found += routes(route.app, prefix + route.path)
        elif hasattr(route, "original_router"):
            found += routes(route.original_router, prefix + route.include_context.prefix)
        elif isinstance(route, Route) and route.methods:
            found += [(method, prefix + route.path) for method in sorted(route.methods - {"HEAD"})]
    return found


def fill(path: str, value: str) -> str:
    return re.sub(r"\{[^}]+\}", value, path)


def with_surrogate_at(document: Any, draw: Any) -> Any:
    """The document with one string (or key) somewhere replaced by one holding a lone surrogate."""
    document = copy.deepcopy(document)
    places: list[tuple[Any, Any]] = []
    stack = [document]
    while stack:
        item = stack.pop()
        children = item.items() if isinstance(item, dict) else enumerate(item) if isinstance(item, list) else ()
        for key, child in list(children):
            if isinstance(child, str):
                places.append((item, key))
            stack.append(child)
    parent, key = draw(st.sampled_from(places))
    if isinstance(parent, dict) and draw(st.booleans()):
        parent[key + draw(TEXT)] = parent.pop(key)
    else:
        parent[key] = parent[key] + draw(TEXT)
    return document


@st.composite
def json_bodies(draw: Any) -> bytes:
    kind = draw(st.sampled_from(["assessment", "task", "random", "bigint"]))
    if kind == "assessment":
        value = with_surrogate_at(other_person(), draw)
    elif kind == "task":
        value = with_surrogate_at(task_body(), draw)
    elif kind == "bigint":
        value = {draw(st.sampled_from(INT_PARAMS)): int(draw(st.sampled_from(BIG)))}
    else:
        value = draw(
            st.recursive(
                st.one_of(TEXT, st.integers(), st.none()),
                lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(TEXT, inner, max_size=3)),
                max_leaves=6,
            )
        )
    return json.dumps(value, ensure_ascii=True).encode()  # valid JSON text: the surrogates are \u escapes


@st.composite
def requests(draw: Any, table: list[tuple[str, str]]) -> tuple[str, str, dict[str, str], bytes | None]:
    method, path = draw(st.sampled_from(table))
    url = fill(path, draw(st.sampled_from([*BIG, "x"])))
    names = draw(st.lists(st.sampled_from(INT_PARAMS), max_size=3, unique=True))
    query = "&".join(f"{n}={draw(st.sampled_from(BIG))}" for n in names)
    url = url + ("?" + query if query else "")
    body = draw(json_bodies()) if method in ("POST", "PATCH", "PUT") else None
    return method, url, {"Content-Type": "application/json"} if body is not None else {}, body


def check(method: str, url: str, response: Any) -> None:
    assert response.status_code < 500, f"{method} {url}: {response.status_code} {response.text[:300]}"
    if url.startswith("/ig"):
        assert response.headers.get("content-security-policy", "").startswith("default-src 'none'"), url
        assert response.headers.get("x-frame-options") == "DENY", url
        return
    if 400 <= response.status_code < 500 and url.startswith(("/fhir", "/assessments", "/audit")):
        if response.headers["content-type"].startswith("application/fhir+json"):
            assert OperationOutcome.model_validate_json(response.content).issue
        else:
            assert "resourceType" in response.json() or "error" in response.json(), url


def test_every_route_answers_bad_input_with_a_4xx(gateway: SecurityGateway, tmp_path: Path) -> None:
    table = [(m, p) for m, p in routes(gateway.app) if not p.startswith(("/docs", "/redoc", "/openapi"))]
    table = [(m, p) for m, p in table if p != "/events"]  # a stream (tested in tests/e2e/test_stream_revocation)
    assert len(table) > 40  # the whole app, the IG pages included
    tokens = {
        "ld": gateway.bearer("LD-NE", "ld-service"),
        "court": gateway.bearer("MC-NE", "case-management"),
        "police": gateway.bearer("POL-NE", "charging"),
    }
    add_staff(gateway.sessions, "sweeper", "ig-admin")
    staff = StaffBrowser(gateway.app)
    assert staff.sign_in("sweeper").status_code == 303
    seen: set[str] = set()

    @settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(requests(table), st.sampled_from(sorted(tokens)))
    def sweep(request: tuple[str, str, dict[str, str], bytes | None], who: str) -> None:
        method, url, headers, body = request
        if url.startswith("/ig"):
            response = staff.request(method, url, content=body, headers=headers)
        else:
            response = gateway.http.request(method, url, content=body, headers={**headers, **tokens[who]})
        check(method, url, response)
        seen.add(url.split("?")[0])

    sweep()
    assert len(seen) > 20


@pytest.mark.parametrize(
    "route,token",
    [("/assessments", "ld"), ("/fhir/Bundle", "ld"), ("/fhir/Task", "court")],
)
def test_a_lone_surrogate_deep_in_a_valid_document_is_a_400_naming_the_place(gateway, route, token):
    headers = {
        "ld": gateway.bearer("LD-NE", "ld-service"),
        "court": gateway.bearer("MC-NE", "case-management"),
    }[token]
    document: dict[str, Any] = task_body() if route == "/fhir/Task" else other_person()
    if route == "/fhir/Task":
        document["input"][0]["valueString"] += "\ud83d"
    else:
        document["subject"]["family_name"] = document["subject"].get("family_name", "X") + "\udfff"
    body = json.dumps(document, ensure_ascii=True).encode()
    response = gateway.http.post(route, content=body, headers={**headers, "Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    outcome = OperationOutcome.model_validate_json(response.content)
    assert any("lone surrogate" in (issue.diagnostics or "") for issue in outcome.issue)


def test_integers_past_int64_in_every_paging_parameter_are_400s(gateway):
    police = gateway.bearer("POL-NE", "charging")
    for url in (
        f"/audit/disclosures?cursor={INT64_MAX + 1}",
        f"/audit/proofs/inclusion/x?tree_size={INT64_MAX + 1}",
        f"/audit/checkpoints/{INT64_MAX + 1}",
        f"/audit/proofs/consistency?first=0&second={INT64_MAX + 1}",
    ):
        response = gateway.http.get(url, headers=police)
        assert response.status_code == 400, (url, response.status_code, response.text[:200])

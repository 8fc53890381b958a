"""Body size limits (413, 411) on every route that takes a body, and the error contract on /oauth2.

Nothing of a refused body is stored: the assessment count does not move.
"""

from __future__ import annotations

import json

import pytest
from fhir.resources.R4B.operationoutcome import OperationOutcome
from sqlalchemy import func, select

from gateway.db.models import Assessment
from tests.factories import example

BODY_ROUTES = [("/assessments", "application/json"), ("/fhir/Bundle", "application/fhir+json")]


def assessments(gw) -> int:
    with gw.sessions() as session:
        return session.execute(select(func.count()).select_from(Assessment)).scalar_one()


@pytest.mark.parametrize(("path", "media_type"), BODY_ROUTES)
def test_oversized_bodies_are_refused_with_413_and_nothing_stored(security_gateway, path, media_type):
    gw = security_gateway
    limit = gw.settings.max_body_bytes
    document = example("adult.json")
    document["vulnerability_summary"] = "x" * (limit + 1)
    before = assessments(gw)
    headers = {**gw.bearer("LD-NE", "ld-service"), "Content-Type": media_type}
    response = gw.http.post(path, content=json.dumps(document).encode(), headers=headers)
    assert response.status_code == 413, response.text[:300]
    assert OperationOutcome.model_validate_json(response.content).issue[0].code == "too-costly"
    assert assessments(gw) == before


@pytest.mark.parametrize(("path", "media_type"), BODY_ROUTES)
def test_bodies_without_a_length_are_refused_with_411(security_gateway, path, media_type):
    gw = security_gateway

    async def chunks():
        yield b'{"resourceType": '
        yield b'"Bundle"}'

    headers = {**gw.bearer("LD-NE", "ld-service"), "Content-Type": media_type}
    response = gw.http.post(path, content=chunks(), headers=headers)
    assert response.status_code == 411, response.text[:300]
    assert OperationOutcome.model_validate_json(response.content).issue


def test_a_body_just_under_the_limit_is_read(security_gateway):
    """The limit is the setting, not something smaller: a large but allowed body reaches validation."""
    gw = security_gateway
    body = b'{"padding": "' + b"x" * (gw.settings.max_body_bytes - 100) + b'"}'
    headers = {**gw.bearer("LD-NE", "ld-service"), "Content-Type": "application/json"}
    response = gw.http.post("/assessments", content=body, headers=headers)
    assert response.status_code == 422, response.text[:300]


def test_every_4xx_under_oauth2_is_rfc6749_json(security_gateway):
    gw = security_gateway
    answers = [
        gw.http.get("/oauth2/token"),
        gw.http.request("PUT", "/oauth2/token"),
        gw.http.get("/oauth2/no-such-endpoint"),
        gw.http.post(
            "/oauth2/token",
            content=b"x" * (gw.settings.max_body_bytes + 1),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        ),
    ]
    for response in answers:
        assert 400 <= response.status_code < 500
        assert response.headers["content-type"].startswith("application/json"), response.text
        assert isinstance(response.json().get("error"), str)

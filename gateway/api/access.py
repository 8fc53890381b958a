"""``GET /assessments/{id}/disclosures``: who saw what of one assessment, for the L&D service that published it.

Built from the disclosure log (its released and refused entries for the assessment): agency, purpose,
version, time, the field ids released and how many were withheld. No content, and no personal data.
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from gateway.api.responses import fhir_response, outcome_response
from gateway.api.security import require_publisher
from gateway.issue import Issue

router = APIRouter(tags=["requests"])


@router.get("/assessments")
def candidates(task: str, request: Request) -> Response:
    """``GET /assessments?task=ID``: the caller's assessments about a request's person, newest first."""
    ctx = require_publisher(request)
    result = request.app.state.requests.candidates(ctx, task)
    if result.status >= 400:  # a refusal's body is an OperationOutcome
        return fhir_response(result.status, json.dumps(result.body).encode("utf-8"), result.headers)
    return JSONResponse(result.body, status_code=result.status, headers={"Cache-Control": "no-store", **result.headers})


@router.get("/assessments/{assessment_id}/disclosures")
def who_saw(assessment_id: str, request: Request) -> Response:
    ctx = require_publisher(request)
    seen = request.app.state.requests.who_saw(ctx, assessment_id)
    if seen is None:
        return outcome_response(404, [Issue("not-found", "No assessment of yours has this id.")])
    return JSONResponse(
        {"assessment": assessment_id, "disclosures": seen, "count": len(seen)}, headers={"Cache-Control": "no-store"}
    )

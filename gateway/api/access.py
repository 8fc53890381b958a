"""``GET /assessments/{id}/disclosures``: who saw what of one assessment, for the L&D service that published it.

Built from the disclosure log (its released and refused entries for the assessment): agency, purpose,
version, time, the field ids released and how many were withheld. No content, and no personal data.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from gateway.api.responses import outcome_response
from gateway.api.security import require_publisher
from gateway.api.tasks import denied_response, requests_of
from gateway.court_requests.results import Denied
from gateway.issue import Issue

router = APIRouter(tags=["requests"])


@router.get("/assessments")
def candidates(task: str, request: Request) -> Response:
    """``GET /assessments?task=ID``: the caller's assessments about a request's person, newest first."""
    ctx = require_publisher(request)
    result = requests_of(request).candidates(ctx, task)
    if isinstance(result, Denied):  # answered as every refused request call is: an OperationOutcome
        return denied_response(result)
    return JSONResponse(result.body, headers={"Cache-Control": "no-store", **result.headers})


@router.get("/assessments/{assessment_id}/disclosures")
def who_saw(assessment_id: str, request: Request) -> Response:
    ctx = require_publisher(request)
    seen = requests_of(request).who_saw(ctx, assessment_id)
    if seen is None:
        return outcome_response(404, [Issue("not-found", "No assessment of yours has this id.")])
    return JSONResponse(
        {"assessment": assessment_id, "disclosures": seen, "count": len(seen)}, headers={"Cache-Control": "no-store"}
    )

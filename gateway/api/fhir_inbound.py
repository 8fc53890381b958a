"""``POST /fhir/Bundle``: an L&D service publishes an assessment as a FHIR R4 document.

The document is checked against the R4B models, mapped from its structured entries to the canonical
assessment by :func:`gateway.fhir.inbound.map_document` (which refuses, naming each element, whatever
it does not understand), and then validated and stored exactly as ``POST /assessments`` would. The
profile a supplier follows is docs/fhir-inbound.md.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from gateway.api.assessments import Idempotency, off_the_loop, publish_canonical
from gateway.api.responses import outcome_response
from gateway.assessments.validation import validate_assessment
from gateway.auth.rfc9068 import AccessContext
from gateway.context import gateway_of
from gateway.fhir.inbound import InboundError, map_document
from gateway.fhir.inbound.locate import locate, overlaps
from gateway.issue import Issue

router = APIRouter(prefix="/fhir", tags=["fhir"])


@router.post("/Bundle", status_code=201)
async def publish_document(request: Request) -> Response:
    return await off_the_loop(request, _publish_document)


def _publish_document(request: Request, ctx: AccessContext, raw: bytes) -> Response:
    gw = gateway_of(request)
    idem = Idempotency(gw, request, ctx, raw)
    data, answer = idem.parse(raw)
    if answer is not None:
        return answer
    try:
        inbound = map_document(data)
    except InboundError as exc:
        return outcome_response(422, [*exc.problems, *_content_problems(gw.assessment_schema, exc)])
    except RecursionError:
        return outcome_response(400, [Issue("too-costly", "the document is nested too deeply")])
    if inbound.author_code != ctx.agency_code:
        # A service publishes its own assessments only: the author must be the calling client's agency.
        issue = Issue(
            "forbidden", "the document's author Organization is not the publishing service", inbound.author_at
        )
        return outcome_response(422, [issue])
    return publish_canonical(gw, ctx, inbound.assessment, idem, locate=inbound.locate)


def _content_problems(schema: dict[str, Any], exc: InboundError) -> list[Issue]:
    """The canonical rules broken by what did map (a bad check digit, an age), so that one answer lists
    every problem. Missing values are left out (a refused element is already named), and so is a problem
    at an element that already has one."""
    if exc.partial is None:
        return []
    assessment, origins = exc.partial
    _, problems = validate_assessment(assessment, schema)
    named = {issue.expression for issue in exc.problems if issue.expression}
    out = []
    for problem in problems:
        located = locate(problem, origins)
        if problem.code != "required" and located.expression != "Bundle" and not overlaps(located.expression, named):
            out.append(located)
    return out

"""The override review queue: lawful overrides awaiting an IG decision, and the review itself (admins)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from gateway.audit.events import AuditEvent, Outcome
from gateway.ig import actions, data, reviews, sessions
from gateway.ig.context import ig_of, now, page, require_admin, require_csrf, require_staff, transaction

router = APIRouter()


@router.get("/overrides")
def override_queue(request: Request) -> Response:
    with transaction(request) as session:
        cur = require_staff(request, session)
        return page(
            request,
            "overrides.html",
            cur,
            title="Override review",
            waiting=reviews.queue(session),
            done=reviews.reviewed(session),
            notice=request.query_params.get("reviewed")
            if request.query_params.get("reviewed") in ("approved", "concern")
            else None,
        )


def _override_page(
    request: Request,
    session: Session,
    cur: sessions.Current,
    override_id: str,
    errors: Sequence[tuple[str, str]] = (),
    form: Mapping[str, str] | None = None,
    status: int = 200,
) -> Response:
    ig = ig_of(request)
    found = reviews.view(session, ig.gateway.keyring, override_id)
    if found is None:
        return page(
            request, "error.html", cur, 404, title="Page not found", message="There is no override with that id."
        )
    reviewer = data.staff_account(session, found.review.reviewer) if found.review else None
    return page(
        request,
        "override.html",
        cur,
        status,
        title="Lawful override",
        o=found,
        agencies=data.agency_names(session),
        reviewer_name=reviewer.display_name if reviewer else "",
        errors=list(errors),
        form=form or {"decision": "", "note": ""},
    )


@router.get("/overrides/{override_id}")
def override_detail(request: Request, override_id: str) -> Response:
    with transaction(request) as session:
        cur = require_staff(request, session)
        return _override_page(request, session, cur, override_id)


@router.post("/overrides/{override_id}/review")
def override_review(
    request: Request, override_id: str, csrf_token: str = Form(""), decision: str = Form(""), note: str = Form("")
) -> Response:
    ig = ig_of(request)
    with transaction(request) as session:
        cur = require_staff(request, session)
        require_csrf(request, cur, csrf_token)
        require_admin(request, cur, "override-review")
        assert cur.staff is not None
        problems = reviews.validate(decision, note)
        if problems:
            return _override_page(
                request, session, cur, override_id, problems, {"decision": decision, "note": note}, 400
            )
        try:
            reviews.record_review(
                session,
                ig.gateway.keyring,
                override_id=override_id,
                reviewer_id=cur.staff.id,
                decision=decision,
                note=note,
                now=now(),
            )
        except reviews.ReviewError as exc:
            return _override_page(request, session, cur, override_id, [("decision", str(exc))], None, 409)
        actions.record(
            session,
            AuditEvent.IG_OVERRIDE_REVIEW,
            cur.staff.id,
            outcome=Outcome.DONE,
            reason=f"override:{override_id}:{decision}",
        )
    return RedirectResponse("/ig/overrides?" + urlencode({"reviewed": decision}), status_code=303)

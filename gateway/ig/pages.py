"""The IG pages: dashboard, integrity, policy, agencies and clients (the disclosure log's search and the
subject access report are gateway/ig/disclosure_pages.py; overrides, gateway/ig/override_pages.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from gateway.audit import verifications
from gateway.audit.events import AuditEvent, Outcome
from gateway.audit.witness import status as witness_status
from gateway.auth import registry
from gateway.auth.errors import UnknownClient
from gateway.auth.vocab import AgencyType
from gateway.ig import actions, charts, data, integrity, plain, reviews
from gateway.ig.context import (
    PageRefused,
    ig_of,
    not_found_page,
    now,
    page,
    require_admin,
    require_csrf,
    require_staff,
    transaction,
)
from gateway.ig.policy_changes import policy_changes
from gateway.policy.editions import changes_from_first_edition, load_first_edition
from gateway.policy.matrix import AGE_GROUPS, CONSENTS, MatrixIncomplete, compute_matrix

if TYPE_CHECKING:
    from gateway.db.models import VerificationRun
    from gateway.ig.sessions import Current

router = APIRouter()


# -- dashboard ------------------------------------------------------------------------------------


@router.get("/")
def dashboard(request: Request) -> Response:
    with transaction(request) as session:
        cur = require_staff(request, session)
        activity = data.activity(session, today=now().date())
        run = data.latest_run(session)
        verification = verifications.latest(session)
        size = data.log_size(session)
        checkpoint = data.latest_checkpoint(session)
        awaiting = reviews.awaiting_count(session)
    return page(
        request,
        "dashboard.html",
        cur,
        title="Dashboard",
        activity=activity,
        type_chart=charts.stacked_bars(
            "chart-agency-type", "Disclosures released per day by agency type", activity.days, activity.by_agency_type
        ),
        purpose_chart=charts.stacked_bars(
            "chart-purpose", "Disclosures released per day by purpose", activity.days, activity.by_purpose
        ),
        type_legend=charts.legend(list(activity.by_agency_type)),
        purpose_legend=charts.legend(list(activity.by_purpose)),
        swatch=charts.swatch,
        run=run,
        verification=verification,
        agency_types=plain.AGENCY_TYPES,
        purposes=plain.PURPOSES,
        log_size=size,
        checkpoint=checkpoint,
        awaiting=awaiting,
    )


# -- integrity ------------------------------------------------------------------------------------


@router.get("/integrity")
def integrity_page(request: Request) -> Response:
    with transaction(request) as session:
        cur = require_staff(request, session)
        return page(
            request,
            "integrity.html",
            cur,
            title="Log integrity",
            runs=data.recent_runs(session),
            verifications=verifications.recent(session),
            log_size=data.log_size(session),
            head=data.read_head(session),
            checkpoints=data.recent_checkpoints(session),
            witness=witness_status(ig_of(request).gateway.settings),
        )


@router.post("/integrity/runs")
def start_verification(request: Request, csrf_token: str = Form("")) -> Response:
    ig = ig_of(request)
    with transaction(request) as session:
        cur = require_staff(request, session)
        require_csrf(request, cur, csrf_token)
        assert cur.staff is not None
        run = integrity.start(session, cur.staff.id)
        actions.record(session, AuditEvent.IG_VERIFY, cur.staff.id, reason=f"run:{run.id}")
    integrity.run_in_background(ig.gateway.sessions, run.id, ig.gateway.settings)
    return RedirectResponse(f"/ig/integrity/runs/{run.id}", status_code=303)


def _run(request: Request, run_id: str) -> tuple[Any, VerificationRun | None]:
    with transaction(request) as session:
        cur = require_staff(request, session)
        return cur, data.verification_run(session, run_id)


@router.get("/integrity/runs/{run_id}")
def verification_run(request: Request, run_id: str) -> Response:
    cur, run = _run(request, run_id)
    if run is None:
        return not_found_page(request, cur, "verification run with that id")
    return page(request, "run.html", cur, title="Verification", run=run, checked=integrity.progress_of(run))


@router.get("/integrity/runs/{run_id}/status")
def verification_status(request: Request, run_id: str) -> Response:
    """Polled by the progress bar's script (static/ig.js)."""
    _cur, run = _run(request, run_id)
    if run is None:
        return JSONResponse({"error": "not found"}, status_code=404)
    checked = integrity.progress_of(run)
    return JSONResponse({"status": run.status, "checked": checked, "total": max(run.total_entries, checked)})


# -- policy ---------------------------------------------------------------------------------------


@router.get("/policy")
def policy(request: Request, consent: str = "given", age_group: str = "adult") -> Response:
    ig = ig_of(request)
    engine = ig.gateway.policy
    with transaction(request) as session:
        cur = require_staff(request, session)
        changes = policy_changes(session, engine, ig.gateway.catalogue.ids, ig.changes_cache)
    errors = []
    if consent not in CONSENTS:
        errors.append(("consent", "Choose a consent state from the list"))
        consent = "given"
    if age_group not in AGE_GROUPS:
        errors.append(("age_group", "Choose an age group from the list"))
        age_group = "adult"
    revision = str(getattr(engine, "revision", "unknown"))
    rows = ig.matrix_cache.get(revision)
    if rows is None:  # computed only on a miss, and kept only when the engine answered every question
        try:
            rows = compute_matrix(engine, catalogue_ids=ig.gateway.catalogue.ids)
        except MatrixIncomplete as failure:
            return _engine_did_not_answer(request, cur, failure, revision, consent, age_group)
        ig.matrix_cache[revision] = rows
    titles = {f.id: f.title for f in ig.gateway.catalogue}
    shown = [r for r in rows if r["consent"] == consent and r["age_group"] == age_group]
    # The second edition's departures from the first, each with its reason, for the views shown.
    first = load_first_edition(ig.gateway.settings.resolved_policy_dir())
    edition = changes_from_first_edition(shown, first) if first is not None else None
    return page(
        request,
        "policy.html",
        cur,
        400 if errors else 200,
        title="Disclosure policy",
        errors=errors,
        rows=shown,
        titles=titles,
        revision=revision,
        consent=consent,
        age_group=age_group,
        consents=CONSENTS,
        consent_words=plain.CONSENT_STATUSES,
        agency_types=plain.AGENCY_TYPES,
        by_section=plain.by_section,
        age_groups=AGE_GROUPS,
        changes=changes,
        edition=edition,
    )


def _engine_did_not_answer(
    request: Request, cur: Current, failure: MatrixIncomplete, revision: str, consent: str, age_group: str
) -> Response:
    """503: the policy engine failed on a matrix question (an OPA timeout, the embedded engine's thread
    busy). No matrix: its failures would read as the policy refusing. Nothing is kept: the next view asks
    again."""
    response = page(
        request,
        "policy_unavailable.html",
        cur,
        503,
        title="Disclosure policy: the policy engine did not answer",
        cell=failure.cell,
        reason=failure.decision.deny_reason or "",
        detail="; ".join(failure.decision.errors),
        revision=revision,
        retry="/ig/policy?" + urlencode({"consent": consent, "age_group": age_group}),
        agency_types=plain.AGENCY_TYPES,
        consent_words=plain.CONSENT_STATUSES,
    )
    response.headers["Retry-After"] = "5"
    return response


# -- agencies and clients -------------------------------------------------------------------------


@router.get("/agencies")
def agencies(request: Request) -> Response:
    with transaction(request) as session:
        cur = require_staff(request, session)
        return page(
            request,
            "agencies.html",
            cur,
            title="Agencies and clients",
            agencies=data.agencies_with_clients(session),
            types={t.value for t in AgencyType},
            purposes=plain.PURPOSES,
            agency_types=plain.AGENCY_TYPES,
            notice=request.query_params.get("revoked"),
        )


@router.get("/clients/{client_id}/revoke")
def revoke_confirm(request: Request, client_id: str) -> Response:
    with transaction(request) as session:
        cur = require_staff(request, session)
        require_admin(request, cur, "client-revoke")
        found = data.client_with_agency(session, client_id)
        if found is None:
            return not_found_page(request, cur, "client with that id")
        return page(request, "revoke.html", cur, title="Revoke a client", client=found[0], agency=found[1])


@router.post("/clients/{client_id}/revoke")
def revoke(request: Request, client_id: str, csrf_token: str = Form(""), confirm: str = Form("")) -> Response:
    with transaction(request) as session:
        cur = require_staff(request, session)
        require_csrf(request, cur, csrf_token)
        require_admin(request, cur, "client-revoke")
        found = data.client_with_agency(session, client_id)
        if found is None:
            return not_found_page(request, cur, "client with that id")
        if confirm != "yes":
            return page(
                request,
                "revoke.html",
                cur,
                400,
                title="Revoke a client",
                client=found[0],
                agency=found[1],
                errors=[("confirm", "Confirm that you want to revoke this client")],
            )
        try:
            registry.revoke_client(session, client_id)
        except UnknownClient:
            raise PageRefused(not_found_page(request, cur, "client with that id")) from None
        assert cur.staff is not None
        actions.record(
            session,
            AuditEvent.IG_CLIENT_REVOKE,
            cur.staff.id,
            agency_code=found[1].code,
            reason=f"client:{client_id}",
            outcome=Outcome.DONE,
        )
    # Committed: this process refuses the client's live tokens from now on; the others within 1 s.
    ig_of(request).gateway.revocations.client_revoked(client_id)
    return RedirectResponse("/ig/agencies?" + urlencode({"revoked": client_id}), status_code=303)

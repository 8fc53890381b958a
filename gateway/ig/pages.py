"""The IG pages: dashboard, disclosures, subject report, integrity, policy, agencies and clients."""

from __future__ import annotations

import hashlib
import hmac
from datetime import date
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from gateway.assessments.identifiers import is_valid_nhs_number
from gateway.audit import verifications
from gateway.audit.events import AuditEvent, Outcome
from gateway.audit.witness import status as witness_status
from gateway.auth import registry
from gateway.auth.errors import UnknownClient
from gateway.auth.vocab import AgencyType, Purpose
from gateway.ig import actions, charts, data, integrity, plain, reviews
from gateway.ig.context import (
    PageRefused,
    ig_of,
    now,
    page,
    require_admin,
    require_csrf,
    require_staff,
    transaction,
)
from gateway.ig.policy_changes import policy_changes
from gateway.policy.editions import changes_from_first_edition, load_first_edition
from gateway.policy.matrix import AGE_GROUPS, CONSENTS, compute_matrix

if TYPE_CHECKING:
    from gateway.db.models import VerificationRun

router = APIRouter()

OUTCOMES = ("released", "denied", "done")
KINDS = {"disclosures": "Disclosures and refusals", "staff": "Staff actions", "all": "Everything"}


INT64_MAX = 2**63 - 1


def _subjects_sig(request: Request, keys: tuple[str, ...]) -> str:
    """The person a results link is about is fixed by the search that made it: the keys, in order,
    under the gateway's key. A hand-made link (a decoy key first, another person's key added, the keys
    reordered) is refused, so the first key the log is searched by is always the person looked up."""
    message = "ig subject search|" + ",".join(keys)
    return hmac.new(ig_of(request).gateway.keyring.hmac_key, message.encode(), hashlib.sha256).hexdigest()


def _subjects_sig_ok(request: Request, keys: tuple[str, ...], sig: str) -> bool:
    if len(keys) > 4 or not all(len(k) == 64 and all(c in "0123456789abcdef" for c in k) for k in keys):
        return False
    return hmac.compare_digest(_subjects_sig(request, keys).encode(), sig.encode("utf-8", "replace"))


def _not_found(request: Request, cur: Any, what: str) -> Response:
    return page(request, "error.html", cur, 404, title="Page not found", message=f"There is no {what} here.")


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


# -- disclosures ----------------------------------------------------------------------------------


def _parse_date(value: str | None, label: str, errors: list[tuple[str, str]], field: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors.append((field, f"{label} must be a real date, like 2026-11-26"))
        return None


@router.post("/disclosures/search")
def search_submit(
    request: Request,
    csrf_token: str = Form(""),
    nhs_number: str = Form(""),
    agency: str = Form(""),
    purpose: str = Form(""),
    outcome: str = Form(""),
    date_from: str = Form(""),
    date_to: str = Form(""),
    kind: str = Form("disclosures"),
) -> Response:
    """The NHS number is posted, never put in a URL: it becomes the keys the log names the person by,
    and the results page (bookmarkable, paginated) carries only those keyed hashes."""
    ig = ig_of(request)
    with transaction(request) as session:
        cur = require_staff(request, session)
        require_csrf(request, session, cur, csrf_token)
        params: list[tuple[str, str]] = []
        nhs = nhs_number.replace(" ", "")
        if nhs:
            if not is_valid_nhs_number(nhs):
                return _search_page(
                    request,
                    session,
                    cur,
                    [("nhs_number", "Enter a valid 10-digit NHS number")],
                    {
                        "agency": agency,
                        "purpose": purpose,
                        "outcome": outcome,
                        "date_from": date_from,
                        "date_to": date_to,
                        "kind": kind,
                        "nhs_number": nhs_number,
                    },
                    status=400,
                )
            keys = data.subject_keys_for_nhs_number(session, ig.gateway.keyring, nhs)
            params += [("subject", key) for key in keys] + [("sig", _subjects_sig(request, keys))]
        for name, value in (
            ("agency", agency),
            ("purpose", purpose),
            ("outcome", outcome),
            ("from", date_from),
            ("to", date_to),
            ("kind", kind),
        ):
            if value:
                params.append((name, value))
    return RedirectResponse("/ig/disclosures?" + urlencode(params), status_code=303)


def _search_page(
    request: Request,
    session: Any,
    cur: Any,
    errors: list[tuple[str, str]],
    form: dict[str, str],
    status: int = 200,
    **extra: Any,
) -> Response:
    return page(
        request,
        "disclosures.html",
        cur,
        status,
        title="Search disclosures",
        errors=errors,
        form=form,
        agencies=data.agency_names(session),
        purposes=[p.value for p in Purpose],
        outcomes=OUTCOMES,
        purpose_words=plain.PURPOSES,
        outcome_words_of=plain.OUTCOMES,
        kinds=KINDS,
        **extra,
    )


@router.get("/disclosures")
def disclosures(
    request: Request,
    subject: list[str] = Query(default=[]),
    agency: str = "",
    purpose: str = "",
    outcome: str = "",
    date_from: str = Query("", alias="from"),
    date_to: str = Query("", alias="to"),
    kind: str = "disclosures",
    before: int | None = Query(None, ge=0, le=INT64_MAX),
    sig: str = "",
) -> Response:
    with transaction(request) as session:
        cur = require_staff(request, session)
        errors: list[tuple[str, str]] = []
        subjects = tuple(subject)
        if subjects and not _subjects_sig_ok(request, subjects, sig):
            errors.append(("nhs_number", "This search link is not valid. Search again by NHS number"))
        names = data.agency_names(session)
        if agency and agency not in names:
            errors.append(("agency", "Choose an agency from the list"))
        if purpose and purpose not in {p.value for p in Purpose}:
            errors.append(("purpose", "Choose a purpose from the list"))
        if outcome and outcome not in OUTCOMES:
            errors.append(("outcome", "Choose an outcome from the list"))
        if kind not in KINDS:
            errors.append(("kind", "Choose what to show from the list"))
        start = _parse_date(date_from, "The 'from' date", errors, "date_from")
        end = _parse_date(date_to, "The 'to' date", errors, "date_to")
        if start and end and end < start:
            errors.append(("date_to", "The 'to' date must be the same as or after the 'from' date"))
        form = {
            "agency": agency,
            "purpose": purpose,
            "outcome": outcome,
            "date_from": date_from,
            "date_to": date_to,
            "kind": kind,
            "nhs_number": "",
        }
        if errors:
            return _search_page(request, session, cur, errors, form, status=400)
        filters = data.SearchFilters(subjects, agency or None, purpose or None, outcome or None, start, end, kind)
        rows, next_before = data.search(session, filters, before_seq=before)
        total = data.count(session, filters)
        if subjects:
            # Looking a person up is itself recorded, as a disclosure to the staff member would be:
            # every page of the results, each naming every key searched.
            actions.record(session, AuditEvent.IG_SEARCH, cur.staff.id if cur.staff else None, subject_keys=subjects)
        base = (
            [("subject", s) for s in subjects]
            + ([("sig", sig)] if subjects else [])
            + [
                (k, v)
                for k, v in (
                    ("agency", agency),
                    ("purpose", purpose),
                    ("outcome", outcome),
                    ("from", date_from),
                    ("to", date_to),
                    ("kind", kind),
                )
                if v
            ]
        )
        return _search_page(
            request,
            session,
            cur,
            [],
            form,
            rows=rows,
            total=total,
            by_person=bool(subjects),
            next_url=("/ig/disclosures?" + urlencode([*base, ("before", str(next_before))])) if next_before else None,
            first_url=("/ig/disclosures?" + urlencode(base)) if before is not None else None,
            searched=True,
        )


@router.get("/disclosures/{disclosure_id}")
def disclosure_detail(request: Request, disclosure_id: str) -> Response:
    ig = ig_of(request)
    with transaction(request) as session:
        cur = require_staff(request, session)
        row = data.disclosure(session, disclosure_id)
        if row is None:
            return _not_found(request, cur, "disclosure with that id")
        titles = {f.id: f.title for f in ig.gateway.catalogue}
        released_ids = list(row.entry.get("released", []))
        rules = {w.get("field", ""): w.get("rule", "") for w in row.entry.get("withheld", [])}
        recorded = {w.get("rule", ""): w.get("reason", "") for w in row.entry.get("withheld", [])}
        withheld = [
            (section, [(fid, title, rules[fid]) for fid, title in fields])
            for section, fields in plain.by_section(rules, titles)
        ]
        names = data.agency_names(session)
        actions.record(
            session,
            AuditEvent.IG_VIEW,
            cur.staff.id if cur.staff else None,
            subject_key=row.entry.get("subject_key"),
            reason=f"disclosure:{row.disclosure_id}",
        )
        return page(
            request,
            "disclosure.html",
            cur,
            title="Disclosure",
            glossary=plain.Glossary(recorded),
            row=row,
            released=plain.by_section(released_ids, titles),
            released_count=len(released_ids),
            withheld=withheld,
            withheld_count=len(rules),
            consent_words=plain.consent_sentence(plain.consent_of(row.entry), names),
            consent_matters=any(r in plain.CONSENT_RULES for r in rules.values()),
            agency_name=names.get(row.agency_code or "", None),
            covering=data.covering_checkpoint(session, row.seq),
        )


# -- subject report -------------------------------------------------------------------------------


@router.get("/subjects")
def subject_form(request: Request) -> Response:
    with transaction(request) as session:
        cur = require_staff(request, session)
        return page(request, "subject_form.html", cur, title="Subject access report", errors=[], nhs_number="")


@router.post("/subjects/report")
def subject_report(request: Request, csrf_token: str = Form(""), nhs_number: str = Form("")) -> Response:
    """Posted, and answered directly (not redirected): the NHS number appears on the printed report but
    never in a URL, a browser's history or a log line."""
    ig = ig_of(request)
    with transaction(request) as session:
        cur = require_staff(request, session)
        require_csrf(request, session, cur, csrf_token)
        nhs = nhs_number.replace(" ", "")
        if not is_valid_nhs_number(nhs):
            message = "Enter the person's NHS number" if not nhs else "Enter a valid 10-digit NHS number"
            return page(
                request,
                "subject_form.html",
                cur,
                400,
                title="Subject access report",
                errors=[("nhs_number", message)],
                nhs_number=nhs_number,
            )
        keys = data.subject_keys_for_nhs_number(session, ig.gateway.keyring, nhs)
        history = data.subject_history(session, keys)
        titles = {f.id: f.title for f in ig.gateway.catalogue}
        actions.record(session, AuditEvent.IG_SUBJECT_REPORT, cur.staff.id if cur.staff else None, subject_keys=keys)
        return page(
            request,
            "subject_report.html",
            cur,
            title="Subject access report",
            nhs_number=nhs,
            history=history,
            titles=titles,
            agencies=data.agency_names(session),
            generated_at=now(),
            released_count=sum(1 for r in history if r.outcome == "released"),
            by_section=plain.by_section,
            consent_of=plain.consent_of,
            consent_sentence=plain.consent_sentence,
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
        require_csrf(request, session, cur, csrf_token)
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
        return _not_found(request, cur, "verification run with that id")
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
    if rows is None:
        rows = ig.matrix_cache.setdefault(revision, compute_matrix(engine, catalogue_ids=ig.gateway.catalogue.ids))
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
        require_admin(request, session, cur, "client-revoke")
        found = data.client_with_agency(session, client_id)
        if found is None:
            return _not_found(request, cur, "client with that id")
        return page(request, "revoke.html", cur, title="Revoke a client", client=found[0], agency=found[1])


@router.post("/clients/{client_id}/revoke")
def revoke(request: Request, client_id: str, csrf_token: str = Form(""), confirm: str = Form("")) -> Response:
    with transaction(request) as session:
        cur = require_staff(request, session)
        require_csrf(request, session, cur, csrf_token)
        require_admin(request, session, cur, "client-revoke")
        found = data.client_with_agency(session, client_id)
        if found is None:
            return _not_found(request, cur, "client with that id")
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
            raise PageRefused(_not_found(request, cur, "client with that id")) from None
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

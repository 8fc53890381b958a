"""The IG pages over the disclosure log: search, the list, one disclosure, and the subject access report."""

from __future__ import annotations

import hashlib
import hmac
from datetime import date
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from starlette.responses import RedirectResponse, Response

from gateway.assessments.identifiers import is_valid_nhs_number
from gateway.audit.events import AuditEvent
from gateway.auth.vocab import Purpose
from gateway.ig import actions, data, plain
from gateway.ig.context import (
    ig_of,
    not_found_page,
    now,
    page,
    require_csrf,
    require_staff,
    transaction,
)

if TYPE_CHECKING:
    pass

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
        require_csrf(request, cur, csrf_token)
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
            return not_found_page(request, cur, "disclosure with that id")
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
        require_csrf(request, cur, csrf_token)
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
            sign_offs=data.subject_sign_offs(session, ig.gateway.keyring, keys),
            sign_off_decisions=plain.SIGN_OFF_DECISIONS,
            by_section=plain.by_section,
            consent_of=plain.consent_of,
            consent_sentence=plain.consent_sentence,
        )

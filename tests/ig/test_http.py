"""The IG pages over HTTP: sign-in, cookies, CSRF, roles, lockout, headers, and each page's answer."""

from __future__ import annotations

import html
import json
import re
import shutil
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from gateway.db.models import Client, DisclosureLogEntry, StaffAccount, VerificationRun
from gateway.policy.store import store_revision
from tests.conftest import ROOT
from tests.ig.conftest import CSRF, PASSWORD, StaffBrowser

ADULT_NHS = "9449305552"
SEARCH = f"/fhir/Bundle?patient.identifier=https://fhir.nhs.uk/Id/nhs-number|{ADULT_NHS}"


def staff_events(gateway, event: str) -> list[dict]:
    with gateway.sessions() as session:
        rows = session.execute(select(DisclosureLogEntry).where(DisclosureLogEntry.event == event)).scalars()
        return [json.loads(r.entry) for r in rows]


def test_pages_need_sign_in_and_come_back_after(gateway, staff, browser):
    response = browser.get("/ig/disclosures")
    assert response.status_code == 303
    assert response.headers["location"] == "/ig/sign-in?next=/ig/disclosures"
    token = browser.csrf("/ig/sign-in?next=/ig/disclosures")
    response = browser.post(
        "/ig/sign-in",
        data={"username": "auditor", "password": PASSWORD, "csrf_token": token, "next": "/ig/disclosures"},
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/ig/disclosures"


def test_next_never_leaves_the_ig_pages(gateway, staff, browser):
    token = browser.csrf("/ig/sign-in")
    response = browser.post(
        "/ig/sign-in",
        data={"username": "auditor", "password": PASSWORD, "csrf_token": token, "next": "//evil.example/ig/"},
    )
    assert response.headers["location"] == "/ig/"


def test_session_cookie_is_secure_httponly_strict_and_renewed_at_sign_in(gateway, staff, browser):
    browser.get("/ig/sign-in")
    before = browser.cookies.get("__Host-ig-session")
    response = browser.sign_in("auditor")
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("__Host-ig-session=")
    for attribute in ("Secure", "HttpOnly", "SameSite=strict", "Path=/"):
        assert attribute.lower() in cookie.lower()
    assert "domain=" not in cookie.lower() and "max-age" not in cookie.lower()
    # A new session at sign-in: the signed-out one (and its cookie) are worth nothing afterwards.
    assert browser.cookies.get("__Host-ig-session") != before
    stale = StaffBrowser(gateway.app)
    stale.cookies.set("__Host-ig-session", before, domain="testserver", path="/")
    assert stale.get("/ig/").status_code == 303


def test_security_headers_on_pages_errors_and_assets(gateway, staff, browser):
    browser.sign_in("auditor")
    for url in ("/ig/", "/ig/sign-in", "/ig/disclosures/not-an-id", "/ig/static/ig.css", "/ig/nowhere"):
        response = browser.get(url)
        csp = response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp and "script-src 'self'" in csp
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
    assert browser.get("/ig/").headers["cache-control"] == "no-store"


def test_no_inline_script_or_style_in_any_page(gateway, staff, browser):
    browser.sign_in("admin")
    for url in ("/ig/", "/ig/disclosures", "/ig/subjects", "/ig/integrity", "/ig/policy", "/ig/agencies"):
        text = browser.get(url).text
        assert "<script>" not in text and "<style" not in text and " style=" not in text
        assert re.findall(r"<script[^>]*>", text) == ['<script src="/ig/static/ig.js" defer>']
        assert " on" not in re.sub(r"\s+", " ", " ".join(re.findall(r"<[^>]+>", text))).replace(" one", "")


def test_wrong_password_and_unknown_user_get_the_same_answer(gateway, staff, browser):
    wrong = browser.sign_in("auditor", "not the password")
    unknown = browser.sign_in("nobody", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert "Sign-in failed" in wrong.text and "Sign-in failed" in unknown.text
    failures = staff_events(gateway, "ig:staff:signin-failed")
    assert [f["client_id"] for f in failures] == [f"staff:{staff['auditor']}", None]
    assert "nobody" not in json.dumps(failures)


def test_lockout_after_repeated_failures_refuses_even_the_right_password(gateway, staff, browser):
    for _ in range(5):
        assert browser.sign_in("auditor", "wrong wrong wrong").status_code == 401
    refused = browser.sign_in("auditor")
    assert refused.status_code == 401
    assert browser.get("/ig/").status_code == 303
    assert len(staff_events(gateway, "ig:staff:locked")) == 1
    with gateway.sessions.begin() as session:
        account = session.get(StaffAccount, staff["auditor"])
        assert account.locked_until is not None
        account.locked_until = datetime.now(UTC) - timedelta(seconds=1)  # the lockout has run out
    assert browser.sign_in("auditor").status_code == 303


def test_forged_or_missing_csrf_token_is_refused_and_logged(gateway, staff, browser):
    browser.sign_in("admin")
    client_id = gateway.clients["POL-NE"]
    for token in ("forged", ""):
        response = browser.post(f"/ig/clients/{client_id}/revoke", data={"confirm": "yes", "csrf_token": token})
        assert response.status_code == 403
        assert "could not be accepted" in response.text
    with gateway.sessions() as session:
        assert session.get(Client, client_id).revoked_at is None
    refusals = staff_events(gateway, "ig:staff:refused")
    assert [r["reason"] for r in refusals] == ["csrf", "csrf"]
    assert {r["client_id"] for r in refusals} == {f"staff:{staff['admin']}"}


def test_sign_in_form_itself_needs_its_csrf_token(gateway, staff, browser):
    response = browser.post("/ig/sign-in", data={"username": "admin", "password": PASSWORD, "csrf_token": "x"})
    assert response.status_code == 403


def test_auditor_is_refused_an_admin_action_and_the_refusal_is_logged(gateway, staff, browser):
    browser.sign_in("auditor")
    client_id = gateway.clients["POL-NE"]
    assert "Revoke" not in browser.get("/ig/agencies").text
    assert browser.get(f"/ig/clients/{client_id}/revoke").status_code == 403
    token = browser.csrf("/ig/")
    response = browser.post(f"/ig/clients/{client_id}/revoke", data={"confirm": "yes", "csrf_token": token})
    assert response.status_code == 403 and "ig-admin" in response.text
    with gateway.sessions() as session:
        assert session.get(Client, client_id).revoked_at is None
    assert [r["reason"] for r in staff_events(gateway, "ig:staff:refused")] == ["role:client-revoke"] * 2


def test_admin_revokes_a_client_after_confirming_and_its_tokens_stop_working(gateway, staff, browser):
    dpop = gateway.auth("POL-NE", "charging")
    assert gateway.http.get(SEARCH, auth=dpop).status_code == 200
    browser.sign_in("admin")
    client_id = gateway.clients["POL-NE"]
    token = browser.csrf(f"/ig/clients/{client_id}/revoke")
    unconfirmed = browser.post(f"/ig/clients/{client_id}/revoke", data={"csrf_token": token})
    assert unconfirmed.status_code == 400 and "There is a problem" in unconfirmed.text
    response = browser.post(f"/ig/clients/{client_id}/revoke", data={"csrf_token": token, "confirm": "yes"})
    assert response.status_code == 303
    assert "Client revoked" in browser.get(response.headers["location"]).text
    assert gateway.http.get(SEARCH, auth=dpop).status_code == 401
    (event,) = staff_events(gateway, "ig:client:revoke")
    assert event["reason"] == f"client:{client_id}" and event["agency_code"] == "POL-NE"


def test_search_by_nhs_number_finds_the_persons_disclosures_without_putting_it_in_a_url(gateway, staff, browser):
    assert gateway.http.get(SEARCH, auth=gateway.auth("POL-NE", "charging")).status_code == 200
    assert gateway.http.get(SEARCH, auth=gateway.auth("MHT-NE", "health-referral")).status_code == 404
    browser.sign_in("auditor")
    token = browser.csrf("/ig/disclosures")
    response = browser.post("/ig/disclosures/search", data={"csrf_token": token, "nhs_number": "944 930 5552"})
    assert response.status_code == 303
    location = response.headers["location"]
    assert ADULT_NHS not in location and "subject=" in location
    results = browser.get(location)
    assert "2 entries found for this person" in results.text
    assert "Agency POL-NE" in results.text and "Agency MHT-NE" in results.text
    only_released = browser.get(location + "&outcome=released")
    assert "1 entry found" in only_released.text
    searches = staff_events(gateway, "ig:disclosure:search")
    assert len(searches) == 2  # each look-up of a person is recorded
    search = searches[0]
    assert search["client_id"] == f"staff:{staff['auditor']}" and len(search["subject_key"]) == 64
    assert ADULT_NHS not in json.dumps(search)


def test_search_lists_every_problem(gateway, staff, browser):
    browser.sign_in("auditor")
    response = browser.get("/ig/disclosures?agency=NOPE&purpose=fun&outcome=maybe&from=2026-13-01&to=yesterday")
    assert response.status_code == 400
    for message in ("Choose an agency", "Choose a purpose", "Choose an outcome", "'from' date", "'to' date"):
        assert message in html.unescape(response.text)
    token = CSRF.search(response.text).group(1)
    bad = browser.post("/ig/disclosures/search", data={"csrf_token": token, "nhs_number": "9449305553"})
    assert bad.status_code == 400 and "valid 10-digit NHS number" in bad.text


def test_search_pages_with_a_keyset_cursor(gateway, staff, browser):
    dpop = gateway.auth("MHT-NE", "health-referral")
    for _ in range(27):
        gateway.http.get(SEARCH, auth=dpop)
    browser.sign_in("auditor")
    first = browser.get("/ig/disclosures?agency=MHT-NE")
    assert "27 entries found" in first.text and first.text.count('">View<') == 25
    older = re.search(r'href="(/ig/disclosures\?[^"]*before=\d+)"', first.text).group(1).replace("&amp;", "&")
    second = browser.get(older)
    assert second.text.count('">View<') == 2 and "Newest entries" in second.text


def test_disclosure_detail_shows_released_and_withheld_fields_with_reasons(gateway, staff, browser):
    response = gateway.http.get(SEARCH, auth=gateway.auth("POL-NE", "charging"))
    disclosure_id = response.headers["x-disclosure-id"]
    browser.sign_in("auditor")
    page = browser.get(f"/ig/disclosures/{disclosure_id}")
    assert page.status_code == 200
    released, withheld = page.text.split('id="withheld-title"')
    assert "Released (" in released and "Appropriate adult" in released
    assert "Diagnoses" in withheld or "diagnos" in withheld.lower()
    assert "<code>" in withheld  # each withheld field names its rule
    assert response.headers["x-policy-revision"] in page.text
    (view,) = staff_events(gateway, "ig:disclosure:view")
    assert view["reason"] == f"disclosure:{disclosure_id}"
    assert browser.get("/ig/disclosures/no-such-id").status_code == 404


def test_subject_report_lists_what_was_shared_and_is_logged(gateway, staff, browser):
    gateway.http.get(SEARCH, auth=gateway.auth("PROB-NE", "sentencing"))
    browser.sign_in("auditor")
    token = browser.csrf("/ig/subjects")
    empty = browser.post("/ig/subjects/report", data={"csrf_token": token, "nhs_number": ""})
    assert empty.status_code == 400 and "Enter the person's NHS number" in html.unescape(empty.text)
    report = browser.post("/ig/subjects/report", data={"csrf_token": token, "nhs_number": ADULT_NHS})
    assert report.status_code == 200
    assert "944 930 5552" in report.text and "1 released, 0 refused" in report.text
    assert "Agency PROB-NE" in report.text
    assert len(staff_events(gateway, "ig:subject:report")) == 1


def test_subject_report_shows_the_clinicians_sign_off_and_when_it_goes_stale(gateway, staff, browser):
    """The page IG staff print for the person said nothing of the serious-harm check: who signed it off,
    when, what they decided, or that nobody had."""
    gateway.http.get(SEARCH, auth=gateway.auth("PROB-NE", "sentencing"))
    browser.sign_in("auditor")
    token = browser.csrf("/ig/subjects")

    def sign_off_shown() -> str:
        report = browser.post("/ig/subjects/report", data={"csrf_token": token, "nhs_number": ADULT_NHS})
        assert report.status_code == 200
        shown = report.text.split('id="sign-off">')[1].split("</dd>")[0]
        return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", shown)).split())

    assert sign_off_shown() == "Not signed off: no clinician has checked this person's report for serious harm."
    signed = gateway.http.post(
        "/audit/subjects/report/sign-off",
        content=f"nhs_number={ADULT_NHS}&clinician=Dr%20A%20Patel%20%3CGMC%3E&decision=release-with-redactions",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        auth=gateway.auth("LD-NE", "ld-service"),
    )
    assert signed.status_code == 201, signed.text
    when = datetime.fromisoformat(signed.json()["signed_at"]).astimezone(UTC).strftime("%d %b %Y %H:%M UTC")
    assert sign_off_shown() == (
        f"Signed off by Dr A Patel <GMC> for Agency LD-NE on {when}: release the report with redactions. "
        "No entry has been added to that service's report since."
    )
    # A later disclosure is not covered by the check.
    gateway.http.get(SEARCH, auth=gateway.auth("POL-NE", "charging"))
    assert sign_off_shown().endswith("Entries were added after it: a new check is needed.")


def test_verification_runs_in_the_background_and_reports_intact(gateway, staff, browser):
    gateway.http.get(SEARCH, auth=gateway.auth("POL-NE", "charging"))
    browser.sign_in("auditor")
    token = browser.csrf("/ig/integrity")
    response = browser.post("/ig/integrity/runs", data={"csrf_token": token})
    assert response.status_code == 303
    run_url = response.headers["location"]
    deadline = time.monotonic() + 30
    status = browser.get(run_url + "/status").json()
    while status["status"] == "running" and time.monotonic() < deadline:
        time.sleep(0.1)
        status = browser.get(run_url + "/status").json()
    assert status["status"] == "intact"
    assert status["checked"] == status["total"] >= 3
    assert "The log is intact" in browser.get(run_url).text


def test_verification_names_the_first_bad_entry_of_a_tampered_log(gateway, staff, browser):
    gateway.http.get(SEARCH, auth=gateway.auth("POL-NE", "charging"))
    with gateway.sessions.begin() as session:
        row = session.execute(select(DisclosureLogEntry).where(DisclosureLogEntry.seq == 0)).scalar_one()
        row.entry = row.entry.replace('"released"', '"RELEASED"', 1)
    browser.sign_in("auditor")
    with gateway.sessions.begin() as session:
        from gateway.ig import integrity

        run_id = integrity.start(session, staff["auditor"]).id
    integrity.verify(gateway.sessions, run_id, gateway.settings)
    with gateway.sessions() as session:
        run = session.get(VerificationRun, run_id)
        assert run.status == "failed" and run.failure.startswith("entry 0"), run.failure
    assert "FAILED verification" in browser.get(f"/ig/integrity/runs/{run_id}").text


def test_policy_matrix_page_shows_the_running_policy(gateway, staff, browser):
    browser.sign_in("auditor")
    page = browser.get("/ig/policy?consent=declined&age_group=child")
    assert page.status_code == 200 and "Consent declined, child" in page.text
    assert gateway.app.state.gateway.policy.revision in page.text
    assert browser.get("/ig/policy?consent=maybe").status_code == 400


def test_policy_page_gives_the_reason_for_each_departure_from_the_first_edition(gateway, staff, browser):
    from gateway.policy.editions import load_first_edition

    browser.sign_in("auditor")
    reasons = {d.id: d.reason for d in load_first_edition(ROOT / "policies").departures}
    text = html.unescape(browser.get("/ig/policy?consent=declined&age_group=adult").text)
    assert "Changes from the first edition of the agreement, and why" in text
    for shown in ("custody-purpose", "health-no-referral-without-consent", "fair-trial-at-court"):
        assert reasons[shown] in text, shown
    assert "no reason recorded" not in text
    # Consent given, for a child: the youth rehabilitation order requirements are new, with their reason.
    child = html.unescape(browser.get("/ig/policy?consent=given&age_group=child").text)
    assert reasons["treatment-requirements-by-age"] in child and reasons["yot-never-an-adult"] not in child


def test_policy_page_shows_whose_view_changed_since_the_previous_stored_revision(gateway, staff, browser, tmp_path):
    browser.sign_in("auditor")
    assert "No earlier stored revision" in browser.get("/ig/policy").text
    # An earlier stored revision in which courts did not see fitness to plead at case management: the
    # running policy, compared with it, releases that field to them.
    earlier = tmp_path / "earlier"
    shutil.copytree(ROOT / "policies", earlier)
    data = json.loads((earlier / "data.json").read_text())
    data["gateway"]["permissions"]["case-management"]["court"].remove("fitness.plead")
    (earlier / "data.json").write_text(json.dumps(data))
    ids = gateway.app.state.gateway.catalogue.ids
    with gateway.sessions.begin() as session:
        stored = store_revision(session, earlier, ids, datetime.now(UTC) - timedelta(days=1))
    page = browser.get("/ig/policy")
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert stored in text and "views change" in text
    row = re.search(
        r"<th scope=\"row\">court</th><td>case-management</td><td>given</td><td>adult</td>(.*?)</tr>", text, re.S
    )
    assert row and "plead" in row.group(1).lower()  # court now gets fitness to plead: released, not withheld


def test_sign_out_ends_the_session(gateway, staff, browser):
    browser.sign_in("auditor")
    cookie = browser.cookies.get("__Host-ig-session")
    token = browser.csrf("/ig/")
    assert browser.post("/ig/sign-out", data={"csrf_token": token}).status_code == 303
    replay = StaffBrowser(gateway.app)
    replay.cookies.set("__Host-ig-session", cookie, domain="testserver", path="/")
    assert replay.get("/ig/").status_code == 303
    assert len(staff_events(gateway, "ig:staff:signout")) == 1


@pytest.mark.parametrize("url", ["/ig/", "/ig/integrity", "/ig/policy", "/ig/agencies", "/ig/subjects"])
def test_dashboard_and_pages_render_for_an_auditor(gateway, staff, browser, url):
    gateway.http.get(SEARCH, auth=gateway.auth("POL-NE", "charging"))
    browser.sign_in("auditor")
    page = browser.get(url)
    assert page.status_code == 200 and "<h1>" in page.text

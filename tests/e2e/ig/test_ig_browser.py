"""The IG pages in a real browser (headless Chromium) against a real gateway process.

Sign in, search, open a disclosure and see withheld fields with reasons, run a verification, a forged
form rejected for CSRF, a locked-out account, an auditor refused an admin action; a screenshot of every
page; no Content-Security-Policy violation on any page (so nothing on them needs inline script or style).
"""

from __future__ import annotations

import http.server
import json
import re
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from adapters.agency_client import AgencyClient
from adapters.agency_client.client import load_private_key
from gateway.db.engine import make_engine, make_session_factory
from gateway.db.models import Agency, Assessment
from gateway.ig import accounts
from tests.conftest import ROOT
from tests.fixtures.servers import CLI
from tests.ig.conftest import TEST_PASSWORDS

# Assertions about a page go through Playwright's expect, which waits (up to 30 s: tests/e2e/ig/conftest.py)
# for the page to get there: a click that submits a form returns before the next page is in the DOM, so an
# immediate is_visible() reads the page the browser is leaving (it failed that way under CI's load).
expect = pytest.importorskip("playwright.sync_api", reason="browser tests need Playwright (the dev extra)").expect

# The pages' storage is tested on both databases in tests/ig; the browser runs against SQLite only.
pytestmark = pytest.mark.e2e

ADULT_NHS = "9449305552"
AUDITOR_PASSWORD = "auditor password for the browser"
OVERRIDE_REASON = "Exploitation risk disclosed at interview; police need it tonight."
PAGES = {
    "dashboard": "/ig/",
    "disclosures": "/ig/disclosures",
    "subject-form": "/ig/subjects",
    "integrity": "/ig/integrity",
    "overrides": "/ig/overrides",
    "policy": "/ig/policy",
    "agencies": "/ig/agencies",
}


def _demo_password(tour: str) -> str:
    match = re.search(r"username ig-demo\s+password (\S+)", tour)
    assert match, "the demo tour prints the IG account"
    return match.group(1)


@pytest.fixture(scope="module")
def site(own_live_gateway: Any) -> Any:
    gw = own_live_gateway
    # Some disclosures to look at: a release with withheld fields, and a refusal.
    for code, purpose in (("POL-NE", "charging"), ("MHT-NE", "health-referral")):
        AgencyClient(gw.base_url, gw.clients[code], load_private_key(gw.key(code))).search(purpose, ADULT_NHS)
    subprocess.run(
        [CLI, "staff", "add", "--username", "auditor", "--name", "Auditor", "--role", "ig-auditor", "--password-stdin"],
        input=AUDITOR_PASSWORD + "\n",
        env=gw.env,
        text=True,
        capture_output=True,
        check=True,
        timeout=60,
    )
    gw.admin_password = _demo_password(gw.tour)
    engine = make_engine(gw.database_url)
    # The account the lockout test locks, which never signs in: written straight into the server's
    # database with the page tests' cheap argon2id (tests/ig/conftest.py) rather than by a second
    # `ld-gateway staff add`, so that its wrong guesses are not 64 MiB hashes in the server. The server
    # checks it by the same code (the parameters are read from the stored hash).
    with make_session_factory(engine).begin() as session:
        accounts.add_staff(session, "locky", "Locky", "ig-auditor", password=AUDITOR_PASSWORD, passwords=TEST_PASSWORDS)
    # A lawful override recorded by the L&D service, for the review queue.
    with engine.connect() as conn:
        # One the L&D service itself published (the demo's second L&D service publishes too).
        assessment_id = conn.execute(
            select(Assessment.id)
            .join(Agency, Agency.id == Assessment.publisher_agency_id)
            .where(Agency.code == "LD-NE")
            .limit(1)
        ).scalar_one()
    engine.dispose()
    ld = AgencyClient(gw.base_url, gw.clients["LD-NE"], load_private_key(gw.key("LD-NE")))
    recorded = ld.request(
        "POST",
        f"/assessments/{assessment_id}/overrides",
        "ld-service",
        json={
            "basis": "safeguarding",
            "reason": OVERRIDE_REASON,
            "recipients": ["POL-NE"],
            "expires_at": (datetime.now(UTC) + timedelta(days=3)).isoformat(),
            "recorded_by": "Sam Okafor, L&D practitioner",
        },
    )
    assert recorded.status_code == 201, recorded.text
    return gw


@pytest.fixture
def page(chromium: Any, site: Any) -> Iterator[Any]:
    context = chromium.new_context(base_url=site.base_url)
    page = context.new_page()
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    yield page
    assert violations == []
    context.close()


def sign_in(page: Any, username: str, password: str) -> None:
    page.goto("/ig/sign-in")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_sign_in_page_is_keyboard_first(page, screens):
    page.goto("/ig/sign-in")
    screens.take(page, "sign-in")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to main content"
    page.keyboard.press("Enter")  # the skip link moves the keyboard past the header...
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "username"  # ...straight to the form
    page.keyboard.type("nobody")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "password"


def test_sign_in_search_and_see_withheld_fields_with_reasons(page, site, screens):
    sign_in(page, "ig-demo", site.admin_password)
    page.wait_for_url("**/ig/")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.locator("svg#chart-agency-type")).to_have_count(1)
    screens.take(page, "dashboard")

    page.get_by_role("link", name="Disclosures", exact=True).click()
    page.get_by_label("NHS number").fill("944 930 5552")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url(re.compile(r".*/ig/disclosures\?subject=.*"))
    assert ADULT_NHS not in page.url
    expect(page.get_by_role("heading", name=re.compile("2 entries found for this person"))).to_be_visible()
    screens.take(page, "disclosures")

    row = page.locator("tr", has_text="fields shared")
    row.get_by_role("link", name=re.compile("^View")).click()
    page.wait_for_url(re.compile(r".*/ig/disclosures/[0-9a-f-]{36}$"))
    released = page.locator("section", has=page.get_by_role("heading", name=re.compile(r"^Released")))
    withheld = page.locator("section", has=page.get_by_role("heading", name=re.compile(r"^Withheld")))
    assert released.locator("li").count() > 0
    assert withheld.locator("tbody tr:not(.ig-group-row)").count() > 0
    # Every withheld field shows a reason in words, and its rule's code one click away.
    for cells in withheld.locator("tbody tr:not(.ig-group-row)").all():
        field, why = cells.locator("td").nth(0).inner_text(), cells.locator("td").nth(1)
        assert field.strip() and len(why.inner_text().strip()) > 5
        expect(why.locator("details code")).to_have_count(1)
    expect(page.get_by_text("Sharing rules in force")).to_be_visible()
    screens.take(page, "disclosure-detail")


def test_every_page_renders_for_an_admin(page, site, screens):
    sign_in(page, "ig-demo", site.admin_password)
    page.wait_for_url("**/ig/")
    for name, path in PAGES.items():
        page.goto(path)
        expect(page.locator("h1"), name).to_have_count(1)
        if name not in screens.names:
            screens.take(page, name)
    page.goto("/ig/subjects")
    page.get_by_label("The person's NHS number").fill(ADULT_NHS)
    page.get_by_role("button", name="Create the report").click()
    expect(page.get_by_text("1 released, 1 refused")).to_be_visible()
    screens.take(page, "subject-report")
    page.emulate_media(media="print")
    expect(page.get_by_role("navigation", name="Main")).not_to_be_visible()
    page.emulate_media(media="screen")


def test_run_a_verification(page, site, screens):
    sign_in(page, "auditor", AUDITOR_PASSWORD)
    page.wait_for_url("**/ig/")
    page.goto("/ig/integrity")
    page.get_by_role("button", name="Verify the whole log now").click()
    page.wait_for_url(re.compile(r".*/ig/integrity/runs/[0-9a-f-]{36}$"))
    page.get_by_role("heading", name="The log is intact").wait_for(timeout=30_000)
    assert page.locator("progress").get_attribute("value") == page.locator("progress").get_attribute("max")
    screens.take(page, "verification")


def test_review_an_override(page, site, screens):
    sign_in(page, "ig-demo", site.admin_password)
    page.wait_for_url("**/ig/")
    expect(page.get_by_text("1 awaiting review")).to_be_visible()
    page.get_by_role("link", name="Overrides", exact=True).click()
    expect(page.get_by_role("link", name=re.compile("^Review")).first).to_be_visible()
    screens.take(page, "override-queue")
    page.get_by_role("link", name=re.compile("^Review")).first.click()
    expect(page.get_by_text(OVERRIDE_REASON)).to_be_visible()
    page.get_by_role("button", name="Record the review").click()  # nothing chosen: the error summary says so
    expect(page.get_by_role("link", name=re.compile("Choose whether to approve"))).to_be_visible()
    page.get_by_label("Raise a concern").check()
    page.get_by_label("Note").fill("Recipients wider than the basis needs; raised with the L&D lead.")
    screens.take(page, "override-review")
    page.get_by_role("button", name="Record the review").click()
    expect(page.get_by_role("heading", name="Review recorded")).to_be_visible()
    expect(page.get_by_role("heading", name="Awaiting review (0)")).to_be_visible()


def test_auditor_is_refused_an_admin_action(page, site, screens):
    sign_in(page, "auditor", AUDITOR_PASSWORD)
    page.wait_for_url("**/ig/")
    page.goto("/ig/agencies")
    expect(page.get_by_role("link", name=re.compile("^Revoke"))).to_have_count(0)
    response = page.goto(f"/ig/clients/{site.clients['YOT-NE']}/revoke")
    assert response.status == 403
    expect(page.get_by_role("heading", name="You cannot do this")).to_be_visible()
    expect(page.get_by_text("ig-admin role")).to_be_visible()
    screens.take(page, "refused-admin-action")


def test_a_locked_out_account(page, screens):
    for _ in range(5):
        sign_in(page, "locky", "not the password at all")
        expect(page.get_by_role("heading", name="There is a problem")).to_be_visible()
    sign_in(page, "locky", AUDITOR_PASSWORD)  # the right password, too late
    expect(page.get_by_role("link", name=re.compile("Sign-in failed"))).to_be_visible()
    assert "/ig/sign-in" in page.url
    # The error summary takes focus, so a screen reader announces the problem first.
    expect(page.locator(".ig-error-summary")).to_be_focused()
    assert page.evaluate("document.activeElement.id") == ""
    assert page.evaluate("document.activeElement.className") == "ig-error-summary"
    screens.take(page, "locked-out")


class _Forger(http.server.BaseHTTPRequestHandler):
    """Another site's page (another port: the same site for SameSite, so only the CSRF token protects)."""

    target = ""

    def do_GET(self) -> None:
        body = (
            f'<html><body><h1>Win a prize</h1><form method="post" action="{self.target}">'
            '<input type="hidden" name="csrf_token" value="guessed"><input type="hidden" name="confirm" value="yes">'
            '<button type="submit">Claim</button></form></body></html>'
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: Any) -> None:
        pass


def test_a_forged_form_is_rejected_for_csrf_and_confirmed_revoke_works(page, site, screens):
    sign_in(page, "ig-demo", site.admin_password)
    page.wait_for_url("**/ig/")
    victim = site.clients["MC-NE"]
    _Forger.target = f"{site.base_url}/ig/clients/{victim}/revoke"
    server = http.server.HTTPServer(("127.0.0.1", 0), _Forger)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        page.goto(f"http://127.0.0.1:{server.server_address[1]}/")
        with page.expect_response(_Forger.target) as answer:
            page.get_by_role("button", name="Claim").click()
        assert answer.value.status == 403
        expect(page.get_by_role("heading", name="This form could not be accepted")).to_be_visible()
        screens.take(page, "csrf-refused")
    finally:
        server.shutdown()
    page.goto("/ig/agencies")
    client_row = page.locator("tr", has_text=victim)
    expect(client_row.get_by_text("active")).to_be_visible()

    # The real thing: the admin's own form, with its confirmation.
    client_row.get_by_role("link", name=re.compile("^Revoke")).click()
    expect(page.get_by_role("button", name="Revoke client")).to_be_visible()
    screens.take(page, "revoke-confirm")
    page.get_by_role("button", name="Revoke client").click()
    expect(page.get_by_role("link", name="Confirm that you want to revoke this client")).to_be_visible()
    page.get_by_label("I understand: revoke this client").check()
    page.get_by_role("button", name="Revoke client").click()
    expect(page.get_by_role("heading", name="Client revoked")).to_be_visible()
    expect(page.locator("tr", has_text=victim).get_by_text("revoked").first).to_be_visible()
    screens.take(page, "client-revoked")


# -- The IG officer's three main journeys, in words a reviewer can read without a glossary -----------

LIMITED_NHS = "9991200002"  # fictional; consent given, but only for the probation service
RAW_CODES = ("consent-limited-to-other-agency", "not-needed-for-purpose", "no-case-link", "disclosure:bundle:released")


@pytest.fixture(scope="module")
def limited(site: Any) -> Any:
    """A person whose consent covers probation only, pulled by the police: every consent-dependent field
    is withheld, and the page must say why without contradicting the consent on record."""
    document = json.loads((ROOT / "schemas" / "examples" / "adult.json").read_text())
    document["subject"] = {
        "nhs_number": LIMITED_NHS,
        "names": [{"use": "official", "family": "Okoro", "given": ["Ada"]}],
        "date_of_birth": "1988-07-02",
    }
    document["case_links"] = [{"agency_code": "POL-NE", "case_reference": "01NE0099926"}]
    document["local_reference"] = "LD-NE-2026-000991"
    document["consent"] = {
        **document["consent"],
        "limited_to_agencies": ["PROB-NE"],
        "recorded_at": "2026-11-19T09:00:00Z",
    }
    ld = AgencyClient(site.base_url, site.clients["LD-NE"], load_private_key(site.key("LD-NE")))
    published = ld.request("POST", "/assessments", "ld-service", json=document)
    assert published.status_code == 201, published.text
    police = AgencyClient(site.base_url, site.clients["POL-NE"], load_private_key(site.key("POL-NE")))
    assert police.search("charging", LIMITED_NHS).status == 200
    trust = AgencyClient(site.base_url, site.clients["MHT-NE"], load_private_key(site.key("MHT-NE")))
    assert trust.search("health-referral", LIMITED_NHS).status == 404
    return site


def _no_raw_code_outside_details_or_glossary(page: Any) -> None:
    """A reader sees words: a code is visible only in an opened detail or the glossary at the foot."""
    for code in RAW_CODES:
        for element in page.get_by_text(code, exact=True).all():
            if element.is_visible():
                assert element.evaluate("e => !!e.closest('.ig-glossary, details[open]')"), code


def test_journey_who_saw_a_persons_record_and_why(page, limited, screens):
    sign_in(page, "ig-demo", limited.admin_password)
    page.wait_for_url("**/ig/")
    page.get_by_role("link", name="Disclosures", exact=True).click()
    page.get_by_label("NHS number").fill(LIMITED_NHS)
    page.get_by_role("button", name="Search").click()
    page.wait_for_url(re.compile(r".*/ig/disclosures\?subject=.*"))
    results = page.locator("table")
    expect(results.get_by_text("Northshire Police")).to_be_visible()
    expect(results.get_by_text("Charging decision")).to_be_visible()
    expect(results.get_by_text("This agency has no case with this person, so it may see nothing")).to_be_visible()
    _no_raw_code_outside_details_or_glossary(page)
    screens.take(page, "journey-1-who-saw-the-record")

    page.locator("tr", has_text="Northshire Police").get_by_role("link", name=re.compile("^View")).click()
    expect(page.get_by_role("heading", name="Shared with Northshire Police")).to_be_visible()
    consent = page.locator("dd", has_text="Given on 19 Nov 2026")
    assert consent.first.inner_text().startswith("Given on 19 Nov 2026, only for Probation Service, Northshire region")
    # The reason a field was withheld never says consent was not given: it was, for another agency.
    withheld = page.locator("section", has=page.get_by_role("heading", name=re.compile(r"^Withheld")))
    assert "has not been given" not in withheld.inner_text()
    expect(withheld.get_by_text("The person's consent covers other agencies, not this one").first).to_be_visible()
    # Fields in the document's sections, not in the order of their internal ids.
    sections = [h.inner_text() for h in page.locator("#released-title ~ h3").all()]
    assert sections[:2] == ["Identity", "Assessment"]
    _no_raw_code_outside_details_or_glossary(page)
    glossary = page.locator(".ig-glossary")
    expect(glossary.get_by_text("consent-limited-to-other-agency")).to_be_visible()
    screens.take(page, "journey-1-disclosure-and-why")

    # The code is one click away, for the service desk.
    why = withheld.locator("tr", has_text="Vulnerability summary").locator("details")
    why.locator("summary").click()
    assert why.locator("code").inner_text() == "consent-limited-to-other-agency"


def test_journey_verify_the_log(page, limited, screens):
    verified = subprocess.run([CLI, "audit", "verify"], env=limited.env, capture_output=True, text=True, timeout=120)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    sign_in(page, "auditor", AUDITOR_PASSWORD)
    page.wait_for_url("**/ig/")
    card = page.locator(".ig-card", has=page.get_by_role("heading", name="Log integrity"))
    expect(card.get_by_text("Intact")).to_be_visible()
    expect(card.get_by_text(re.compile(r"Last verified .* by the ld-gateway audit verify command"))).to_be_visible()
    screens.take(page, "journey-2-dashboard-after-the-command")

    page.get_by_role("link", name="Verify the log").click()
    page.get_by_role("button", name="Verify the whole log now").click()
    page.get_by_role("heading", name="The log is intact").wait_for(timeout=30_000)
    expect(page.get_by_text("nothing in the log has been changed, removed or put out of order")).to_be_visible()
    screens.take(page, "journey-2-verified")
    page.get_by_role("link", name="Dashboard", exact=True).click()
    card = page.locator(".ig-card", has=page.get_by_role("heading", name="Log integrity"))
    expect(card.get_by_text(re.compile(r"by the IG integrity page \(Auditor\)"))).to_be_visible()
    page.get_by_role("link", name="Integrity", exact=True).click()
    history = page.locator("table", has=page.get_by_role("columnheader", name="Run by"))
    expect(history.get_by_text("the ld-gateway audit verify command").first).to_be_visible()
    expect(history.get_by_text("the IG integrity page (Auditor)").first).to_be_visible()
    screens.take(page, "journey-2-integrity-history")


def test_journey_answer_a_subject_access_request(page, limited, screens):
    sign_in(page, "ig-demo", limited.admin_password)
    page.wait_for_url("**/ig/")
    page.get_by_role("link", name="Subject report", exact=True).click()
    page.get_by_label("The person's NHS number").fill(LIMITED_NHS)
    page.get_by_role("button", name="Create the report").click()
    expect(page.get_by_text("1 released, 1 refused")).to_be_visible()
    report = page.locator("table")
    shared = report.locator("tr", has_text="Northshire Police")
    expect(shared.get_by_text(re.compile("^Identity:"))).to_be_visible()
    expect(shared.get_by_text(re.compile("Given on 19 Nov 2026, only for Probation Service"))).to_be_visible()
    refused = report.locator("tr", has_text="Northshire Mental Health NHS Trust")
    refusal = re.compile("Nothing was shared. Refused because: This agency has no case")
    expect(refused.get_by_text(refusal)).to_be_visible()
    _no_raw_code_outside_details_or_glossary(page)
    screens.take(page, "journey-3-subject-access-report")
    page.emulate_media(media="print")
    expect(page.get_by_text("Details, including what was withheld and why").first).not_to_be_visible()
    page.emulate_media(media="screen")


def test_every_page_fits_a_320_pixel_screen_and_has_a_favicon(chromium, limited, screens):
    context = chromium.new_context(base_url=limited.base_url, viewport={"width": 320, "height": 640})
    page = context.new_page()
    try:
        sign_in(page, "ig-demo", limited.admin_password)
        page.wait_for_url("**/ig/")
        page.goto("/ig/disclosures")
        page.get_by_label("NHS number").fill(LIMITED_NHS)
        page.get_by_role("button", name="Search").click()
        page.wait_for_url(re.compile(r".*/ig/disclosures\?subject=.*"))
        detail = page.locator("a", has_text=re.compile("^View")).first.get_attribute("href")
        for name, path in [*PAGES.items(), ("disclosure-detail", detail)]:
            page.goto(path)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 320, (name, width)
        screens.take(page, "narrow-320-disclosure-detail")
        icon = page.locator("link[rel=icon]").get_attribute("href")
        answer = page.request.get(icon)
        assert answer.status == 200 and answer.headers["content-type"].startswith("image/svg+xml")
    finally:
        context.close()


def test_screenshots_of_every_page(chromium, site, screens):
    """Last in the module: the pages the tests above photographed (none, and a skip, without a browser)."""
    expected = {
        *PAGES,
        "sign-in",
        "disclosure-detail",
        "subject-report",
        "verification",
        "refused-admin-action",
        "locked-out",
        "csrf-refused",
        "revoke-confirm",
        "client-revoked",
        "override-queue",
        "override-review",
        "journey-1-who-saw-the-record",
        "journey-1-disclosure-and-why",
        "journey-2-dashboard-after-the-command",
        "journey-2-verified",
        "journey-2-integrity-history",
        "journey-3-subject-access-report",
        "narrow-320-disclosure-detail",
    }
    assert expected <= screens.names

"""Every IG page view that shows a person's log entries is one log entry naming every key searched.

Attacks, and what holds them:
- paging through a person's results (`before=`) so that only the first page is logged: every page
  view is logged;
- putting the paging parameter first, or repeating parameters: the same;
- a decoy key first (or another person's key added, or the keys reordered) so that the entry names
  someone else: the results link is signed by the search that made it, a hand-made one is refused;
- a subject report naming only one of the person's keys: it names every key.
"""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qsl, urlencode

import pytest

from tests.ig.test_http import ADULT_NHS, CSRF, SEARCH, staff_events


def search(browser, nhs_number: str = ADULT_NHS) -> str:
    token = browser.csrf("/ig/disclosures")
    response = browser.post("/ig/disclosures/search", data={"csrf_token": token, "nhs_number": nhs_number})
    assert response.status_code == 303
    return response.headers["location"]


def keys_of(location: str) -> list[str]:
    return [v for k, v in parse_qsl(location.split("?", 1)[1]) if k == "subject"]


def test_every_results_page_is_one_entry_naming_every_key(gateway, staff, browser):
    dpop = gateway.auth("POL-NE", "charging")
    for _ in range(27):
        assert gateway.http.get(SEARCH, auth=dpop).status_code == 200
    browser.sign_in("auditor")
    location = search(browser)
    keys = keys_of(location)
    assert len(keys) == 2  # the person's subject key and the NHS number's own key
    first = browser.get(location)
    assert "27 entries found for this person" in first.text
    older = html.unescape(re.search(r'href="(/ig/disclosures\?[^"]*before=\d+)"', first.text).group(1))
    second = browser.get(older)
    assert second.text.count('">View<') == 2
    # The same page again, the paging parameter first, and with a parameter repeated.
    query = dict(parse_qsl(older.split("?", 1)[1]))
    reordered = [("before", query["before"])] + [(k, v) for k, v in parse_qsl(older.split("?", 1)[1]) if k != "before"]
    assert browser.get("/ig/disclosures?" + urlencode(reordered)).status_code == 200
    assert browser.get(older + "&kind=disclosures&kind=disclosures").status_code == 200
    searches = staff_events(gateway, "ig:disclosure:search")
    assert len(searches) == 4
    for entry in searches:
        assert entry["subject_keys"] == keys and entry["subject_key"] == keys[0]
        assert entry["client_id"] == f"staff:{staff['auditor']}"
        assert ADULT_NHS not in str(entry)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda keys, sig: [("subject", "a" * 64), *[("subject", k) for k in keys], ("sig", sig)],  # decoy first
        lambda keys, sig: [*[("subject", k) for k in reversed(keys)], ("sig", sig)],  # reordered
        lambda keys, sig: [("subject", keys[1]), ("sig", sig)],  # one key of the two
        lambda keys, sig: [*[("subject", k) for k in keys]],  # no signature
        lambda keys, sig: [
            *[("subject", k) for k in keys],
            ("sig", sig[:-1] + ("1" if sig.endswith("0") else "0")),
        ],  # forged
        lambda keys, sig: [*[("subject", k) for k in keys], ("sig", sig + "\xff")],  # not ASCII
    ],
)
def test_a_hand_made_results_link_is_refused_and_shows_nobody(gateway, staff, browser, tamper):
    gateway.http.get(SEARCH, auth=gateway.auth("POL-NE", "charging"))
    browser.sign_in("auditor")
    location = search(browser)
    keys = keys_of(location)
    sig = dict(parse_qsl(location.split("?", 1)[1]))["sig"]
    response = browser.get("/ig/disclosures?" + urlencode(tamper(keys, sig)))
    assert response.status_code == 400
    assert "This search link is not valid" in html.unescape(response.text)
    assert "entries found" not in response.text and "entry found" not in response.text
    assert response.headers["content-security-policy"].startswith("default-src 'none'")
    assert staff_events(gateway, "ig:disclosure:search") == []


def test_the_subject_report_names_every_key_of_the_person(gateway, staff, browser):
    gateway.http.get(SEARCH, auth=gateway.auth("PROB-NE", "sentencing"))
    browser.sign_in("auditor")
    keys = keys_of(search(browser))  # a search makes the keys without showing a page
    token = browser.csrf("/ig/subjects")
    assert browser.post("/ig/subjects/report", data={"csrf_token": token, "nhs_number": ADULT_NHS}).status_code == 200
    (report,) = staff_events(gateway, "ig:subject:report")
    assert report["subject_keys"] == keys and report["subject_key"] == keys[0]


def test_paging_past_int64_is_a_400_page_with_the_security_headers(gateway, staff, browser):
    browser.sign_in("auditor")
    location = search(browser)
    for before in (str(2**63), str(-1), "9" * 400):
        response = browser.get(location + f"&before={before}")
        assert response.status_code == 400, before
        assert response.headers["content-security-policy"].startswith("default-src 'none'")
        assert response.headers["x-frame-options"] == "DENY"
        assert CSRF.search(response.text) or "<html" in response.text.lower()

"""The second edition against the first: every cell that departs has its reason, and the page and the IG
sign-off document show them."""

from __future__ import annotations

import html
import json

import pytest

from gateway.assessments.catalogue import load_catalogue
from gateway.policy import compute_matrix
from gateway.policy.editions import changes_from_first_edition, load_first_edition
from gateway.policy.matrix import matrix_decisions
from gateway.policy.matrix_html import render_matrix_html

from .conftest import CATALOGUE_FILE, POLICY_DIR, ROOT

FIRST = load_first_edition(POLICY_DIR)


@pytest.fixture(scope="module")
def changes(cached_engine, catalogue_ids):
    assert FIRST is not None
    return changes_from_first_edition(compute_matrix(cached_engine, catalogue_ids=catalogue_ids), FIRST)


def test_every_departing_cell_has_a_reason_and_every_reason_a_cell(changes):
    assert changes, "the second edition departs from the first"
    unexplained = [(c.cell, c.field, c.change) for c in changes if c.departure is None]
    assert unexplained == []
    # A cell two departures speak for (a YOT's adult record, refused, also lost clinical detail) is told
    # by the first in the data; every departure is the one told for some cell.
    assert {c.departure.id for c in changes} == {d.id for d in FIRST.departures}, "no reason without a cell"


def test_the_first_edition_record_is_what_the_first_edition_decided():
    released = FIRST.released
    assert released[("police", "custody", "given", "adult")] == frozenset()  # no custody purpose then
    assert "fitness.interview" in released[("court", "case-management", "given", "adult")]
    assert "clinical.detail" in released[("yot", "sentencing", "given", "adult")]
    assert "identity.case_references" in released[("health", "health-referral", "given", "adult")]
    assert len(released) == 6 * 5 * 4 * 2


@pytest.mark.parametrize(
    ("cell", "field", "change", "departure"),
    [
        (("police", "custody", "declined", "adult"), "fitness.interview", "released", "custody-purpose"),
        (
            ("health", "health-referral", "declined", "child"),
            "identity.name",
            "withheld",
            "health-no-referral-without-consent",
        ),
        (("yot", "sentencing", "given", "adult"), "clinical.diagnoses", "withheld", "yot-never-an-adult"),
        (
            ("health", "health-referral", "given", "adult"),
            "identity.pnc_id",
            "withheld",
            "cj-identifiers-never-to-health",
        ),
        (("court", "case-management", "declined", "adult"), "fitness.plead", "released", "fair-trial-at-court"),
        (
            ("court", "sentencing", "given", "child"),
            "treatment.requirements",
            "withheld",
            "treatment-requirements-by-age",
        ),
    ],
)
def test_known_departures_carry_their_reason(changes, cell, field, change, departure):
    (found,) = [c for c in changes if c.cell == cell and c.field == field]
    assert (found.change, found.departure.id) == (change, departure)


def test_the_matrix_page_marks_each_departing_cell_and_lists_the_reasons(cached_engine, changes):
    titles = {f.id: f.title for f in load_catalogue(CATALOGUE_FILE)}
    page = render_matrix_html(
        matrix_decisions(cached_engine),
        field_titles=titles,
        revision=cached_engine.revision,
        generated="x",
        edition_changes=changes,
    )
    # Every departing cell of a current field is marked (a field the second edition split, the first
    # edition's case references, has no row of its own: its departure is listed below).
    assert page.count('<span class="edition">') == len([c for c in changes if c.field in titles])
    assert 'withheld in the first edition: <a href="#edition-custody-purpose">custody-purpose</a>' in page
    assert 'released in the first edition: <a href="#edition-yot-never-an-adult">' in page
    text = html.unescape(page)
    for departure in FIRST.departures:
        assert f'id="edition-{departure.id}"' in page
        assert departure.reason in text


def test_the_ig_sign_off_document_gives_every_reason():
    doc = (ROOT / "docs" / "policy.md").read_text()
    for departure in FIRST.departures:
        assert f"`{departure.id}`" in doc, departure.id
        assert " ".join(departure.reason.split()) in " ".join(doc.split()), departure.id


def test_departures_name_only_known_fields_agency_types_and_purposes(catalogue_ids):
    raw = json.loads((POLICY_DIR / "first-edition" / "departures.json").read_text())
    first_ids = {
        f for r in json.loads((POLICY_DIR / "first-edition" / "matrix.json").read_text())["rows"] for f in r["released"]
    }
    data = json.loads((POLICY_DIR / "data.json").read_text())["gateway"]
    for d in raw["departures"]:
        assert set(d.get("fields", ())) <= set(catalogue_ids) | first_ids, d["id"]
        assert set(d.get("agency_types", ())) <= set(data["agency_types"]), d["id"]
        assert set(d.get("purposes", ())) <= set(data["purposes"]), d["id"]

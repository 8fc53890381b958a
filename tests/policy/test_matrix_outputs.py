"""``policy matrix --csv`` and ``--html``: the same decisions, in a sheet and on a page IG can sign."""

from __future__ import annotations

import csv
import io
from html.parser import HTMLParser

import pytest

from gateway.assessments.catalogue import load_catalogue
from gateway.policy import compute_matrix
from gateway.policy.matrix import matrix_csv, matrix_decisions
from gateway.policy.matrix_html import render_matrix_html

from .conftest import CATALOGUE_FILE


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.cells: list[str] = []
        self._in_td = False
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "td":
            self._in_td, self.cells = True, [*self.cells, ""]

    def handle_endtag(self, tag):
        if tag == "td":
            self._in_td = False

    def handle_data(self, data):
        self.text.append(data)
        if self._in_td:
            self.cells[-1] += data


@pytest.fixture(scope="module")
def decisions(cached_engine):
    return matrix_decisions(cached_engine)


@pytest.fixture(scope="module")
def page(decisions, engine):
    titles = {f.id: f.title for f in load_catalogue(CATALOGUE_FILE)}
    html = render_matrix_html(decisions, field_titles=titles, revision=engine.revision, generated="2026-11-26")
    parser = Page()
    parser.feed(html)
    return html, parser


def test_the_page_is_self_contained_and_accessible(page, engine):
    html, parser = page
    tags = [t for t, _ in parser.tags]
    assert html.startswith("<!DOCTYPE html>")
    assert dict(parser.tags[0][1]).get("lang") == "en-GB"
    assert tags.count("h1") == 1 and "title" in tags
    assert "script" not in tags and "img" not in tags and "link" not in tags
    assert all((a.get("href") or "#").startswith("#") for t, a in parser.tags if t == "a")
    assert tags.count("table") == tags.count("caption")
    assert all(a.get("scope") in ("col", "row") for t, a in parser.tags if t == "th")
    assert engine.revision in html


def test_every_cell_says_in_words_what_the_engine_decided(page, decisions, catalogue_ids):
    _, parser = page
    field_cells = [c for c in parser.cells if c.startswith(("Released", "Withheld"))]
    allowed_pairs = {(a, p) for (a, p, _, _), d in decisions if d.allowed}
    in_tables = [d for (a, p, _, _), d in decisions if (a, p) in allowed_pairs]
    assert len(field_cells) == len(in_tables) * len(catalogue_ids)
    released = sum(len(d.released) for d in in_tables)
    assert sum(c == "Released" for c in field_cells) == released
    assert all(c == "Released" or (c.startswith("Withheld") and len(c) > len("Withheld")) for c in field_cells)


def test_refusals_and_rules_are_listed(page, decisions):
    html, _ = page
    assert "child-subject-yot-not-probation" in html
    for _, decision in decisions:
        for w in decision.withheld:
            assert w.rule in html
    assert "Sign-off" in html


def test_csv_has_one_line_per_cell_and_field(cached_engine, catalogue_ids):
    rows = compute_matrix(cached_engine)
    lines = list(csv.reader(io.StringIO(matrix_csv(rows))))
    assert lines[0] == ["agency_type", "purpose", "consent", "age_group", "field", "released"]
    assert len(lines) == 1 + len(rows) * len(catalogue_ids)
    by_key = {(r["agency_type"], r["purpose"], r["consent"], r["age_group"]): set(r["released"]) for r in rows}
    for a, p, c, g, field, released in lines[1:]:
        assert (released == "yes") == (field in by_key[a, p, c, g])

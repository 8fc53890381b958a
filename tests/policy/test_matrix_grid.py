"""``policy matrix`` on a terminal: a compact grid whose every mark agrees with the matrix rows."""

from __future__ import annotations

import re

import pytest

from gateway.assessments.catalogue import load_catalogue
from gateway.policy import compute_matrix
from gateway.policy.matrix_grid import ALWAYS, NEVER, format_grid, purpose_abbreviations

from .conftest import CATALOGUE_FILE


@pytest.fixture(scope="module")
def rows(cached_engine):
    return compute_matrix(cached_engine)


def _grid(lines: list[str]) -> tuple[dict[tuple[str, str, str], str], dict[str, str]]:
    """Parse the grid back: (agency type, purpose head, field) -> mark, and the key's descriptions."""
    marks: dict[tuple[str, str, str], str] = {}
    key: dict[str, str] = {}
    blocks = "\n".join(lines).split("\n\n")
    for block in blocks:
        body = block.splitlines()
        if body and body[0].startswith("Key:"):
            key = {line.split()[0]: " ".join(line.split()[1:]) for line in body[1:] if not line.startswith("     ")}
        if len(body) < 3 or not body[1].startswith("field"):
            continue
        top, sub = body[0], body[1]
        columns = [i for i, ch in enumerate(sub) if i > 0 and sub[i - 1] == " " and ch != " "]
        agencies = [(m.start(), m.group()) for m in re.finditer(r"\S+", top)]
        for line in body[2:]:
            field = line.split()[0]
            for i in columns:
                agency = max((start, name) for start, name in agencies if start <= i)[1]
                marks[(agency, sub[i : i + 2].strip(), field)] = line[i : i + 2].strip()
    return marks, key


def test_the_grid_fits_80_columns_and_agrees_with_every_row(rows):
    fields = list(load_catalogue(CATALOGUE_FILE).ids)
    lines = format_grid(rows, fields, width=80)
    assert max(len(line) for line in lines) <= 80
    assert len(lines) < 80, "a screen or two, not 900 lines"
    marks, key = _grid(lines)
    heads = purpose_abbreviations(list(dict.fromkeys(r["purpose"] for r in rows)))
    every_field_listed = {field for (_, _, field) in marks}
    assert every_field_listed == set(fields)  # in full: identity.crn and identity.cro_number apart
    checked = 0
    for (agency, head, field), mark in marks.items():
        purpose = next(p for p, h in heads.items() if h == head)
        cells = [r for r in rows if (r["agency_type"], r["purpose"]) == (agency, purpose)]
        released = [field in r["released"] for r in cells]
        if mark == ALWAYS:
            assert all(released), (agency, purpose, field)
        elif mark == NEVER:
            assert not any(released), (agency, purpose, field)
        else:
            assert any(released) and not all(released), (agency, purpose, field)
            words = key[mark]
            for r in cells:
                if field in r["released"]:
                    assert r["consent"] in words or "always" in words, (agency, purpose, field, words)
        checked += 1
    assert checked > 100


def test_a_purpose_refused_outright_has_no_column_and_is_named(rows):
    lines = format_grid(rows, list(load_catalogue(CATALOGUE_FILE).ids), width=80)
    text = "\n".join(lines)
    refused = " ".join(text.split("Refused outright (not shown):")[1].split())
    assert "police (" in refused and "health-referral" in refused
    police_purposes = {r["purpose"] for r in rows if r["agency_type"] == "police" and r["released"]}
    marks, _ = _grid(lines)
    assert {h for (a, h, _) in marks if a == "police"} == {purpose_abbreviations([p])[p] for p in police_purposes}


def test_a_narrow_terminal_gets_the_agency_types_in_more_than_one_grid(rows):
    lines = format_grid(rows, list(load_catalogue(CATALOGUE_FILE).ids), width=50)
    assert max(len(line) for line in lines) <= 50
    assert sum(1 for line in lines if line.startswith("field")) >= 2


def test_purpose_heads_are_unique():
    heads = purpose_abbreviations(["charging", "case-management", "custody", "charter", "health-referral"])
    assert len(set(heads.values())) == 5 and heads["case-management"] == "CM"

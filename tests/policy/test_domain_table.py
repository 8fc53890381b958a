"""The policy against the table it encodes: DOMAIN.md's "What recipients need, by decision stage".

The table is kept verbatim in docs/policy.md (between the ``domain-table`` markers) and parsed here, row
by row and cell by cell. Where the data deliberately goes beyond or below a cell, the departure is listed
in ``DEPARTURES`` with its reason, and docs/policy.md states the same: an undocumented difference fails.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gateway.policy import compute_matrix

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "policy.md"

COLUMNS = {  # the table's columns: purpose, and the agency types the heading names
    1: ("charging", ("police", "cps")),
    2: ("case-management", ("court", "probation", "yot")),
    3: ("sentencing", ("court", "probation", "yot")),
    4: ("health-referral", ("health",)),
}

ROWS = {  # the table's items (by their first words) and the catalogue fields they cover
    "identity": (
        "identity.name",
        "identity.date_of_birth",
        "identity.nhs_number",
        "identity.pnc_id",
        "identity.cro_number",
        "identity.crn",
        "identity.case_references",
    ),
    "vulnerability summary": ("vulnerability.summary",),
    "appropriate adult": ("needs.appropriate_adult", "needs.communication", "needs.intermediary"),
    "fitness to be interviewed": ("fitness.interview", "fitness.plead"),
    "suitability for diversion": ("diversion.suitability",),
    "treatment requirement": ("treatment.requirements",),
    "diagnoses and clinical detail": ("clinical.diagnoses", "clinical.detail"),
    "risk to self/others": ("risk.assessment", "risk.safeguarding"),
    "referrals made": ("referrals.made", "referrals.engagement"),
    "third-party": ("third_party.information",),
}

ALWAYS, WITH_CONSENT, NEVER = "released", "with consent", "withheld"

# (field, purpose, agency type) -> what the data does instead of the cell, and why (docs/policy.md).
DEPARTURES = {
    # "only if relevant, court": diagnoses with consent; clinical detail is never needed to manage a case.
    ("clinical.detail", "case-management", "court"): NEVER,
    # For under-18s the YOT writes the pre-sentence report probation would: it mirrors probation.
    ("treatment.requirements", "sentencing", "yot"): ALWAYS,
    ("referrals.made", "sentencing", "yot"): ALWAYS,
    ("referrals.engagement", "sentencing", "yot"): ALWAYS,
    ("clinical.diagnoses", "sentencing", "yot"): WITH_CONSENT,
    ("clinical.detail", "sentencing", "yot"): WITH_CONSENT,
}


def table_rows() -> list[list[str]]:
    text = DOC.read_text(encoding="utf-8")
    block = re.search(r"<!-- domain-table:start -->\n(.*?)<!-- domain-table:end -->", text, re.S)
    assert block, "docs/policy.md must carry DOMAIN.md's table between the domain-table markers"
    lines = [line for line in block.group(1).splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]


def cell_meaning(cell: str, agency_type: str) -> str:
    """What one cell says about one agency type of its column."""
    text = cell.lower()
    if text in ("no", "\u2013", "-"):  # an en dash marks "not at this stage"
        return NEVER
    if text.startswith("yes") or text == "minimised":
        return ALWAYS
    named = {"court", "probation", "yot", "health"} & set(re.findall(r"[a-z]+", text))
    if agency_type not in named:
        return NEVER
    return WITH_CONSENT if "consent" in text or "if relevant" in text else ALWAYS


def expected() -> dict[tuple[str, str, str], str]:
    rows = table_rows()
    assert len(rows) == len(ROWS), "one table row per item"
    out: dict[tuple[str, str, str], str] = {}
    for row in rows:
        (fields,) = [f for key, f in ROWS.items() if row[0].lower().startswith(key)]
        for column, (purpose, agency_types) in COLUMNS.items():
            for agency_type in agency_types:
                for field in fields:
                    key = (field, purpose, agency_type)
                    out[key] = DEPARTURES.get(key, cell_meaning(row[column], agency_type))
    return out


@pytest.fixture(scope="module")
def adult_rows(engine):
    return {
        (r["agency_type"], r["purpose"], r["consent"]): set(r["released"])
        for r in compute_matrix(engine)
        if r["age_group"] == "adult"
    }


def test_the_table_is_parsed_completely():
    table = expected()
    assert len(table) == sum(len(f) for f in ROWS.values()) * 9
    assert set(table.values()) == {ALWAYS, WITH_CONSENT, NEVER}


@pytest.mark.parametrize("item", list(ROWS))
def test_each_table_row_matches_the_matrix(item, adult_rows):
    problems = []
    for (field, purpose, agency_type), meaning in expected().items():
        if field not in ROWS[item]:
            continue
        given = field in adult_rows[agency_type, purpose, "given"]
        declined = field in adult_rows[agency_type, purpose, "declined"]
        if meaning == NEVER and given:
            problems.append(f"{field} released to {agency_type} at {purpose}; the table says no")
        if meaning in (ALWAYS, WITH_CONSENT) and not given:
            problems.append(f"{field} withheld from {agency_type} at {purpose} with consent; the table says yes")
        if meaning == WITH_CONSENT and declined:
            problems.append(
                f"{field} released to {agency_type} at {purpose} without consent; the table says with consent"
            )
    assert not problems, "\n".join(problems)


def test_the_two_fields_the_table_does_not_name_go_wherever_anything_goes(adult_rows):
    # assessment.context and consent.status: who assessed, and whether consent was given (docs/policy.md).
    for (agency_type, purpose, consent), released in adult_rows.items():
        if released:
            assert {"assessment.context", "consent.status"} <= released, (agency_type, purpose, consent)


def test_a_departure_that_matches_the_table_is_not_a_departure():
    # Keeps DEPARTURES honest: each entry must actually differ from the table's own cell.
    rows = {r[0].lower(): r for r in table_rows()}
    for (field, purpose, agency_type), meaning in DEPARTURES.items():
        (item,) = [k for k, f in ROWS.items() if field in f]
        (row,) = [r for key, r in rows.items() if key.startswith(item)]
        (column,) = [c for c, (p, _) in COLUMNS.items() if p == purpose]
        assert cell_meaning(row[column], agency_type) != meaning, (field, purpose, agency_type)

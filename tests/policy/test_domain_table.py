"""The policy against the table it encodes: DOMAIN.md's "What recipients need, by decision stage" (second
edition) and its "Without consent" minimum.

Both are kept verbatim in docs/policy.md (between the ``domain-table`` and ``without-consent`` markers; a
test checks the copy against DOMAIN.md itself when the project's shared notes are beside the checkout)
and parsed here. Every cell of ``policy matrix --json`` (agency type x purpose x consent x age group) is
compared with what the table and the paragraph say, exactly: a field released that the table does not
give fails, and so does one withheld that it does. Fields the table does not name are listed in
``NOT_IN_THE_TABLE`` with their reason, and docs/policy.md states the same.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gateway.policy import compute_matrix
from gateway.policy.matrix import AGE_GROUPS, CONSENTS

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "policy.md"
# The project's shared notes sit beside the checkout (../shared) or one level further out.
SHARED_DOMAIN = [p / "shared" / "DOMAIN.md" for p in (ROOT.parent, ROOT.parent.parent)]

COLUMNS = {  # the table's columns: purpose, and the agency types the heading names
    1: ("custody", ("police",)),
    2: ("charging", ("police", "cps")),
    3: ("case-management", ("court", "probation", "yot")),
    4: ("sentencing", ("court", "probation", "yot")),
    5: ("health-referral", ("health",)),
}

ROWS = {  # the table's items (by their first words) and the catalogue fields they cover
    "name, date of birth": ("identity.name", "identity.date_of_birth", "identity.nhs_number"),
    "criminal-justice identifiers": (
        "identity.pnc_id",
        "identity.cro_number",
        "identity.crn",
        "identity.cj_case_references",
    ),
    "health agencies' case references": ("identity.health_case_reference",),
    "vulnerability summary": ("vulnerability.summary",),
    "communication needs": ("needs.communication",),
    "appropriate adult": ("needs.appropriate_adult",),
    "intermediary": ("needs.intermediary",),
    "fitness to be interviewed": ("fitness.interview",),
    "concerns about fitness to plead": ("fitness.plead",),
    "suitability for diversion": ("diversion.suitability",),
    "treatment requirement": ("treatment.requirements",),
    "diagnoses": ("clinical.diagnoses",),
    "clinical detail": ("clinical.detail", "clinical.capacity"),
    "risk to self/others": ("risk.assessment", "risk.safeguarding"),
    "referrals made": ("referrals.made", "referrals.engagement"),
    "third-party": ("third_party.information", "consent.given_by"),
}

# Fields the table does not name, and where they go (docs/policy.md, "Beyond the table", says why).
# assessment.context and consent.status go with every disclosure that releases anything.
WITH_EVERYTHING = ("assessment.context", "consent.status")
# Youth rehabilitation order requirements go where adult treatment requirements would, for children.
YOUTH_REQUIREMENTS = {("court", "sentencing"), ("yot", "sentencing"), ("health", "health-referral")}
NOT_IN_THE_TABLE = (*WITH_EVERYTHING, "treatment.youth_requirements")

# Refused outright by age (DOMAIN.md: under-18s go to the YOT, not probation; a YOT has no business with
# an adult).
REFUSED_BY_AGE = {("probation", "child"), ("yot", "adult")}

# The minimum paragraph's recipients and items, mapped to the table's columns and rows.
MINIMUM_RECIPIENTS = {
    "custody and charging": (("police", "custody"), ("police", "charging"), ("cps", "charging")),
    "court": (("court", "case-management"), ("court", "sentencing")),
    "probation, yot": tuple((a, p) for a in ("probation", "yot") for p in ("case-management", "sentencing")),
    "health referral": (("health", "health-referral"),),
}
MINIMUM_ITEMS = {  # words in the paragraph -> table rows
    "identity": ("name, date of birth", "criminal-justice identifiers", "health agencies' case references"),
    "communication needs": ("communication needs",),
    "appropriate adult": ("appropriate adult",),
    "intermediary": ("intermediary",),
    "fitness to be interviewed": ("fitness to be interviewed",),
    "fitness to plead": ("concerns about fitness to plead",),
}

ALWAYS, WITH_CONSENT, NEVER = "released", "with consent", "withheld"


def _block(text: str, name: str) -> str:
    block = re.search(rf"<!-- {name}:start -->\n(.*?)<!-- {name}:end -->", text, re.S)
    assert block, f"docs/policy.md must carry DOMAIN.md's text between the {name} markers"
    return block.group(1).strip()


def table_rows() -> list[list[str]]:
    lines = [line for line in _block(DOC.read_text(encoding="utf-8"), "domain-table").splitlines()]
    rows = [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in lines if line.startswith("|")]
    header = rows[0]
    assert [h.split(" (")[0] for h in header[1:]] == [
        "custody",
        "charging",
        "case management",
        "sentencing",
        "health referral",
    ], "the table's columns changed: update COLUMNS"
    return rows[2:]


def cell_meaning(cell: str, agency_type: str, age_group: str) -> str:
    """What one cell says about one agency type of its column, for one age group."""
    text = cell.lower().replace("*", "")
    if text in ("no", "never", "\u2013", "-"):  # an en dash marks "not at this stage"
        return NEVER
    if text.startswith("yes") or text in ("minimised", "its own only"):
        return ALWAYS
    if text == "youth court":
        return ALWAYS if agency_type == "court" and age_group == "child" else NEVER
    named = {"court", "probation", "yot", "health"} & set(re.findall(r"[a-z]+", text))
    if agency_type not in named:
        return NEVER
    return WITH_CONSENT if "consent" in text else ALWAYS


def _row_key(item: str) -> str:
    (key,) = [k for k in ROWS if item.lower().startswith(k)]
    return key


def given_sets() -> dict[tuple[str, str, str], set[str]]:
    """(agency type, purpose, age group) -> the fields released with effective consent, per the table."""
    rows = table_rows()
    assert sorted(_row_key(r[0]) for r in rows) == sorted(ROWS), "one table row per item"
    out: dict[tuple[str, str, str], set[str]] = {}
    for column, (purpose, agency_types) in COLUMNS.items():
        for agency_type in agency_types:
            for age_group in AGE_GROUPS:
                fields = set()
                for row in rows:
                    adults_only = "adults only" in row[0].lower()
                    if adults_only and age_group == "child":
                        continue
                    if cell_meaning(row[column], agency_type, age_group) != NEVER:
                        fields.update(ROWS[_row_key(row[0])])
                if age_group == "child" and (agency_type, purpose) in YOUTH_REQUIREMENTS:
                    fields.add("treatment.youth_requirements")
                out[agency_type, purpose, age_group] = fields | set(WITH_EVERYTHING)
    return out


def with_consent_only() -> set[tuple[str, str, str]]:
    """(field, agency type, purpose) the table gives only with the person's consent."""
    out = set()
    for row in table_rows():
        for column, (purpose, agency_types) in COLUMNS.items():
            for agency_type in agency_types:
                if cell_meaning(row[column], agency_type, "adult") == WITH_CONSENT:
                    out.update((f, agency_type, purpose) for f in ROWS[_row_key(row[0])])
    return out


def minimum_rows() -> dict[tuple[str, str], set[str]]:
    """(agency type, purpose) -> the table rows the "Without consent" paragraph gives that recipient."""
    text = " ".join(_block(DOC.read_text(encoding="utf-8"), "without-consent").split())
    listing = re.search(r"never more: (.*?)\. A recorded", text)
    assert listing, "the without-consent paragraph changed shape: update this parser"
    out: dict[tuple[str, str], set[str]] = {}
    for segment in listing.group(1).split("; "):
        recipients, _, items = segment.partition(": ")
        pairs = MINIMUM_RECIPIENTS[recipients.lower()]
        named: set[str] = set()
        if not items.lower().startswith("**nothing**"):
            for words, table_items in MINIMUM_ITEMS.items():
                if words in items.lower():
                    named.update(table_items)
        for pair in pairs:
            out[pair] = named
    assert set(out) == {pair for pairs in MINIMUM_RECIPIENTS.values() for pair in pairs}
    return out


def expected_matrix() -> dict[tuple[str, str, str, str], list[str] | None]:
    """Every matrix cell: the sorted released fields, or None where the table gives nothing (refused)."""
    given, minimum = given_sets(), minimum_rows()
    out: dict[tuple[str, str, str, str], list[str] | None] = {}
    for (agency_type, purpose, age_group), fields in given.items():
        for consent in CONSENTS:
            key = (agency_type, purpose, consent, age_group)
            if (agency_type, age_group) in REFUSED_BY_AGE:
                out[key] = None
                continue
            if consent == "given":
                out[key] = sorted(fields)
                continue
            rows = minimum[agency_type, purpose]
            least = {f for row in rows for f in ROWS[row]} & fields
            out[key] = sorted(least | set(WITH_EVERYTHING)) if least else None
    return out


@pytest.fixture(scope="module")
def matrix(cached_engine) -> dict[tuple[str, str, str, str], dict]:
    return {(r["agency_type"], r["purpose"], r["consent"], r["age_group"]): r for r in compute_matrix(cached_engine)}


def test_the_copy_in_docs_is_domain_md_verbatim():
    domain = next((p for p in SHARED_DOMAIN if p.exists()), None)
    if domain is None:
        pytest.skip("the project's shared DOMAIN.md is not beside this checkout")
    text = " ".join(domain.read_text(encoding="utf-8").split())
    doc = DOC.read_text(encoding="utf-8")
    for name in ("domain-table", "without-consent"):
        assert " ".join(_block(doc, name).split()) in text, f"docs/policy.md's {name} differs from DOMAIN.md"


def test_the_table_is_parsed_completely():
    expected = expected_matrix()
    assert len(expected) == 10 * len(CONSENTS) * len(AGE_GROUPS)
    assert with_consent_only() == {
        ("clinical.diagnoses", "court", "case-management"),
        ("clinical.diagnoses", "probation", "sentencing"),
        ("clinical.diagnoses", "yot", "sentencing"),
        ("clinical.detail", "probation", "sentencing"),
        ("clinical.capacity", "probation", "sentencing"),
    }
    assert minimum_rows()["health", "health-referral"] == set()
    assert minimum_rows()["court", "case-management"] >= {"intermediary", "appropriate adult"}


@pytest.mark.parametrize("column", sorted({(a, p) for _, (p, agencies) in COLUMNS.items() for a in agencies}))
def test_every_cell_of_the_matrix_matches_the_table(column, matrix):
    problems = []
    for key, fields in expected_matrix().items():
        if key[:2] != column:
            continue
        row = matrix[key]
        got = row["released"] or None
        if got != fields:
            extra = sorted(set(got or ()) - set(fields or ()))
            missing = sorted(set(fields or ()) - set(got or ()))
            problems.append(f"{key}: released beyond the table {extra}; withheld though the table gives {missing}")
    assert not problems, "\n".join(problems)


def test_consent_only_fields_are_withheld_without_consent(matrix):
    for field, agency_type, purpose in with_consent_only():
        for age_group in AGE_GROUPS:
            for consent in ("declined", "withdrawn", "not-possible"):
                assert field not in matrix[agency_type, purpose, consent, age_group]["released"]


def test_pairs_outside_the_table_are_refused(matrix):
    columns = {(a, p) for _, (p, agencies) in COLUMNS.items() for a in agencies}
    for (agency_type, purpose, consent, age_group), row in matrix.items():
        if (agency_type, purpose) not in columns:
            assert row["released"] == [], (agency_type, purpose, consent, age_group)


def test_fields_not_in_the_table_are_explained_in_the_docs(catalogue_ids):
    covered = {f for fields in ROWS.values() for f in fields} | set(NOT_IN_THE_TABLE)
    assert covered == set(catalogue_ids), "every catalogue field is a table row or explained"
    doc = DOC.read_text(encoding="utf-8")
    for field in NOT_IN_THE_TABLE:
        assert f"`{field}`" in doc, field

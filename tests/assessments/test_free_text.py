"""Diagnostic terms in free text bound for police and the CPS: matching, the term list, the warnings."""

from __future__ import annotations

import json

import pytest

from gateway.assessments.catalogue import load_catalogue
from gateway.assessments.free_text import (
    TERMS_FILE,
    DiagnosticTerms,
    canonical_path,
    diagnostic_term_warnings,
    free_texts,
    load_diagnostic_terms,
)
from gateway.assessments.snomed import DISORDERS, is_valid_sctid
from tests.conftest import ROOT
from tests.factories import example

CATALOGUE = load_catalogue(ROOT / "schemas" / "field-catalogue.json")
TERMS = load_diagnostic_terms(ROOT / "schemas")


@pytest.mark.parametrize(
    "text",
    [
        "He has ADHD.",
        "adhd",
        "known to be Autistic",
        "diagnosed with a personality\n  disorder last year",
        "PERSONALITY DISORDER",
        "history of psychosis; hears voices",
        "Asperger's",
        "post-traumatic stress disorder",
        "takes (clozapine)",
    ],
)
def test_a_term_is_found_whatever_its_case_and_spacing(text):
    assert TERMS.found_in(text)


@pytest.mark.parametrize(
    "text",
    [
        "He needs short, simple questions and a break every 20 minutes.",
        "psychotherapy",  # not psychosis / psychotic
        "BADHD",  # a term inside a longer word is not the term
        "autismo",
        "He was depressed about losing his job",  # plain language, not the clinical term
        "homeless since September",
        "",
    ],
)
def test_functional_language_and_longer_words_are_not_terms(text):
    assert not TERMS.found_in(text)


def test_every_snomed_disorder_the_gateway_knows_is_a_term_and_a_valid_sctid():
    for code, display in DISORDERS.items():
        assert is_valid_sctid(code), code
        assert TERMS.found_in(f"recorded as {display.lower()} in the notes"), display
        assert display in TERMS.terms


def test_the_term_file_is_a_list_of_distinct_non_blank_terms():
    raw = json.loads((ROOT / "schemas" / TERMS_FILE).read_text())
    terms = raw["terms"]
    assert terms and all(isinstance(t, str) and t == t.strip() and t for t in terms)
    assert len({t.casefold() for t in terms}) == len(terms)


def test_an_empty_or_blank_term_list_is_refused():
    with pytest.raises(ValueError):
        DiagnosticTerms(())
    with pytest.raises(ValueError):
        DiagnosticTerms(("ADHD", "  "))


def _fields(*ids):
    return [CATALOGUE.get(i) for i in ids]


def test_free_texts_name_each_text_by_its_pointer_in_lists_and_objects():
    document = example("child.json")
    assert [p for p, _ in free_texts(document, CATALOGUE.get("referrals.made"))] == [
        "/referrals/0/service",
        "/referrals/1/service",
        "/referrals/2/service",
    ]
    communication = [p for p, _ in free_texts(document, CATALOGUE.get("needs.communication"))]
    assert communication == [f"/needs/communication/needs/{i}" for i in range(4)] + ["/needs/communication/adjustments"]
    assert [p for p, _ in free_texts(document, CATALOGUE.get("vulnerability.summary"))] == ["/vulnerability_summary"]
    assert list(free_texts(document, CATALOGUE.get("clinical.diagnoses"))) == []  # coded, not free text


def test_a_warning_per_text_with_a_term_naming_where_it_is_never_what_it_says():
    document = example()
    document["needs"]["appropriate_adult"]["explanation"] = "Needs an appropriate adult because of his autism."
    document["needs"]["communication"]["needs"] = ["Short questions", "He has ADHD: keep sessions short"]
    document["risk"]["assessment"]["summary"] = "Low risk; no concerns."
    document["clinical_detail"] = "Paranoid schizophrenia, on clozapine."  # clinical: not in these fields
    fields = _fields("needs.appropriate_adult", "needs.communication", "risk.assessment")

    warnings = diagnostic_term_warnings(document, fields, TERMS, "police or the CPS")

    assert [(w.severity, w.code, w.expression) for w in warnings] == [
        ("warning", "business-rule", "needs.appropriate_adult.explanation"),
        ("warning", "business-rule", "needs.communication.needs[1]"),
    ]
    assert warnings[0].diagnostics.startswith(
        "needs.appropriate_adult (/needs/appropriate_adult/explanation): this text goes to police or the CPS"
    )
    for warning in warnings:
        assert not TERMS.found_in(warning.diagnostics), "the term found is never repeated"
        assert "appropriate adult because" not in warning.diagnostics and "keep sessions" not in warning.diagnostics


def test_no_text_no_warning():
    document = example()
    for key in ("vulnerability_summary", "engagement"):
        document.pop(key, None)
    assert (
        diagnostic_term_warnings(document, _fields("vulnerability.summary", "referrals.engagement"), TERMS, "x") == []
    )


@pytest.mark.parametrize(
    ("pointer", "path"),
    [
        ("/vulnerability_summary", "vulnerability_summary"),
        ("/referrals/10/service", "referrals[10].service"),
        ("/needs/communication/needs/0", "needs.communication.needs[0]"),
    ],
)
def test_a_pointer_is_told_as_the_canonical_path(pointer, path):
    assert canonical_path(pointer) == path

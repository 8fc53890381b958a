"""The IG pages' words: consent as the person gave it, fields by document section, codes with meanings."""

from __future__ import annotations

from gateway.assessments.catalogue import load_catalogue
from gateway.audit.events import AuditEvent, Outcome
from gateway.ig import plain
from tests.conftest import ROOT

NAMES = {"POL-NE": "Northshire Police", "YOT-NE": "Northshire Youth Offending Team"}


def test_consent_is_told_with_its_status_date_and_limits():
    entry = {
        "consent_status": "given",
        "consent_scope": {
            "recorded_on": "2026-11-21",
            "limited_to_agencies": ["POL-NE", "YOT-NE"],
            "limited_to_purposes": ["charging"],
            "gillick_competent": True,
            "best_interests_recorded": False,
        },
    }
    assert plain.consent_sentence(plain.consent_of(entry), NAMES) == (
        "Given on 21 Nov 2026, only for Northshire Police and Northshire Youth Offending Team, and only for "
        "charging decision; the child was assessed as Gillick competent."
    )
    unlimited = {"consent_status": "given", "consent_scope": {"recorded_on": "2026-11-20"}}
    assert plain.consent_sentence(plain.consent_of(unlimited), NAMES) == (
        "Given on 20 Nov 2026, for every agency and purpose."
    )


def test_an_entry_from_before_the_scope_was_logged_says_so_and_none_says_none():
    old = plain.consent_sentence(plain.consent_of({"consent_status": "declined"}), NAMES)
    assert old.startswith("Declined") and "predates" in old
    assert plain.consent_sentence(plain.consent_of({}), NAMES) == "No consent was recorded on the assessment."


def test_fields_group_by_the_documents_sections_in_its_order():
    titles = {f.id: f.title for f in load_catalogue(ROOT / "schemas" / "field-catalogue.json")}
    groups = plain.by_section(["risk.assessment", "identity.crn", "needs.communication", "identity.name"], titles)
    assert [section for section, _ in groups] == ["Identity", "Needs and adjustments", "Risk and safeguarding"]
    assert [fid for fid, _ in groups[0][1]] == ["identity.name", "identity.crn"]  # catalogue order, not id order
    every = plain.by_section(list(titles), titles)
    assert sum(len(fields) for _, fields in every) == len(titles)
    assert "Other" not in dict(every), "every catalogue field belongs to a section of the document"


def test_every_event_and_rule_has_words_and_an_unknown_code_still_reads():
    assert {str(e) for e in AuditEvent} <= set(plain.EVENTS)
    glossary = plain.Glossary({"a-new-rule": "What the policy recorded for it."})
    assert glossary.meaning("rule", "a-new-rule") == "What the policy recorded for it."
    assert "has not been given" not in glossary.meaning("rule", "clinical-needs-consent")
    assert "docs/ig-pages.md" in glossary.meaning("refusal", "never-seen-before")
    assert [code for code, _ in glossary.entries()] == ["a-new-rule", "clinical-needs-consent", "never-seen-before"]


def test_every_outcome_has_words():
    assert {str(o) for o in Outcome} <= set(plain.OUTCOMES)

"""The pure facts a pull reads for its decision and its log entry, without a session."""

from __future__ import annotations

from datetime import UTC, datetime

from gateway.assessments import store
from gateway.disclosure import facts
from gateway.fhir.terminology import NHS_NUMBER_SYSTEM, PNC_ID_SYSTEM


def test_a_search_key_is_normalised_or_names_its_problem() -> None:
    assert facts.search_key(NHS_NUMBER_SYSTEM, "944 930 5552") == (store.NHS_NUMBER, "9449305552", None)
    assert facts.search_key(NHS_NUMBER_SYSTEM, "9449305553")[2] == "patient.identifier is not a valid NHS number"
    assert facts.search_key(PNC_ID_SYSTEM, " 2020/9n ") == (store.PNC_ID, "2020/0000009N", None)
    assert facts.search_key(PNC_ID_SYSTEM, "2020/0000009A")[2] == "patient.identifier is not a valid PNC ID"
    assert facts.search_key("urn:other", "x")[0] is None


def test_a_child_is_judged_on_the_day_in_england() -> None:
    content = {"subject": {"date_of_birth": "2008-06-01"}}
    # 23:30 UTC on 31 May is 00:30 on 1 June in London (summer time): the 18th birthday has begun.
    assert facts.is_minor(content, datetime(2026, 5, 31, 22, 59, tzinfo=UTC))
    assert not facts.is_minor(content, datetime(2026, 5, 31, 23, 30, tzinfo=UTC))


def test_the_log_keeps_the_consents_limits_and_date_never_its_notes() -> None:
    consent = {
        "status": "given",
        "recorded_at": "2026-11-02T10:15:00Z",
        "limited_to_agencies": ["MC-NE", 7],
        "notes": "spoke with her mother",
    }
    stored = store.StoredAssessment("a-1", 1, "s-1", 1, {"consent": consent})
    assert facts.consent_status(stored) == "given"
    assert facts.consent_scope(stored) == {
        "recorded_on": "2026-11-02",
        "limited_to_agencies": ["MC-NE"],
        "limited_to_purposes": [],
        "gillick_competent": None,
        "best_interests_recorded": False,
    }
    assert facts.consent_status(None) is None and facts.withheld_fields(None) == ()

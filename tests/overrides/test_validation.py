from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from gateway.issue import Issue
from gateway.overrides import BASES, MAX_DURATION, max_duration, validate_override
from tests.conftest import ROOT

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
AGENCIES = {"POL-NE": "police", "MC-NE": "court", "LD-NE": "ld-service"}


def body(**changes):
    base = {
        "basis": "safeguarding",
        "reason": "Risk of exploitation; the police must know tonight.",
        "recipients": ["POL-NE"],
        "expires_at": (NOW + timedelta(days=2)).isoformat(),
        "recorded_by": "A. Practitioner (L&D nurse)",
    }
    return {**base, **changes}


def test_a_good_override_is_accepted_and_trimmed():
    request, problems = validate_override(body(reason="  why  ", recorded_by=" me "), now=NOW, agency_types=AGENCIES)

    assert problems == []
    assert request is not None
    assert (request.basis, request.reason, request.recorded_by) == ("safeguarding", "why", "me")
    assert request.recipients == ("POL-NE",)
    assert request.expires_at == NOW + timedelta(days=2)


def test_every_problem_is_reported_at_once():
    bad = {
        "basis": "curiosity",
        "reason": "",
        "recipients": ["POL-NE", "NOPE", "LD-NE", "POL-NE", 7],
        "expires_at": (NOW - timedelta(seconds=1)).isoformat(),
        "extra": 1,
    }

    request, problems = validate_override(bad, now=NOW, agency_types=AGENCIES)

    assert request is None
    where = [p.expression for p in problems]
    assert where == [
        "extra",
        "recorded_by",
        "basis",
        "reason",
        "recipients[1]",
        "recipients[2]",
        "recipients[3]",
        "recipients[4]",
        "expires_at",
    ]
    assert all("NOPE" not in p.diagnostics for p in problems), "messages never repeat submitted values"


@pytest.mark.parametrize(
    ("expires_at", "problem"),
    [
        ("2026-11-27", "time zone"),
        ("2026-11-27T10:00:00", "time zone"),
        ("tomorrow", "time zone"),
        ((NOW + MAX_DURATION + timedelta(seconds=1)).isoformat(), "at most"),
        (NOW.isoformat(), "future"),
    ],
)
def test_expiry_must_be_a_zoned_instant_in_the_near_future(expires_at, problem):
    _, problems = validate_override(body(expires_at=expires_at), now=NOW, agency_types=AGENCIES)

    assert [p.expression for p in problems] == ["expires_at"]
    assert problem in problems[0].diagnostics


@pytest.mark.parametrize("bad", [None, [], "x", 1])
def test_a_body_that_is_not_an_object_is_refused(bad):
    request, problems = validate_override(bad, now=NOW, agency_types=AGENCIES)

    assert request is None and problems == [Issue("invalid", "the body must be a JSON object", "$")]


def test_recipients_must_be_a_non_empty_list():
    for recipients in ([], "POL-NE", ["POL-NE"] * 21):
        _, problems = validate_override(body(recipients=recipients), now=NOW, agency_types=AGENCIES)
        assert [p.expression for p in problems] == ["recipients"]


def test_the_bases_are_the_policy_data_bases():
    data = json.loads((ROOT / "policies" / "data.json").read_text())["gateway"]
    assert tuple(data["override_bases"]) == BASES
    assert set(data["override_fields"]) == set(BASES)


def test_an_emergency_runs_for_at_most_72_hours():
    within = body(basis="emergency", expires_at=(NOW + timedelta(hours=72)).isoformat())
    beyond = body(basis="emergency", expires_at=(NOW + timedelta(hours=72, seconds=1)).isoformat())
    week = body(basis="safeguarding", expires_at=(NOW + timedelta(days=7)).isoformat())

    request, problems = validate_override(within, now=NOW, agency_types=AGENCIES)
    assert problems == [] and request is not None and request.basis == "emergency"
    assert validate_override(week, now=NOW, agency_types=AGENCIES)[1] == [], "other bases keep their 30 days"
    request, problems = validate_override(beyond, now=NOW, agency_types=AGENCIES)
    assert request is None
    assert [(p.expression, p.diagnostics) for p in problems] == [
        ("expires_at", "an emergency must expire at most 72 hours ahead")
    ]
    assert max_duration("emergency") == timedelta(hours=72) and max_duration("serious-harm") == MAX_DURATION

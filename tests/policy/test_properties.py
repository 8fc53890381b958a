"""Properties of the whole decide → project → render path, for random people, agencies and consent.

* No rendered document ever contains a withheld field's value (every free-text value carries a
  canary; identifiers are checked by value).
* Withdrawing consent never releases more; neither does removing an override.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.assessments.validation import load_schema
from gateway.disclosure.projection import project
from gateway.fhir import document_bytes, render_document
from gateway.policy import build_input
from gateway.policy.input import OverrideFacts
from tests.conftest import ROOT
from tests.e2e.canaries import example, plant
from tests.fhir.fixtures import CATALOGUE, LABELS, make_meta

from .strategies import GILLICK, LIMITED_TO_AGENCIES, LIMITED_TO_PURPOSES, PURPOSES, overrides

SCHEMA = load_schema(ROOT / "schemas")
PLANTED = {name: plant(example(name), CATALOGUE, SCHEMA) for name in ("adult.json", "child.json")}
# Examples share the planted documents (each has a consent of its own): these prove nothing changed them.
PLANTED_JSON = {name: json.dumps(document, sort_keys=True) for name, (document, _) in PLANTED.items()}
IDENTIFIERS = {"identity.nhs_number": "nhs_number", "identity.pnc_id": "pnc_id", "identity.cro_number": "cro_number"}
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
AGENCIES = {"POL-NE": "police", "CPS-NE": "cps", "MC-NE": "court", "PROB-NE": "probation"}
AGENCIES |= {"YOT-NE": "yot", "MHT-NE": "health", "OTHER": "court"}


_NAME = st.sampled_from(sorted(PLANTED))
_STATUS = st.sampled_from(["given", "declined", "withdrawn", "not-possible"])
_PURPOSE = st.sampled_from(PURPOSES[:4])
_BEST_INTERESTS = st.sampled_from([None, "Sharing with the trust is in his best interests."])
_AGENCY_CODE = st.sampled_from(sorted(AGENCIES))
_OVERRIDES = overrides()


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    # Strategies are made once (above): making them on every draw cost as much as the decision.
    name = draw(_NAME)
    document, canaries = PLANTED[name]
    # Only the consent differs between examples: a new dict for it, the rest shared and never changed.
    document = {
        **document,
        "consent": {
            "status": draw(_STATUS),
            "recorded_at": "2026-11-20T10:05:00Z",
            "limited_to_agencies": sorted(draw(LIMITED_TO_AGENCIES)),
            "limited_to_purposes": sorted(draw(LIMITED_TO_PURPOSES)),
            "gillick_competent": draw(GILLICK),
            "best_interests_decision": draw(_BEST_INTERESTS),
        },
    }
    code = draw(_AGENCY_CODE)
    return {
        "name": name,
        "document": document,
        "canaries": canaries,
        "agency_code": code,
        "agency_type": AGENCIES[code],
        "purpose": draw(_PURPOSE),
        "overrides": [
            OverrideFacts(o["id"], o["basis"], tuple(o["recipients"]), NOW + timedelta(days=1), NOW - timedelta(days=1))
            for o in draw(_OVERRIDES)
        ],
    }


def decide(engine, scenario: dict[str, Any], **changes: Any):
    s = {**scenario, **changes}
    document = s["document"]
    return engine.decide(
        build_input(
            agency_type=s["agency_type"],
            agency_code=s["agency_code"],
            purpose=s["purpose"],
            date_of_birth=date.fromisoformat(document["subject"]["date_of_birth"]),
            on=date(2026, 11, 21),
            consent=document["consent"],
            overrides=s["overrides"],
            now=NOW,
        )
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios())
def test_no_rendered_document_contains_a_withheld_value(scenario, cached_engine):
    decision = decide(cached_engine, scenario)
    if not decision.allowed:
        return
    document = scenario["document"]
    projection = project(document, CATALOGUE, decision.released)
    meta = make_meta(
        recipient_agency_code=scenario["agency_code"],
        recipient_agency_type=scenario["agency_type"],
        purpose=scenario["purpose"],
        obligations=decision.obligations,
        withheld_count=len(decision.withheld),
        withheld=tuple((w.field, w.rule) for w in decision.withheld),
    )
    raw = document_bytes(render_document(projection, meta, LABELS)).decode("utf-8")
    for withheld in decision.withheld:
        mark = scenario["canaries"].get(withheld.field)
        assert mark is None or mark not in raw, f"{withheld.field} leaked"
        key = IDENTIFIERS.get(withheld.field)
        if key and document["subject"].get(key):
            assert document["subject"][key] not in raw, f"{withheld.field} leaked"
    for field_id in decision.released:
        mark = scenario["canaries"].get(field_id)
        if mark and field_id in projection:
            assert mark in raw, f"{field_id} released but not rendered (the check must be able to fail)"
    assert json.dumps(PLANTED[scenario["name"]][0], sort_keys=True) == PLANTED_JSON[scenario["name"]]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios())
def test_withdrawing_consent_never_releases_more(scenario, cached_engine):
    before = decide(cached_engine, scenario)
    document = {**scenario["document"], "consent": {**scenario["document"]["consent"], "status": "withdrawn"}}
    after = decide(cached_engine, scenario, document=document)

    assert set(after.released) <= set(before.released)
    assert after.allowed <= before.allowed


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios())
def test_an_override_only_ever_adds_and_is_reported_when_it_does(scenario, cached_engine):
    without = decide(cached_engine, scenario, overrides=[])
    with_ = decide(cached_engine, scenario)

    assert set(without.released) <= set(with_.released)
    if set(with_.released) > set(without.released):
        assert with_.overrides and with_.needs_ig_review
    assert {o.id for o in with_.overrides} <= {o.id for o in scenario["overrides"]}

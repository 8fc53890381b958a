from __future__ import annotations

import gc
import json
import re
import threading
from typing import Any

import pytest

import gateway.policy
import gateway.policy.engine as engine_module
from gateway.policy import (
    Decision,
    EmbeddedRegoEngine,
    LawfulBasis,
    PolicyLoadError,
    Withheld,
    compute_revision,
    decision_from_result,
)
from gateway.policy.engine import DEFAULT_DENY_RULE, POLICY_ERROR
from gateway.policy.matrix import AGE_GROUPS, AGENCY_TYPES, CONSENTS, PURPOSES, matrix_input
from tests.factories import in_threads

from .conftest import POLICY_DIR


def request(agency_type: str, purpose: str, *, age_group: str = "adult", **consent: Any) -> dict[str, Any]:
    return {
        "recipient": {"agency_type": agency_type, "agency_code": "AGENCY-1"},
        "purpose": purpose,
        "subject": {"age": 15 if age_group == "child" else 34, "age_group": age_group},
        "consent": {
            "status": "given",
            "limited_to_agencies": [],
            "limited_to_purposes": [],
            "gillick_competent": True if age_group == "child" else None,
            **consent,
        },
    }


def withheld_rule(decision: Decision, field: str) -> str:
    return next(w.rule for w in decision.withheld if w.field == field)


# -- what the policy releases, through the production engine ------------------------------------------


def test_police_charging_adult_gets_appropriate_adult_but_no_diagnoses_or_third_party(engine):
    decision = engine.decide(request("police", "charging"))

    assert decision.allowed
    assert "needs.appropriate_adult" in decision.released
    assert "clinical.diagnoses" not in decision.released
    assert "third_party.information" not in decision.released
    assert withheld_rule(decision, "clinical.diagnoses") == "clinical-never-to-police-cps"
    assert withheld_rule(decision, "third_party.information") == "third-party-never-to-cjs"
    assert decision.obligations == ("refrain:NORDSCLCD", "refrain:NOREUSE", "confidentiality:R")
    assert decision.deny_reason is None


def test_probation_sentencing_with_consent_gets_diagnoses(engine):
    decision = engine.decide(request("probation", "sentencing"))

    assert decision.allowed
    assert {"clinical.diagnoses", "clinical.detail", "treatment.requirements"} <= set(decision.released)


@pytest.mark.parametrize(
    ("status", "rule"),
    [
        ("declined", "consent-declined-minimum"),
        ("withdrawn", "consent-withdrawn-minimum"),
        ("not-possible", "consent-not-possible-minimum"),
    ],
)
def test_probation_sentencing_without_consent_gets_no_diagnoses(engine, status, rule):
    decision = engine.decide(request("probation", "sentencing", status=status))

    assert decision.allowed
    assert "clinical.diagnoses" not in decision.released
    assert withheld_rule(decision, "clinical.diagnoses") == "clinical-needs-consent"
    assert withheld_rule(decision, "referrals.made") == rule
    assert decision.overrides == () and not decision.needs_ig_review


def test_consent_limited_to_another_agency_gives_the_minimum(engine):
    full = engine.decide(request("court", "sentencing"))
    limited = engine.decide(request("court", "sentencing", limited_to_agencies=["SOMEONE-ELSE"]))

    assert set(limited.released) < set(full.released)
    assert "treatment.requirements" not in limited.released
    assert withheld_rule(limited, "treatment.requirements") == "consent-limited-to-other-agency"


def test_child_subject_is_never_disclosed_to_probation(engine):
    decision = engine.decide(request("probation", "sentencing", age_group="child"))

    assert not decision.allowed
    assert decision.deny_reason == "child-subject-yot-not-probation"
    assert decision.released == ()


def test_child_decisions_are_very_restricted(engine):
    decision = engine.decide(request("yot", "sentencing", age_group="child"))

    assert decision.allowed
    assert "confidentiality:V" in decision.obligations
    assert "confidentiality:R" not in decision.obligations


@pytest.mark.parametrize(
    ("agency_type", "purpose", "reason"),
    [
        ("police", "curiosity", "unknown-purpose"),
        ("police", "", "unknown-purpose"),
        ("newspaper", "charging", "unknown-agency-type"),
        ("police", "sentencing", "purpose-not-permitted-for-agency-type"),
        ("health", "charging", "purpose-not-permitted-for-agency-type"),
    ],
)
def test_unknown_or_unpermitted_purpose_is_denied(engine, agency_type, purpose, reason):
    decision = engine.decide(request(agency_type, purpose))

    assert not decision.allowed
    assert decision.deny_reason == reason
    assert decision.released == ()
    assert decision.obligations == ()


def test_an_empty_input_is_denied(engine):
    decision = engine.decide({})

    assert not decision.allowed
    assert decision.deny_reason == "unknown-agency-type"


def test_an_input_that_cannot_be_serialised_is_denied_not_raised(engine):
    decision = engine.decide({"purpose": float("nan")})

    assert not decision.allowed
    assert decision.deny_reason == "policy-error"
    assert decision.errors


def all_inputs() -> list[dict[str, Any]]:
    return [
        matrix_input(agency_type, purpose, consent, age_group)
        for agency_type in AGENCY_TYPES
        for purpose in PURPOSES
        for consent in CONSENTS
        for age_group in AGE_GROUPS
    ]


def test_every_allowed_decision_partitions_the_catalogue_with_reasons(engine, catalogue_ids):
    allowed = 0
    for policy_input in all_inputs():
        decision = engine.decide(policy_input)
        if not decision.allowed:
            continue
        allowed += 1
        withheld = [w.field for w in decision.withheld]
        assert set(decision.released) | set(withheld) == set(catalogue_ids)
        assert not set(decision.released) & set(withheld)
        assert len(withheld) == len(set(withheld))
        assert all(w.rule and w.reason for w in decision.withheld)
        assert DEFAULT_DENY_RULE not in {w.rule for w in decision.withheld}, "the policy left a field undecided"
    # Every permitted pair at both ages, less probation for children and the YOT for adults; a health
    # referral without consent shares nothing (refused).
    assert allowed == (10 * 2 - 2 - 2) * 4 - 2 * 3


def test_decision_ids_are_unique_and_carry_the_revision(engine):
    first = engine.decide(request("court", "case-management"))
    second = engine.decide(request("court", "case-management"))

    assert first.decision_id != second.decision_id
    assert first.policy_revision == second.policy_revision == engine.revision


def test_eight_threads_agree_with_one(engine):
    inputs = all_inputs()
    expected = [_fingerprint(engine.decide(i)) for i in inputs]
    barrier = threading.Barrier(8)
    results: dict[int, list[tuple[Any, ...]]] = {}

    def work(n: int) -> None:
        barrier.wait()
        results[n] = [_fingerprint(engine.decide(inputs[(n + k) % len(inputs)])) for k in range(200)]

    failures = in_threads(8, work)
    assert not failures
    for n, got in results.items():
        assert got == [expected[(n + k) % len(inputs)] for k in range(200)]
    assert len(results) == 8


def test_the_engine_parses_once_and_its_thread_ends_with_it(catalogue_ids):
    # One regorus Engine per engine, on its own thread (regorus engines cannot cross threads): eight
    # asking threads add no interpreter, and an engine nobody holds takes its thread with it.
    def rego_threads() -> set[threading.Thread]:
        return {t for t in threading.enumerate() if t.name == "rego"}

    before = rego_threads()
    engine = EmbeddedRegoEngine(POLICY_DIR, catalogue_ids)
    (own,) = rego_threads() - before
    askers = [threading.Thread(target=engine.decide, args=(request("police", "charging"),)) for _ in range(8)]
    for t in askers:
        t.start()
    for t in askers:
        t.join()
    assert rego_threads() - before == {own}

    del engine
    gc.collect()
    own.join(timeout=10)
    assert not own.is_alive()


class _Panic(BaseException):
    """What a pyo3 panic is: a BaseException, not an Exception."""


def test_a_panic_while_parsing_refuses_the_load_instead_of_hanging_it(monkeypatch, catalogue_ids):
    # The engine thread caught only Exception, and made its Engine outside the try: a panic there left the
    # loader waiting for ever (start-up, policy store, policy diff, the IG policy-changes page).
    real = engine_module.regorus.Engine

    class Panicking:
        def __init__(self) -> None:
            self._engine = real()

        def add_data(self, data: Any) -> None:
            self._engine.add_data(data)

        def add_policy(self, name: str, source: str) -> None:
            raise _Panic("called `Option::unwrap()` on a `None` value")

    monkeypatch.setattr(engine_module.regorus, "Engine", Panicking)
    outcome: list[BaseException | str] = []

    def load() -> None:
        try:
            EmbeddedRegoEngine(POLICY_DIR, catalogue_ids)
            outcome.append("loaded")
        except BaseException as exc:
            outcome.append(exc)

    loader = threading.Thread(target=load, daemon=True)
    loader.start()
    loader.join(timeout=30)
    assert not loader.is_alive()
    (error,) = outcome
    assert isinstance(error, PolicyLoadError) and "unwrap" in str(error)


def test_a_decision_the_engine_thread_does_not_answer_in_time_is_a_denial(monkeypatch, catalogue_ids):
    # One thread answers every uncached decision: one that never comes must deny, not stall the pull.
    engine = EmbeddedRegoEngine(POLICY_DIR, catalogue_ids)
    assert engine.decide(request("police", "charging")).allowed
    engine._jobs.put(None)  # the engine's thread ends: nothing will answer again
    monkeypatch.setattr(engine_module, "DECISION_TIMEOUT", 0.2)

    decision = engine.decide(request("police", "charging"))

    assert not decision.allowed and decision.deny_reason == POLICY_ERROR
    assert decision.released == ()


def _fingerprint(decision: Decision) -> tuple[Any, ...]:
    return (decision.allowed, decision.released, decision.withheld, decision.obligations, decision.deny_reason)


# -- revision -----------------------------------------------------------------------------------------


def test_revision_is_stable_and_names_the_policy(engine, catalogue_ids):
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", engine.revision)
    assert compute_revision(POLICY_DIR, catalogue_ids) == engine.revision
    assert compute_revision(POLICY_DIR, catalogue_ids) == compute_revision(POLICY_DIR, list(catalogue_ids))


def test_revision_changes_with_data_rego_and_catalogue_but_not_tests(policy_copy, catalogue_ids):
    before = compute_revision(policy_copy, catalogue_ids)
    assert before == compute_revision(POLICY_DIR, catalogue_ids)

    (policy_copy / "disclosure_test.rego").write_text(
        (policy_copy / "disclosure_test.rego").read_text() + "\n# a comment\n"
    )
    assert compute_revision(policy_copy, catalogue_ids) == before

    data = json.loads((policy_copy / "data.json").read_text())
    data["gateway"]["minimum_without_consent"]["charging"]["police"].remove("needs.communication")
    (policy_copy / "data.json").write_text(json.dumps(data))
    after_data = compute_revision(policy_copy, catalogue_ids)
    assert after_data != before

    (policy_copy / "disclosure.rego").write_text((policy_copy / "disclosure.rego").read_text() + "\n")
    assert compute_revision(policy_copy, catalogue_ids) not in {before, after_data}

    assert compute_revision(POLICY_DIR, [*catalogue_ids, "new.section"]) != before


def test_an_edited_policy_decides_differently_under_a_new_revision(policy_copy, catalogue_ids, engine):
    data = json.loads((policy_copy / "data.json").read_text())
    data["gateway"]["minimum_without_consent"]["charging"]["police"].remove("needs.communication")
    (policy_copy / "data.json").write_text(json.dumps(data))

    edited = EmbeddedRegoEngine(policy_copy, catalogue_ids)
    declined = request("police", "charging", status="declined")

    assert edited.revision != engine.revision
    assert "needs.communication" in engine.decide(declined).released
    assert "needs.communication" not in edited.decide(declined).released


# -- a broken policy directory fails at construction (the gateway refuses to start) -------------------


def test_a_syntax_error_refuses_to_load_and_names_the_file(policy_copy, catalogue_ids):
    (policy_copy / "disclosure.rego").write_text((policy_copy / "disclosure.rego").read_text() + "\nbroken if {\n")

    with pytest.raises(PolicyLoadError, match=r"disclosure\.rego"):
        EmbeddedRegoEngine(policy_copy, catalogue_ids)


def test_a_policy_that_errors_at_evaluation_refuses_to_load(policy_copy, catalogue_ids):
    # A policy that parses but fails when evaluated (two complete definitions of the decision that both
    # hold for the probe's question) is caught by the probe decision, not by the first real request.
    # (Until regorus replaced regopy this test used a recursive read of data.gateway, which rego-cpp
    # built happily and failed at evaluation; regorus evaluates that one, so a conflict stands in.)
    source = (policy_copy / "disclosure.rego").read_text()
    source += '\ndecision := {"allow": false} if input.purpose == "charging"\n'
    (policy_copy / "disclosure.rego").write_text(source)

    with pytest.raises(PolicyLoadError, match=r"(?s)probe decision.*policy-error.*rule conflicts"):
        EmbeddedRegoEngine(policy_copy, catalogue_ids)


def test_missing_data_refuses_to_load(policy_copy, catalogue_ids):
    (policy_copy / "data.json").unlink()

    with pytest.raises(PolicyLoadError, match="data file is missing"):
        EmbeddedRegoEngine(policy_copy, catalogue_ids)


def test_data_may_not_carry_its_own_catalogue(policy_copy, catalogue_ids):
    data = json.loads((policy_copy / "data.json").read_text())
    data["gateway"]["catalogue"] = ["identity.name"]
    (policy_copy / "data.json").write_text(json.dumps(data))

    with pytest.raises(PolicyLoadError, match="catalogue"):
        EmbeddedRegoEngine(policy_copy, catalogue_ids)


def test_a_missing_directory_refuses_to_load(tmp_path, catalogue_ids):
    with pytest.raises(PolicyLoadError, match="not found"):
        EmbeddedRegoEngine(tmp_path / "nowhere", catalogue_ids)


# -- fail closed on answers the engine cannot trust (real regorus evaluation of a rigged policy) ------

RIGGED = """
package gateway.disclosure

import rego.v1

ok := {"allow": true, "released": ["identity.name"], "overrides": [], "deny_reason": null,
       "obligations": ["refrain:NORDSCLCD", "refrain:NOREUSE", "confidentiality:R"],
       "withheld": [{"field": "identity.date_of_birth", "rule": "r", "reason": "because"}],
       "lawful_basis": [{"basis": "consent", "statute": "s"}]}

decision := ok if input.purpose == "charging"

decision := "yes" if input.purpose == "sentencing"

decision := object.union(ok, {"released": ["no.such.field"]}) if input.purpose == "case-management"

decision := object.union(ok, {"released": ["identity.date_of_birth"]}) if input.purpose == "health-referral"

decision := object.union(ok, {"withheld": []}) if input.purpose == "forgetful"

decision := object.remove(ok, ["obligations"]) if input.purpose == "incomplete"

decision := object.remove(ok, ["lawful_basis"]) if input.purpose == "baseless"

decision := object.union(ok, {"obligations": []}) if input.purpose == "unobligated"

decision := object.union(ok, {"obligations": ["refrain:NORDSCLCD", "refrain:NOREUSE"]}) if input.purpose == "unlabelled"

decision := {"allow": false} if input.purpose == "silent-denial"

decision := 1 if input.purpose == "conflict"

decision := 2 if input.purpose == "conflict"
"""


@pytest.fixture
def rigged(tmp_path) -> EmbeddedRegoEngine:
    (tmp_path / "rigged.rego").write_text(RIGGED)
    (tmp_path / "data.json").write_text(
        '{"gateway": {"obligations": {"always": ["refrain:NORDSCLCD", "refrain:NOREUSE"]}}}'
    )
    return EmbeddedRegoEngine(tmp_path, ["identity.name", "identity.date_of_birth", "identity.pnc_id"])


@pytest.mark.parametrize(
    ("purpose", "reason"),
    [
        ("undefined-here", "policy-undefined"),
        ("sentencing", "policy-malformed"),
        ("case-management", "policy-unknown-field"),
        ("health-referral", "policy-contradiction"),
        ("incomplete", "policy-malformed"),
        ("baseless", "policy-malformed"),
        # An allowed decision carries the data's always-obligations and a confidentiality code: with none
        # (or no confidentiality code), a document would go out unlabelled and without its refrains.
        ("unobligated", "policy-malformed"),
        ("unlabelled", "policy-malformed"),
        ("silent-denial", "policy-malformed"),
        ("conflict", "policy-error"),
    ],
)
def test_untrustworthy_answers_are_denials(rigged, purpose, reason):
    decision = rigged.decide({"purpose": purpose})

    assert not decision.allowed
    assert decision.deny_reason == reason
    assert decision.released == ()
    assert decision.policy_revision == rigged.revision


def test_a_field_the_policy_forgot_is_withheld_by_default_deny(rigged):
    decision = rigged.decide({"purpose": "forgetful"})

    assert decision.allowed
    assert decision.released == ("identity.name",)
    assert decision.withheld == (
        Withheld("identity.date_of_birth", DEFAULT_DENY_RULE, "No policy rule decided this field, so it is withheld."),
        Withheld("identity.pnc_id", DEFAULT_DENY_RULE, "No policy rule decided this field, so it is withheld."),
    )


def test_default_deny_fills_in_what_the_policy_did_not_decide():
    result = {
        "allow": True,
        "released": ["a"],
        "withheld": [{"field": "b", "rule": "r", "reason": "x"}],
        "obligations": ["o", "confidentiality:R"],
        "overrides": [],
        "deny_reason": None,
        "lawful_basis": [{"basis": "consent", "statute": "s"}],
    }

    decision = decision_from_result(
        result, catalogue_ids=["a", "b", "c"], policy_revision="rev", decision_id="id", always=["o"]
    )

    assert decision.allowed
    assert decision.withheld == (Withheld("b", "r", "x"), Withheld("c", DEFAULT_DENY_RULE, decision.withheld[1].reason))
    assert decision.lawful_basis == (LawfulBasis("consent", "s"),)


# What an allowed answer carries in the cases below: each case is denied for its own fault.
OBLIGED = ["refrain:NOREUSE", "confidentiality:R"]


@pytest.mark.parametrize(
    ("result", "reason"),
    [
        (None, "policy-undefined"),
        ([], "policy-malformed"),
        (
            {
                "allow": "yes",
                "released": [],
                "withheld": [],
                "obligations": OBLIGED,
                "overrides": [],
                "deny_reason": None,
            },
            "policy-malformed",
        ),
        (
            {
                "allow": True,
                "released": ["a", "a"],
                "withheld": [],
                "obligations": OBLIGED,
                "overrides": [],
                "deny_reason": None,
                "lawful_basis": [{"basis": "consent", "statute": "s"}],
            },
            "policy-malformed",
        ),
        (
            {
                "allow": True,
                "released": [],
                "withheld": [{"field": "a", "rule": "r"}],
                "obligations": OBLIGED,
                "overrides": [],
                "deny_reason": None,
                "lawful_basis": [{"basis": "consent", "statute": "s"}],
            },
            "policy-malformed",
        ),
        # Every disclosure names its lawful basis: none, an empty list or a basis without its statute denies.
        *(
            (
                {
                    "allow": True,
                    "released": ["a"],
                    "withheld": [],
                    "obligations": OBLIGED,
                    "overrides": [],
                    "deny_reason": None,
                    **bases,
                },
                "policy-malformed",
            )
            for bases in (
                {},
                {"lawful_basis": []},
                {"lawful_basis": [{"basis": "consent"}]},
                {"lawful_basis": [{"basis": "safeguarding", "statute": "s", "override_id": 7}]},
            )
        ),
        (
            {
                "allow": True,
                "released": ["a"],
                "withheld": [],
                "obligations": OBLIGED,
                "overrides": [],
                "deny_reason": "x",
            },
            "policy-malformed",
        ),
        (
            {
                "allow": False,
                "released": ["a"],
                "withheld": [],
                "obligations": OBLIGED,
                "overrides": [],
                "deny_reason": "nope",
            },
            "nope",
        ),
    ],
)
def test_decision_from_result_fails_closed(result, reason):
    decision = decision_from_result(
        result, catalogue_ids=["a", "b"], policy_revision="rev", decision_id="id", always=["refrain:NOREUSE"]
    )

    assert not decision.allowed
    assert decision.deny_reason == reason
    assert decision.released == ()


def test_public_names_are_exported():
    assert sorted(gateway.policy.__all__) == gateway.policy.__all__
    for name in gateway.policy.__all__:
        assert hasattr(gateway.policy, name)


@pytest.mark.parametrize(
    ("consent", "says"),
    [
        ({"limited_to_agencies": ["SOMEONE-ELSE"]}, "The person's consent is limited to other agencies."),
        ({"limited_to_purposes": ["charging"]}, "The person's consent is limited to other purposes."),
        ({"status": "declined"}, "The person has declined consent."),
        ({"status": "withdrawn"}, "The person has withdrawn consent."),
    ],
)
def test_the_reason_for_withheld_clinical_fields_says_what_is_true_of_the_consent(engine, consent, says):
    decision = engine.decide(request("probation", "sentencing", **consent))
    (diagnoses,) = [w for w in decision.withheld if w.field == "clinical.diagnoses"]
    assert diagnoses.rule == "clinical-needs-consent"
    assert diagnoses.reason.endswith(" " + says)
    assert "has not been given" not in diagnoses.reason

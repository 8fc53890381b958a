from __future__ import annotations

import json

import pytest

from gateway.policy import compute_matrix, format_matrix
from gateway.policy.matrix import AGE_GROUPS, AGENCY_TYPES, PURPOSES, matrix_input


@pytest.fixture(scope="module")
def rows(cached_engine):
    return compute_matrix(cached_engine)


def test_one_row_per_combination(rows):
    assert len(rows) == 6 * 5 * 4 * 2
    keys = {(r["agency_type"], r["purpose"], r["consent"], r["age_group"]) for r in rows}
    assert len(keys) == len(rows)
    assert all(set(r) == {"agency_type", "purpose", "consent", "age_group", "released", "withheld"} for r in rows)
    json.dumps(rows)  # the --json output


def test_every_row_accounts_for_every_field(rows, catalogue_ids):
    for row in rows:
        assert sorted(row["released"] + row["withheld"]) == sorted(catalogue_ids)
        assert row["released"] == sorted(row["released"])


def test_police_at_charging_never_see_clinical_fields(rows):
    police = [r for r in rows if r["agency_type"] == "police" and r["purpose"] == "charging"]

    assert len(police) == 8
    for row in police:
        assert row["released"], "police charging is a permitted pair"
        assert not [f for f in row["released"] if f.startswith("clinical.")]
        assert "needs.appropriate_adult" in row["released"]


def test_children_never_get_probation_releases(rows):
    probation_children = [r for r in rows if r["agency_type"] == "probation" and r["age_group"] == "child"]

    assert len(probation_children) == 5 * 4
    assert all(r["released"] == [] for r in probation_children)


def test_third_party_information_goes_to_health_only(rows):
    for row in rows:
        if "third_party.information" in row["released"]:
            assert row["agency_type"] == "health"


def test_only_permitted_pairs_release_anything(rows):
    releasing = {(r["agency_type"], r["purpose"]) for r in rows if r["released"]}

    assert releasing == {
        ("police", "custody"),
        ("police", "charging"),
        ("cps", "charging"),
        ("court", "case-management"),
        ("court", "sentencing"),
        ("probation", "case-management"),
        ("probation", "sentencing"),
        ("yot", "case-management"),
        ("yot", "sentencing"),
        ("health", "health-referral"),
    }


def test_matrix_agrees_with_engine_decide(rows, engine):
    for row in rows:
        decision = engine.decide(matrix_input(row["agency_type"], row["purpose"], row["consent"], row["age_group"]))
        assert list(decision.released) == row["released"]
        if decision.allowed:
            assert [w.field for w in decision.withheld] == row["withheld"]


def test_regorus_and_regopy_agree_on_every_decision(engine, regopy_oracle):
    # The gateway runs regorus; an independent interpreter (rego-cpp) must read the policy the same way.
    limits = [{}, {"limited_to_agencies": ["SOMEONE-ELSE"]}, {"limited_to_purposes": ["charging"]}]
    statuses = ["given", "declined", None]
    compared = 0
    for agency_type in AGENCY_TYPES:
        for purpose in PURPOSES:
            for age_group in AGE_GROUPS:
                for status in statuses:
                    for limit in limits:
                        for gillick in (True, False, None) if age_group == "child" else (None,):
                            policy_input = matrix_input(agency_type, purpose, "given", age_group)
                            policy_input["consent"].update({"status": status, "gillick_competent": gillick, **limit})
                            a, b = engine.decide(policy_input), regopy_oracle.decide(policy_input)
                            assert (a.allowed, a.released, a.withheld, a.obligations, a.deny_reason) == (
                                b.allowed,
                                b.released,
                                b.withheld,
                                b.obligations,
                                b.deny_reason,
                            ), policy_input
                            compared += 1
    assert compared == 6 * 5 * 3 * 3 * (1 + 3)
    assert engine.revision == regopy_oracle.revision


def test_consent_declined_never_releases_more_than_given(rows):
    by_key = {(r["agency_type"], r["purpose"], r["consent"], r["age_group"]): r for r in rows}
    for agency_type in AGENCY_TYPES:
        for purpose in PURPOSES:
            for age_group in AGE_GROUPS:
                given = set(by_key[agency_type, purpose, "given", age_group]["released"])
                declined = set(by_key[agency_type, purpose, "declined", age_group]["released"])
                assert declined <= given


def test_format_matrix_lists_releasing_rows(rows):
    lines = format_matrix(rows)

    assert len(lines) == sum(1 for r in rows if r["released"])
    assert lines[0].startswith("police    custody         given    adult 15: ")


def test_matrix_needs_a_catalogue():
    class Bare:
        revision = "r"

        def decide(self, policy_input):
            raise AssertionError("not reached")

    with pytest.raises(ValueError, match="catalogue_ids"):
        compute_matrix(Bare())

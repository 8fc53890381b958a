"""An allowed decision carries the refrains the policy data names (``data.gateway.obligations.always``)
and a confidentiality code, or it is denied as ``policy-malformed``: otherwise a document could go out
unlabelled and without NORDSCLCD/NOREUSE, for instance from a remote OPA answering from its own bundle."""

from __future__ import annotations

import json

import pytest

from gateway.policy import EmbeddedRegoEngine, PolicyLoadError
from gateway.policy.engine import always_obligations
from gateway.policy.matrix import matrix_decisions, matrix_input
from gateway.policy.opa import OpaEngine

from .conftest import POLICY_DIR
from .opa_standin import OpaStandIn

REFRAINS = ("refrain:NORDSCLCD", "refrain:NOREUSE")


def test_the_policy_data_names_the_refrains_every_allowed_decision_carries(engine):
    assert engine.always_obligations == REFRAINS


def test_every_decision_the_policy_allows_passes_the_check(cached_engine):
    """Nothing legitimate is denied: every allowed matrix answer carries both refrains and one code."""
    allowed = [decision for _cell, decision in matrix_decisions(cached_engine) if decision.allowed]
    assert allowed
    for decision in allowed:
        assert set(REFRAINS) <= set(decision.obligations)
        assert [o for o in decision.obligations if o.startswith("confidentiality:")] in (
            ["confidentiality:R"],
            ["confidentiality:V"],
        )


def test_a_remote_engine_answering_without_the_refrains_is_denied(catalogue_ids):
    server = OpaStandIn().start()
    try:
        remote = OpaEngine(server.url, POLICY_DIR, catalogue_ids, timeout=2.0)
        question = matrix_input("court", "sentencing", "given", "adult")
        assert remote.decide(question).allowed
        server.data["gateway"]["obligations"]["always"] = []  # the server now answers from other data

        decision = remote.decide(question)
    finally:
        server.stop()
    assert not decision.allowed and decision.deny_reason == "policy-malformed"
    assert decision.errors == ("an allowed decision lacks the obligations refrain:NORDSCLCD, refrain:NOREUSE",)


def test_a_policy_that_drops_the_confidentiality_code_does_not_load(policy_copy, catalogue_ids):
    rego = policy_copy / "disclosure.rego"
    rego.write_text(
        rego.read_text().replace(
            "obligations := array.concat(data.gateway.obligations.always, "
            "[data.gateway.obligations.confidentiality[age_group]])",
            "obligations := data.gateway.obligations.always",
        )
    )
    with pytest.raises(PolicyLoadError, match=r"probe decision.*policy-malformed.*no confidentiality code"):
        EmbeddedRegoEngine(policy_copy, catalogue_ids)


@pytest.mark.parametrize("always", ["refrain:NOREUSE", [1], [""]])
def test_always_obligations_that_are_not_a_list_of_strings_do_not_load(policy_copy, catalogue_ids, always):
    data = json.loads((policy_copy / "data.json").read_text())
    data["gateway"]["obligations"]["always"] = always
    (policy_copy / "data.json").write_text(json.dumps(data))
    with pytest.raises(PolicyLoadError, match=r"obligations\.always"):
        EmbeddedRegoEngine(policy_copy, catalogue_ids)


def test_data_that_names_no_obligations_requires_only_a_confidentiality_code():
    assert always_obligations({"gateway": {}}) == ()
    assert always_obligations({"gateway": {"obligations": {"confidentiality": {}}}}) == ()

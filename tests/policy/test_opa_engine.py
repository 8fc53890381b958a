"""GATEWAY_POLICY_ENGINE=opa: the OPA engine against a stand-in that speaks OPA's REST API."""

from __future__ import annotations

import pytest

from gateway.policy import PolicyLoadError
from gateway.policy.matrix import AGE_GROUPS, AGENCY_TYPES, CONSENTS, PURPOSES, matrix_input
from gateway.policy.opa import OpaEngine

from .conftest import POLICY_DIR
from .opa_standin import OpaStandIn


@pytest.fixture
def opa():
    server = OpaStandIn().start()
    yield server
    server.stop()


@pytest.fixture
def opa_engine(opa, catalogue_ids):
    return OpaEngine(opa.url, POLICY_DIR, catalogue_ids, timeout=2.0)


def fingerprint(d):
    return (d.allowed, d.released, d.withheld, d.obligations, d.overrides, d.deny_reason, d.policy_revision)


def test_the_policy_and_data_are_pushed_through_the_rest_api(opa, opa_engine, engine):
    assert set(opa.policies) == {"ld-gateway/disclosure.rego"}
    assert opa.data["gateway"]["catalogue"] == list(engine.catalogue_ids)
    assert "disclosure" not in opa.data["gateway"]
    assert opa_engine.revision == engine.revision


def test_opa_decides_every_matrix_question_as_the_embedded_engine_does(opa_engine, engine):
    questions = [matrix_input(a, p, c, g) for a in AGENCY_TYPES for p in PURPOSES for c in CONSENTS for g in AGE_GROUPS]
    for question in questions[::3]:
        assert fingerprint(opa_engine.decide(question)) == fingerprint(engine.decide(question)), question
    overridden = {
        **matrix_input("police", "charging", "declined", "adult"),
        "overrides": [{"id": "o", "basis": "safeguarding", "recipients": ["MATRIX-POLICE"]}],
    }
    assert fingerprint(opa_engine.decide(overridden)) == fingerprint(engine.decide(overridden))


def test_a_timeout_denies(opa, catalogue_ids):
    engine = OpaEngine(opa.url, POLICY_DIR, catalogue_ids, timeout=0.5)
    opa.delay = 1.0
    decision = engine.decide(matrix_input("court", "sentencing", "given", "adult"))
    assert not decision.allowed and decision.deny_reason == "policy-error"
    assert decision.errors == ("OPA timed out",)


@pytest.mark.parametrize("status", [500, 503, 400])
def test_an_http_error_denies(opa, opa_engine, status):
    opa.fail_status = status
    decision = opa_engine.decide(matrix_input("court", "sentencing", "given", "adult"))
    assert not decision.allowed and decision.deny_reason == "policy-error"
    assert opa.queries >= 1


def test_an_undefined_result_denies(opa, opa_engine):
    opa.policies["ld-gateway/disclosure.rego"] = "package gateway.disclosure\n\nimport rego.v1\n"
    decision = opa_engine.decide(matrix_input("court", "sentencing", "given", "adult"))
    assert not decision.allowed and decision.deny_reason == "policy-undefined"


def test_a_server_that_goes_away_denies(opa, opa_engine):
    opa.stop()
    decision = opa_engine.decide(matrix_input("court", "sentencing", "given", "adult"))
    assert not decision.allowed and decision.deny_reason == "policy-error"


def test_an_unreachable_server_refuses_the_start(opa, catalogue_ids):
    url = opa.url
    opa.stop()
    with pytest.raises(PolicyLoadError, match="cannot push"):
        OpaEngine(url, POLICY_DIR, catalogue_ids, timeout=0.5)


def test_a_policy_opa_will_not_compile_refuses_the_start(opa, policy_copy, catalogue_ids):
    (policy_copy / "disclosure.rego").write_text("package gateway.disclosure\n\nthis is not rego {\n")
    with pytest.raises(PolicyLoadError, match="cannot push"):
        OpaEngine(opa.url, policy_copy, catalogue_ids, timeout=2.0)


def test_the_standin_refuses_data_that_conflicts_with_a_policy(opa, opa_engine):
    assert opa.put_data(["gateway"], {})[0] == 400
    assert opa.put_data(["gateway", "disclosure", "x"], 1)[0] == 400
    assert opa.put_data(["gateway", "other"], 1)[0] == 204


def test_a_bad_url_refuses_the_start(catalogue_ids):
    with pytest.raises(PolicyLoadError, match="GATEWAY_OPA_URL"):
        OpaEngine("ftp://opa", POLICY_DIR, catalogue_ids)


def test_settings_choose_the_opa_engine_behind_the_cache(opa, tmp_path, catalogue_ids):
    from gateway.config import Settings
    from gateway.policy.cache import CachingEngine
    from gateway.policy.loader import load_engine

    settings = Settings(data_dir=tmp_path, policy_engine="opa", opa_url=opa.url, policy_dir=POLICY_DIR)
    loaded = load_engine(settings, catalogue_ids)
    assert isinstance(loaded, CachingEngine) and isinstance(loaded.inner, OpaEngine)
    assert loaded.decide(matrix_input("yot", "sentencing", "given", "child")).allowed

    with pytest.raises(PolicyLoadError, match="GATEWAY_OPA_URL"):
        load_engine(Settings(data_dir=tmp_path, policy_engine="opa"), catalogue_ids)

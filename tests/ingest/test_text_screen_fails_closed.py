"""The publish-time text screen while the policy engine fails (an OPA timeout, the embedded engine's
thread busy): a failed decision is not the policy releasing nothing, so every free-text field is
screened, and that answer is not kept for the revision."""

from __future__ import annotations

from gateway.ingest.text_screen import fields_for_audience
from gateway.policy.matrix import matrix_input
from tests.factories import ErringEngine
from tests.fixtures.gateway import CATALOGUE
from tests.ingest.test_diagnostic_terms import POLICE_CPS_TEXT


def test_text_screen_does_not_stop_screening_when_the_policy_errs():
    screened = {f.id for f in fields_for_audience(ErringEngine(), CATALOGUE)}
    missed = sorted(set(POLICE_CPS_TEXT) - screened)
    assert not missed, f"unscreened while the policy erred: {missed}"
    assert screened == {f.id for f in CATALOGUE if f.free_text is not None}, "every free-text field, the widest set"


def test_one_failed_question_screens_every_free_text_field(gateway_policy):
    """Only police at custody fails: the other answers would screen less, and must not be used."""
    failing = matrix_input("police", "custody", "given", "adult")

    class FailsOnce:
        revision = gateway_policy.revision + "-fails-once"
        catalogue_ids = gateway_policy.catalogue_ids

        def decide(self, policy_input):
            if policy_input == failing:
                return ErringEngine().decide(policy_input)
            return gateway_policy.decide(policy_input)

    screened = {f.id for f in fields_for_audience(FailsOnce(), CATALOGUE)}
    assert screened == {f.id for f in CATALOGUE if f.free_text is not None}


def test_an_answer_drawn_while_the_engine_failed_is_not_kept_for_the_revision(gateway_policy):
    """The engine recovers under the same revision: the next publish gets the policy's own answer."""
    erring = ErringEngine()
    fields_for_audience(erring, CATALOGUE)
    asked = erring.questions
    assert asked >= 1
    fields_for_audience(erring, CATALOGUE)
    assert erring.questions == 2 * asked, "asked again: the failed answer was not kept"

    class Recovered:
        revision = erring.revision
        catalogue_ids = gateway_policy.catalogue_ids
        decide = staticmethod(gateway_policy.decide)

    assert [f.id for f in fields_for_audience(Recovered(), CATALOGUE)] == POLICE_CPS_TEXT

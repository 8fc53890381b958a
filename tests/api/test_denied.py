"""One refusal value for every service that answers one, and one table that turns it into a status."""

from __future__ import annotations

from gateway.api.responses import denied_status
from gateway.court_requests import results
from gateway.denied import Denied, Why
from gateway.overrides import service as overrides


def test_every_reason_a_call_is_refused_has_its_one_status():
    assert {why: denied_status(why) for why in Why} == {
        Why.MALFORMED: 400,
        Why.FORBIDDEN: 403,
        Why.NOT_FOUND: 404,
        Why.CONFLICT: 412,
        Why.INVALID: 422,
    }


def test_requests_and_overrides_answer_the_same_refusal_type():
    assert results.Denied is overrides.Denied is Denied
    assert results.Why is overrides.Why is Why
    unlogged = Denied(Why.NOT_FOUND)
    assert unlogged.reason is None and unlogged.disclosure_id is None and unlogged.problems == []

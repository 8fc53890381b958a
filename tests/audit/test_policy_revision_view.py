"""``GET /audit/policy-revisions/{revision}`` as a partner agency sees it: the rules, not IG staff names.
Whole app over HTTP, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime

from gateway.policy.store import activate, read_revision, store_revision
from tests.fixtures import ROOT
from tests.fixtures.gateway import CATALOGUE


def test_policy_revision_view_for_partner_tokens_does_not_name_the_ig_staff_who_activated_it(gateway):
    """Defect: the view gave any partner token ``activated_by``, the IG staff username that activated it."""
    now = datetime.now().astimezone()
    with gateway.sessions.begin() as session:
        revision = store_revision(session, ROOT / "policies", CATALOGUE.ids, now)
        activate(session, revision, by="ig.alice.jones", now=now)
    response = gateway.http.get(f"/audit/policy-revisions/{revision}", auth=gateway.auth("POL-NE", "charging"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert "activated_by" not in body and "ig.alice.jones" not in response.text
    assert body["revision"] == revision and body["activated_at"] is not None and body["files"]
    # Kept for IG staff: ``ld-gateway policy show`` and the IG pages read the stored revision whole.
    with gateway.sessions() as session:
        stored = read_revision(session, revision)
    assert stored is not None and stored.as_json()["activated_by"] == "ig.alice.jones"

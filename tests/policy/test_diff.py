from __future__ import annotations

import json

from gateway.policy import EmbeddedRegoEngine
from gateway.policy.diff import diff_decisions, format_diff
from gateway.policy.matrix import matrix_decisions


def edit(policy_dir, change) -> None:
    path = policy_dir / "data.json"
    data = json.loads(path.read_text())
    change(data["gateway"])
    path.write_text(json.dumps(data))


def test_the_same_policy_changes_no_one_s_view(cached_engine):
    decisions = matrix_decisions(cached_engine)
    assert diff_decisions(decisions, decisions) == []
    assert format_diff([]) == ["No one's view changes."]


def test_a_data_edit_is_reported_as_whose_view_of_which_field_changes(cached_engine, policy_copy, catalogue_ids):
    def change(g):
        g["permissions"]["case-management"]["court"].remove("fitness.plead")
        g["agency_types_denied_by_age_group"]["child"]["yot"] = "child-subject-yot-not-probation"

    edit(policy_copy, change)
    after = EmbeddedRegoEngine(policy_copy, catalogue_ids)

    # The edited policy is a new engine, decided afresh; the served one is asked through the cache.
    changes = diff_decisions(matrix_decisions(cached_engine), matrix_decisions(after))

    lost = {(c.agency_type, c.purpose, c.consent, c.age_group) for c in changes if c.withheld == ("fitness.plead",)}
    assert ("court", "case-management", "given", "adult") in lost
    assert all(c.released == () for c in changes)
    refused = [c for c in changes if c.refusal]
    assert {(c.agency_type, c.age_group) for c in refused} == {("yot", "child")}
    assert all(c.refusal == "now refused: child-subject-yot-not-probation" for c in refused)
    assert len(refused) == 2 * 4  # two purposes x four consent states
    assert "court at case-management, adult, consent given: -fitness.plead" in format_diff(changes)

"""The policy page's "what changed": the running policy against the stored revision before it.

Computed from decisions (issue 4's ``diff_decisions`` over every matrix question), so a change in how
rules combine shows as surely as a change in the data. The previous revision is loaded from its stored
bytes, checked against its hash before it is compiled; results are cached per pair of revisions, but
only a comparison of the two policies' answers: when either engine fails on a question (an OPA timeout,
the embedded engine's thread busy), the page says "not compared" and the next view asks again, never a
"now refused: policy-error" that the policy did not decide, kept for the revision's lifetime.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from gateway.policy.decision import Decision
from gateway.policy.diff import ViewChange, diff_decisions
from gateway.policy.engine import EmbeddedRegoEngine, PolicyEngine, PolicyLoadError
from gateway.policy.matrix import MatrixIncomplete, matrix_decisions
from gateway.policy.store import StoredRevision, list_revisions, materialise_source

Decisions = list[tuple[tuple[str, str, str, str], Decision]]


@dataclass(frozen=True)
class PolicyChanges:
    previous: StoredRevision | None  # None: no earlier stored revision to compare with
    changes: tuple[ViewChange, ...]
    problem: str | None = None  # the previous revision could not be loaded (named, never hidden)


def previous_revision(revisions: list[StoredRevision], running: str) -> StoredRevision | None:
    """The stored revision just before the running one (by storage time); the newest stored one when the
    running policy was never stored."""
    order = [r.revision for r in revisions]
    if running in order:
        index = order.index(running)
        return revisions[index - 1] if index > 0 else None
    return revisions[-1] if revisions else None


def policy_changes(
    session: Session, running: PolicyEngine, catalogue_ids: tuple[str, ...], cache: dict[tuple[str, str], PolicyChanges]
) -> PolicyChanges:
    revision = str(getattr(running, "revision", ""))
    previous = previous_revision(list_revisions(session), revision)
    if previous is None:
        return PolicyChanges(None, ())
    key = (previous.revision, revision)
    if key not in cache:
        with tempfile.TemporaryDirectory(prefix="ld-gateway-ig-policy-") as scratch:
            try:
                stored = materialise_source(session, previous.revision, Path(scratch))
                before = EmbeddedRegoEngine(stored, catalogue_ids)
            except PolicyLoadError as exc:
                return PolicyChanges(previous, (), f"the stored revision could not be loaded: {exc}")
        try:
            changes = diff_decisions(matrix_decisions(before), matrix_decisions(running))
        except MatrixIncomplete as exc:  # not kept: the next view asks again
            return PolicyChanges(previous, (), f"{exc}; try again")
        cache[key] = PolicyChanges(previous, tuple(changes))
    return cache[key]

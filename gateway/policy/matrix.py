"""The disclosure matrix: which fields each agency type sees for each purpose (``ld-gateway policy matrix``).

Computed by asking the engine, never by reading the policy data, so the matrix shows what the
running policy actually does. Every combination is listed, including the ones the policy denies
(released empty, every field withheld), so an IG reviewer sees the whole picture.

A matrix is the policy's answers or nothing: when the engine fails on any question (an OPA timeout, the
embedded engine's thread busy, an answer it could not trust: :func:`gateway.policy.engine.engine_failed`),
:class:`MatrixIncomplete` is raised, naming the first such cell and the engine's error. Its denial keeps
a disclosure from going out, but it is not the policy refusing, and a matrix that showed it as a refusal
would tell IG the policy refuses what it was never asked to decide.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import date
from typing import Any

from gateway.policy.decision import Decision
from gateway.policy.engine import PolicyEngine, engine_failed
from gateway.policy.input import build_input

AGENCY_TYPES = ("police", "cps", "court", "probation", "yot", "health")
PURPOSES = ("custody", "charging", "case-management", "sentencing", "health-referral")
CONSENTS = ("given", "declined", "withdrawn", "not-possible")
AGE_GROUPS = ("adult", "child")

# Fixed, made-up dates: the matrix depends on the age group only, never on a real person.
_ON = date(2026, 1, 1)
_DATE_OF_BIRTH = {"adult": date(1990, 1, 1), "child": date(2011, 1, 1)}


def matrix_input(agency_type: str, purpose: str, consent: str, age_group: str) -> dict[str, Any]:
    """The policy input for one cell. A child's consent is from a child assessed as Gillick competent,
    so "given" shows what a consenting child's data allows. No lawful override and no best-interests
    decision is recorded: the matrix shows the agreement's standing rules."""
    return build_input(
        agency_type=agency_type,
        agency_code=f"MATRIX-{agency_type.upper()}",
        purpose=purpose,
        date_of_birth=_DATE_OF_BIRTH[age_group],
        on=_ON,
        consent={"status": consent, "gillick_competent": True if age_group == "child" else None},
    )


Cell = tuple[str, str, str, str]  # (agency type, purpose, consent, age group)


class MatrixIncomplete(RuntimeError):
    """The policy engine failed on a matrix question, so there is no matrix to show: ``cell`` is the
    first such question and ``decision`` the engine's failed answer (its ``errors`` say why)."""

    def __init__(self, cell: Cell, decision: Decision) -> None:
        agency_type, purpose, consent, age_group = cell
        why = "; ".join(decision.errors) or "no error given"
        super().__init__(
            f"the policy engine did not answer for {agency_type} at {purpose}, consent {consent}, {age_group} "
            f"(policy revision {decision.policy_revision}): {decision.deny_reason}: {why}"
        )
        self.cell = cell
        self.decision = decision


def answered(cell: Cell, decision: Decision) -> Decision:
    """``decision``, when it is the policy's answer; :class:`MatrixIncomplete` when the engine failed."""
    if engine_failed(decision):
        raise MatrixIncomplete(cell, decision)
    return decision


def matrix_decisions(engine: PolicyEngine) -> list[tuple[Cell, Decision]]:
    """The engine's decision for every cell, keyed (agency type, purpose, consent, age group).

    Raises :class:`MatrixIncomplete` at the first cell the engine fails on (the rest are not asked:
    during an OPA outage each would wait for its own timeout)."""
    decisions = []
    for a in AGENCY_TYPES:
        for p in PURPOSES:
            for c in CONSENTS:
                for g in AGE_GROUPS:
                    cell = (a, p, c, g)
                    decisions.append((cell, answered(cell, engine.decide(matrix_input(*cell)))))
    return decisions


def compute_matrix(engine: PolicyEngine, *, catalogue_ids: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """One row per agency type x purpose x consent x age group:
    ``{agency_type, purpose, consent, age_group, released: [ids], withheld: [ids]}``.

    ``catalogue_ids`` (every field, listed as withheld on a denied row) defaults to the engine's own.
    A denied row is the policy refusing; :class:`MatrixIncomplete` when the engine failed on any cell.
    """
    ids = catalogue_ids if catalogue_ids is not None else getattr(engine, "catalogue_ids", None)
    if ids is None:
        raise ValueError("compute_matrix needs catalogue_ids for an engine that does not expose them")
    return matrix_rows(matrix_decisions(engine), ids)


def matrix_rows(decisions: Sequence[tuple[Cell, Decision]], catalogue_ids: Sequence[str]) -> list[dict[str, Any]]:
    """:func:`compute_matrix`'s rows from decisions already asked (:func:`matrix_decisions`, which refuses
    an engine failure), for a caller that also needs the decisions themselves."""
    every_field = sorted(catalogue_ids)
    rows = []
    for (agency_type, purpose, consent, age_group), decision in decisions:
        if decision.allowed:
            released = sorted(decision.released)
            withheld = sorted(w.field for w in decision.withheld)
        else:
            released, withheld = [], every_field
        rows.append(
            {
                "agency_type": agency_type,
                "purpose": purpose,
                "consent": consent,
                "age_group": age_group,
                "released": released,
                "withheld": list(withheld),
            }
        )
    return rows


CSV_COLUMNS = ("agency_type", "purpose", "consent", "age_group", "field", "released")


def matrix_csv(rows: Sequence[dict[str, Any]]) -> str:
    """One line per cell and field: ``agency_type,purpose,consent,age_group,field,released`` (yes/no)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        released = set(row["released"])
        for field in sorted({*row["released"], *row["withheld"]}):
            key = (row["agency_type"], row["purpose"], row["consent"], row["age_group"])
            writer.writerow((*key, field, "yes" if field in released else "no"))
    return out.getvalue()


def format_matrix(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Human-readable lines, one per row that releases anything (denied combinations are left out)."""
    lines = []
    for row in rows:
        if not row["released"]:
            continue
        head = f"{row['agency_type']:<9} {row['purpose']:<15} {row['consent']:<8} {row['age_group']:<5}"
        lines.append(f"{head} {len(row['released']):>2}: {', '.join(row['released'])}")
    return lines

"""Policy decision latency of the embedded engine (regorus): cold, warm and cached, as ratios to a baseline.

    .venv/bin/python -m bench.policy_cache [--n 2000]

* baseline: ``build_input`` for the same question (the pure-Python work every decision needs anyway);
* cold: the first decision of a freshly constructed engine (compilation excluded);
* warm: later decisions, cycling through every agency type x purpose x consent x age question, uncached;
* cached: the same questions through :class:`gateway.policy.cache.CachingEngine` once it holds them.

Prints p50 and p99 in microseconds and as ratios to the baseline's p50. Timings are never asserted.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

from gateway.assessments.catalogue import load_catalogue
from gateway.policy import EmbeddedRegoEngine, build_input
from gateway.policy.cache import CachingEngine
from gateway.policy.matrix import AGE_GROUPS, AGENCY_TYPES, CONSENTS, PURPOSES, matrix_input

ROOT = Path(__file__).resolve().parent.parent


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def timed(call: Callable[[int], object], n: int) -> list[float]:
    samples = []
    for i in range(n):
        start = time.perf_counter_ns()
        call(i)
        samples.append((time.perf_counter_ns() - start) / 1000)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="decisions per measurement")
    args = parser.parse_args()
    ids = load_catalogue(ROOT / "schemas" / "field-catalogue.json").ids
    questions = [matrix_input(a, p, c, g) for a in AGENCY_TYPES for p in PURPOSES for c in CONSENTS for g in AGE_GROUPS]

    def baseline(i: int) -> object:
        q = questions[i % len(questions)]
        return build_input(
            agency_type=q["recipient"]["agency_type"],
            agency_code=q["recipient"]["agency_code"],
            purpose=q["purpose"],
            date_of_birth=date(1990, 1, 1),
            on=date(2026, 1, 1),
            consent={"status": q["consent"]["status"]},
        )

    base = timed(baseline, args.n)
    base_p50 = statistics.median(base)
    rows = [("baseline (build_input)", base)]
    for name, kind in (("regorus", EmbeddedRegoEngine),):
        cold = []
        for _ in range(5):
            engine = kind(ROOT / "policies", ids)
            start = time.perf_counter_ns()
            engine.decide(questions[0])
            cold.append((time.perf_counter_ns() - start) / 1000)
        warm = timed(lambda i, e=engine: e.decide(questions[i % len(questions)]), args.n)
        cache = CachingEngine(engine)
        for q in questions:
            cache.decide(q)
        cached = timed(lambda i, c=cache: c.decide(questions[i % len(questions)]), args.n)
        rows += [(f"{name} cold", cold), (f"{name} warm", warm), (f"{name} cached", cached)]

    print(f"{'measurement':<24}{'p50 us':>10}{'p99 us':>10}{'p50 / baseline':>16}{'p99 / baseline':>16}")
    for label, samples in rows:
        p50, p99 = statistics.median(samples), percentile(samples, 0.99)
        print(f"{label:<24}{p50:>10.1f}{p99:>10.1f}{p50 / base_p50:>16.1f}{p99 / base_p50:>16.1f}")


if __name__ == "__main__":
    main()

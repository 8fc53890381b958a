"""The bench's outputs: JSON (everything), a markdown table (the ratios), a PNG of the latency distribution."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def _ratio(value: float, base: float) -> str:
    return f"{value / base:.2f}" if base else "n/a"


def _met(ok: bool) -> str:
    return "yes" if ok else "**no**"


def markdown(results: dict[str, Any]) -> str:
    """One table per run: every figure beside its same-run baseline, the ratio, and the issue's goal."""
    machine = results["machine"]
    start, end = machine["load_average_at_start"], machine.get("load_average_at_end", ["?"])
    pg = results["database"] == "postgresql"
    lines = [
        f"Run {results['started']}, **{results['database']}**, {results['requests_per_level']} requests per level, "
        f"{machine['cpus']} CPUs, load average {start[0]:.1f} at the start and {end[0]:.1f} at the end "
        f"({machine['note']}).",
        "",
        "| figure | gateway | baseline (same run) | ratio | goal | met |",
        "|---|---|---|---|---|---|",
    ]

    def row(figure: str, value: str, base: str, ratio: str, goal: str = "", met: str = "") -> None:
        lines.append(f"| {figure} | {value} | {base} | {ratio} | {goal} | {met} |")

    top = results["pull"][-1]
    for level in results["pull"]:
        pull, base = level["pull"], level["baseline"]
        n = pull["concurrency"]
        ratio = pull["throughput_rps"] / base["throughput_rps"]
        goal, met = ("≥ 0.5", _met(ratio >= 0.5)) if level is top else ("", "")
        row(
            f"pull throughput /s, {n} client(s)",
            f"{pull['throughput_rps']:.0f}",
            f"{base['throughput_rps']:.0f} bare",
            f"{ratio:.2f}",
            goal,
            met,
        )
    for level in results["pull"]:
        pull, base = level["pull"], level["baseline"]
        n = pull["concurrency"]
        ratio = pull["p99_ms"] / base["p99_ms"]
        goal, met = ("≤ 2", _met(ratio <= 2)) if level is top else ("", "")
        row(
            f"pull p50 / p99 ms, {n} client(s)",
            f"{pull['p50_ms']:.1f} / {pull['p99_ms']:.1f}",
            f"{base['p50_ms']:.1f} / {base['p99_ms']:.1f}",
            f"{_ratio(pull['p50_ms'], base['p50_ms'])} / {ratio:.2f}",
            goal,
            met,
        )
    for level in results["pull"]:
        pull, base = level["pull"], level["baseline"]
        ratio = pull["cpu_ms_per_request"] / base["cpu_ms_per_request"] if base["cpu_ms_per_request"] else 0.0
        goal, met = ("≤ 4", _met(ratio <= 4)) if level is top else ("", "")
        row(
            f"server CPU ms per request, {pull['concurrency']} client(s)",
            f"{pull['cpu_ms_per_request']:.2f}",
            f"{base['cpu_ms_per_request']:.2f}",
            f"{ratio:.2f}",
            goal,
            met,
        )
    pull = top["pull"]
    row(
        "SQL statements / commits per pull",
        f"{pull['statements_per_request']:.1f} / {pull['commits_per_request']:.2f}",
        "0 / 0",
        "",
        "≤ 6 / 1",
        _met(pull["statements_per_request"] <= 6.05 and pull["commits_per_request"] <= 1.05),
    )
    publish, publish_base = results["publish"]["publish"], results["publish"]["baseline"]
    row(
        "publish throughput /s, 1 client",
        f"{publish['throughput_rps']:.0f}",
        f"{publish_base['throughput_rps']:.0f} bare",
        _ratio(publish["throughput_rps"], publish_base["throughput_rps"]),
    )
    row(
        "publish p50 / p99 ms",
        f"{publish['p50_ms']:.1f} / {publish['p99_ms']:.1f}",
        f"{publish_base['p50_ms']:.1f} / {publish_base['p99_ms']:.1f}",
        _ratio(publish["p50_ms"], publish_base["p50_ms"]),
    )
    row(
        "server CPU ms per publish",
        f"{publish['cpu_ms_per_request']:.2f}",
        f"{publish_base['cpu_ms_per_request']:.2f}",
        _ratio(publish["cpu_ms_per_request"], publish_base["cpu_ms_per_request"]),
    )
    row(
        "SQL statements / commits per publish",
        f"{publish['statements_per_request']:.1f} / {publish['commits_per_request']:.2f}",
        "0 / 0",
        "",
    )
    scale = results.get("publish_scale")
    if scale:
        first, last = scale["first"], scale["last"]
        ratio = scale["rate_ratio_last_to_first"]
        row(
            f"publish /s over {scale['people']} people with shared case references: last {scale['window']} "
            f"(statements each)",
            f"{last['throughput_rps']:.0f} ({last['statements_per_request']:.0f})",
            f"first {scale['window']}: {first['throughput_rps']:.0f} ({first['statements_per_request']:.0f})",
            f"{ratio:.2f}",
            "≥ 0.8",
            _met(ratio >= 0.8),
        )
    log = results["log"]
    append, bare = log["log_append"]["rate_per_s"], log["bare_insert"]["rate_per_s"]
    # One entry per transaction is bound by its durable commit (an fsync each, like the bare insert);
    # the goal is the log's rate under load, which the writer's group commit (log.batch) gives.
    row(
        "log append /s (each its own transaction: one fsync each)",
        f"{append:.0f}",
        f"{bare:.0f} bare insert",
        _ratio(append, bare),
    )
    if "log_append_batched" in log:
        batched, bare_batched = log["log_append_batched"], log["bare_insert_batched"]
        row(
            f"log append /s, {batched['per_transaction']} entries per batch (the writer's group commit)",
            f"{batched['rate_per_s']:.0f}",
            f"{bare_batched['rate_per_s']:.0f} bare insert, same batches",
            _ratio(batched["rate_per_s"], bare_batched["rate_per_s"]),
            "≥ 2,000/s",
            _met(batched["rate_per_s"] >= 2000),
        )
        if "cpu_rate_per_s" in batched:
            row(
                "log append per CPU second of the appending process, same batches",
                f"{batched['cpu_rate_per_s']:.0f}",
                f"{bare_batched['cpu_rate_per_s']:.0f} bare insert",
                _ratio(batched["cpu_rate_per_s"], bare_batched["cpu_rate_per_s"]),
            )
    verify, read = log["log_verify"]["rate_per_s"], log["log_read"]["rate_per_s"]
    goal = 100_000 if pg else 200_000
    row(
        f"audit verify /s ({log['log_verify']['entries']} entries)",
        f"{verify:.0f}",
        f"{read:.0f} plain read",
        _ratio(verify, read),
        f"≥ {goal:,}/s",
        _met(verify >= goal),
    )
    if "cpu_rate_per_s" in log["log_verify"]:
        # What the verifier would do with a whole core to itself: on a shared machine the wall-clock rate
        # above is the share of a core it was given.
        row(
            "audit verify per CPU second of the verifying process",
            f"{log['log_verify']['cpu_rate_per_s']:.0f}",
            f"{log['log_read']['cpu_rate_per_s']:.0f} plain read",
            _ratio(log["log_verify"]["cpu_rate_per_s"], log["log_read"]["cpu_rate_per_s"]),
        )
    cache = results.get("policy_cache")
    if cache:
        rate = cache["hit_rate"]
        row(
            "decision cache hit rate over the pulls",
            "off"
            if not cache["enabled"]
            else (f"{rate:.3f} ({cache['hits']} hits, {cache['misses']} misses)" if rate is not None else "n/a"),
            "",
            "",
        )
    mem, bare_mem = results["memory"]["gateway"], results["memory"]["bare"]
    ratio = mem["rss_kib"] / bare_mem["rss_kib"]
    row(
        "RSS MiB after the load (peak)",
        f"{mem['rss_kib'] / 1024:.0f} ({mem['peak_rss_kib'] / 1024:.0f})",
        f"{bare_mem['rss_kib'] / 1024:.0f} bare FastAPI",
        f"{ratio:.2f}",
        "≤ 2",
        _met(ratio <= 2),
    )
    base_p50 = results["pull"][0]["baseline"]["p50_ms"]
    lines += [
        "",
        "| policy decision, in process | p50 ms | p99 ms | ratio to one bare request (p50) |",
        "|---|---|---|---|",
    ]
    for name, fig in results["policy"].items():
        lines.append(f"| {name} | {fig['p50_ms']:.3f} | {fig['p99_ms']:.3f} | {_ratio(fig['p50_ms'], base_p50)} |")
    return "\n".join(lines) + "\n"


def plot(latencies: dict[str, list[float]], path: Path) -> bool:
    """Empirical CDFs of the latencies, log-scaled; False (and no file) without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    figure, axis = plt.subplots(figsize=(9, 5.5))
    for label, samples in latencies.items():
        ordered = sorted(s * 1000 for s in samples)
        if not ordered:
            continue
        axis.plot(ordered, [(i + 1) / len(ordered) for i in range(len(ordered))], label=label, linewidth=1.2)
    axis.set_xscale("log")
    axis.set_xlabel("latency (ms, log scale)")
    axis.set_ylabel("fraction of requests answered within")
    axis.set_title("ld-gateway: pull and publish latency against the bare endpoint, one run")
    axis.grid(True, which="both", alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True


def write(results: dict[str, Any], latencies: dict[str, list[float]], out: Path) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "results.json", "markdown": out / "results.md", "png": out / "latency.png"}
    paths["json"].write_text(json.dumps(results, indent=2) + "\n")
    paths["markdown"].write_text(markdown(results))
    if not plot(latencies, paths["png"]):
        del paths["png"]
    return paths

"""The bench's outputs: JSON (everything), a markdown table (the ratios), a PNG of the latency distribution."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def _ratio(value: float, base: float) -> str:
    return f"{value / base:.2f}" if base else "n/a"


def markdown(results: dict[str, Any]) -> str:
    lines = [
        f"Run {results['started']} on {results['machine']['cpus']} CPUs ({results['machine']['note']}), "
        f"database {results['database']}.",
        "",
        "| pulls | clients | throughput /s | p50 ms | p99 ms | baseline /s | baseline p50 / p99 ms "
        "| throughput ratio | p50 ratio |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for level in results["pull"]:
        pull, base = level["pull"], level["baseline"]
        lines.append(
            f"| GET /fhir/Bundle?patient.identifier | {pull['concurrency']} | {pull['throughput_rps']:.0f} "
            f"| {pull['p50_ms']:.1f} | {pull['p99_ms']:.1f} | {base['throughput_rps']:.0f} "
            f"| {base['p50_ms']:.1f} / {base['p99_ms']:.1f} "
            f"| {_ratio(pull['throughput_rps'], base['throughput_rps'])} | {_ratio(pull['p50_ms'], base['p50_ms'])} |"
        )
    publish, publish_base = results["publish"]["publish"], results["publish"]["baseline"]
    lines.append(
        f"| POST /assessments (publish) | {publish['concurrency']} | {publish['throughput_rps']:.0f} "
        f"| {publish['p50_ms']:.1f} | {publish['p99_ms']:.1f} | {publish_base['throughput_rps']:.0f} "
        f"| {publish_base['p50_ms']:.1f} / {publish_base['p99_ms']:.1f} "
        f"| {_ratio(publish['throughput_rps'], publish_base['throughput_rps'])} "
        f"| {_ratio(publish['p50_ms'], publish_base['p50_ms'])} |"
    )
    base_p50 = results["pull"][0]["baseline"]["p50_ms"]
    lines += ["", "| in process | p50 ms | p99 ms | ratio to one bare request (p50) |", "|---|---|---|---|"]
    for name, fig in results["policy"].items():
        lines.append(f"| {name} | {fig['p50_ms']:.3f} | {fig['p99_ms']:.3f} | {_ratio(fig['p50_ms'], base_p50)} |")
    log = results["log"]
    lines += [
        "",
        "| log | rate /s | baseline | baseline rate /s | ratio |",
        "|---|---|---|---|---|",
        f"| append (one transaction each) | {log['log_append']['rate_per_s']:.0f} | bare insert of the same bytes "
        f"| {log['bare_insert']['rate_per_s']:.0f} "
        f"| {_ratio(log['log_append']['rate_per_s'], log['bare_insert']['rate_per_s'])} |",
        f"| verify ({log['log_verify']['entries']} entries) | {log['log_verify']['rate_per_s']:.0f} "
        f"| reading the same rows | {log['log_read']['rate_per_s']:.0f} "
        f"| {_ratio(log['log_verify']['rate_per_s'], log['log_read']['rate_per_s'])} |",
    ]
    mem, bare = results["memory"]["gateway"], results["memory"]["bare"]
    lines += [
        "",
        "| memory per process | RSS MiB | peak MiB | bare FastAPI+uvicorn RSS MiB | ratio (RSS) |",
        "|---|---|---|---|---|",
        f"| gateway after the load | {mem['rss_kib'] / 1024:.0f} | {mem['peak_rss_kib'] / 1024:.0f} "
        f"| {bare['rss_kib'] / 1024:.0f} | {_ratio(mem['rss_kib'], bare['rss_kib'])} |",
    ]
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

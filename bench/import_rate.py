"""Assessments per second through ``ld-gateway import`` against the raw ``POST /assessments`` rate, same run.

One gateway (``bench.live``: ``ld-gateway demo --no-serve`` then a real server process) and one database.
The baseline is the API: N distinct canonical assessments POSTed one after another by the L&D client (one
at a time, as the importer goes). Then N distinct export rows (JSON lines, the sample's shape, a new
person each) go through the importer (``adapters.case_export.importer``, in this process, straight to the
store), then the same file again (every row unchanged). Figures are ratios to the API rate.

    python -m bench.import_rate [--rows N] [--postgres URL]
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.live import ROOT, LiveGateway
from bench.load import Call, describe, run_load
from bench.run import dpop, publish_bodies, throwaway_databases, valid_nhs_number

SAMPLE = ROOT / "adapters" / "case_export" / "samples" / "export.jsonl"


def export_rows(count: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    template = json.loads(SAMPLE.read_text(encoding="utf-8").splitlines()[0])
    template.pop("pnc_id", None)
    rows = []
    for i in range(count):
        row = copy.deepcopy(template)
        row["record_id"] = f"BENCH-IMPORT-{seed}-{i}"
        row["nhs_number"] = valid_nhs_number(rng)
        row["case_links"] = [f"POL-NE=01NE{i:07d}"]
        rows.append(row)
    return rows


def run(rows: int, postgres: str | None) -> dict[str, Any]:
    from adapters.case_export.importer import import_rows
    from adapters.case_export.reader import read_rows
    from gateway.assessments.validation import load_schema
    from gateway.db.engine import make_engine, make_session_factory
    from gateway.keys import load_keyring

    with tempfile.TemporaryDirectory() as tmp, throwaway_databases(postgres, Path(tmp)) as (url, _):
        gw = LiveGateway(Path(tmp), url)
        gw.setup()
        gw.start()
        try:
            publisher = gw.agency_client("LD-NE")
            token = publisher.token("ld-service")
            headers = {"Authorization": f"DPoP {token}", "Content-Type": "application/json"}
            call = Call(
                "POST",
                gw.base_url + "/assessments",
                headers,
                bodies=publish_bodies(rows + 5, 7),
                per_request=dpop(publisher, token),
            )
            api = run_load(
                call,
                concurrency=1,
                total=rows,
            )
            assert set(api.statuses) == {201}, api.statuses

            export = Path(tmp) / "export.jsonl"
            export.write_text("".join(json.dumps(r) + "\n" for r in export_rows(rows, 11)), encoding="utf-8")
            engine = make_engine(url)
            sessions = make_session_factory(engine)
            keyring = load_keyring(gw.data_dir / "keys")
            schema = load_schema(ROOT / "schemas")
            timings = {}
            for label in ("import", "re-import"):
                started = time.perf_counter()
                report = import_rows(
                    read_rows(export), sessions=sessions, keyring=keyring, schema=schema, agency_code="LD-NE"
                )
                timings[label] = time.perf_counter() - started
                expected = "created" if label == "import" else "unchanged"
                assert report.count(expected) == rows, report.to_json()["counts"]
            engine.dispose()
        finally:
            gw.stop()
    api_rate = api.throughput
    result = {
        "database": "postgresql" if postgres else "sqlite",
        "rows": rows,
        "baseline": {"name": "POST /assessments, one at a time", **describe(api)},
        "import_per_s": rows / timings["import"],
        "reimport_per_s": rows / timings["re-import"],
    }
    result["import_vs_api"] = result["import_per_s"] / api_rate
    result["reimport_vs_api"] = result["reimport_per_s"] / api_rate
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("--postgres", default=None, help="a PostgreSQL server URL (a throw-away database is made)")
    args = parser.parse_args()
    result = run(args.rows, args.postgres)
    out = ROOT / "bench" / "results" / f"import-{result['database']}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    base = result["baseline"]["throughput_rps"]
    print(f"{result['database']}, {result['rows']} assessments")
    print(f"  baseline POST /assessments (one at a time): {base:.1f}/s = 1.00")
    print(f"  ld-gateway import (new people): {result['import_per_s']:.1f}/s = {result['import_vs_api']:.2f}x")
    print(f"  re-import (all unchanged): {result['reimport_per_s']:.1f}/s = {result['reimport_vs_api']:.2f}x")
    print(f"  written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

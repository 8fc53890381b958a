"""``python -m adapters.log_verifier EXPORT_DIR --key VKEY_FILE [--witnessed CHECKPOINT_FILE ...]``.

Exit 0 when the export verifies; 1 naming the first bad entry or checkpoint; 2 for unusable input.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from adapters.log_verifier.export import verify_export
from adapters.log_verifier.merkle import VerificationError
from adapters.log_verifier.note import LogKey


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ld-log-verify", description="Verify an exported disclosure log offline.")
    parser.add_argument("export", type=Path, help="the directory `ld-gateway audit export` wrote")
    parser.add_argument("--key", type=Path, required=True, help="file holding the log's verifier key (vkey)")
    parser.add_argument(
        "--witnessed", type=Path, action="append", default=[], help="a checkpoint held by a witness; repeatable"
    )
    parser.add_argument("--json", action="store_true", help="machine-readable result")
    args = parser.parse_args(argv)
    try:
        key = LogKey.parse(args.key.read_text(encoding="utf-8"))
        if not (args.export / "entries.jsonl").exists():
            raise FileNotFoundError(args.export / "entries.jsonl")
        witnessed = [p.read_text(encoding="utf-8") for p in args.witnessed]
        report = verify_export(args.export, key, witnessed)
    except (OSError, VerificationError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        problem = report.problem
        print(
            json.dumps(
                {
                    "ok": report.ok,
                    "entries": report.entries,
                    "checkpoints": report.checkpoints,
                    "witnessed": report.witnessed,
                    "root": report.root,
                    "first_problem": None
                    if problem is None
                    else {"kind": problem.kind, "position": problem.position, "problem": problem.message},
                }
            )
        )
    elif report.ok:
        print(
            f"OK: {report.entries} entries, {report.checkpoints} checkpoints verified"
            f"{', witnessed ' + ', '.join(map(str, report.witnessed)) if report.witnessed else ''}; root {report.root}"
        )
    else:
        print(f"FAILED at {report.problem}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())

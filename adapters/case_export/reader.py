"""Reading an export file: CSV (a header row, UTF-8, optional BOM) or JSON lines (one object a line).

Rows come out as ``(line number, {column: value})``; blank JSON lines are skipped. A header naming a
CSV column the mapping does not know stops the whole import before anything is written (a column that
is ignored would be data silently dropped); in JSON lines an unknown key is that row's error.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from adapters.case_export.columns import COLUMNS

FORMATS = ("csv", "jsonl")


class ExportError(Exception):
    """The file as a whole cannot be read (unknown format, unknown columns, not UTF-8)."""


def detect_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    raise ExportError("the file must end in .csv, .jsonl or .ndjson (or give --format)")


def _check_columns(columns: list[str], where: str) -> None:
    unknown = [c for c in columns if c not in COLUMNS]
    if unknown:
        raise ExportError(f"{where}: unknown column(s) {', '.join(sorted(unknown))} (see docs/import.md)")


def read_rows(path: Path, fmt: str | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    fmt = fmt or detect_format(path)
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}")
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            if fmt == "csv":
                reader = csv.DictReader(handle)
                _check_columns(list(reader.fieldnames or []), "header")
                for row in reader:
                    if None in row:
                        yield reader.line_num, {"__extra__": "more cells than columns"}
                        continue
                    yield reader.line_num, {k: v for k, v in row.items() if v is not None}
            else:
                for number, line in enumerate(handle, start=1):
                    if not line.strip():
                        continue
                    try:
                        data = json.loads(line)
                    except ValueError:
                        yield number, {"__extra__": "not a JSON object"}
                        continue
                    if not isinstance(data, dict):
                        yield number, {"__extra__": "not a JSON object"}
                        continue
                    yield number, data  # unknown keys are that row's problem (row_to_assessment)
    except UnicodeDecodeError:
        raise ExportError("the file is not UTF-8") from None

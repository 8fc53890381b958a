"""Reading a JSON request body: 400 with an OperationOutcome when it does not parse, or when it holds
text that cannot be stored (a lone surrogate: see gateway.json_text), naming each place."""

from __future__ import annotations

from typing import Any

from fastapi import Response

from gateway import json_text
from gateway.api.responses import outcome_response
from gateway.issue import Issue


def parse(raw: bytes) -> tuple[Any, Response | None]:
    try:
        return json_text.loads(raw), None
    except json_text.UnencodableText as exc:
        issues = [Issue("invalid", f"text that is not valid Unicode (a lone surrogate) at {p}") for p in exc.pointers]
        return None, outcome_response(400, issues)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser allows
        return None, outcome_response(400, [Issue("structure", "the body is not valid JSON")])

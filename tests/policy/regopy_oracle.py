"""The differential oracle: the same policy on regopy (Microsoft rego-cpp), an interpreter independent of
regorus, the one the gateway runs (gateway/policy/engine.py).

Test-only (regopy is in the ``dev`` extra, not a dependency of the gateway): it was the production engine
until regorus replaced it (docs/decisions.md), and it stays as a second opinion on every decision, because
the two interpreters share nothing but the policy text (a rego-cpp ``min()`` that compared 11 < 3 was
found this way). It compiles the bundle once and evaluates it with one interpreter per thread: a regopy
interpreter shared between threads crashes the process. It aborts the process on Rego unit tests that use
``with``, so it never runs those (gateway/policy/rego_tests.py runs them on regorus).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import regopy
from regopy.rego_shared import (
    rego_bundle_query_entrypoint,
    rego_free_output,
    rego_output_ok,
    rego_output_string,
)

from gateway.policy.engine import EngineError, PolicyLoadError, RegoEngineBase

ENTRYPOINT = "gateway/disclosure/decision"

_ERRORMSG = re.compile(r"\(errormsg \d+:([^)\n]*)")


class RegopyEngine(RegoEngineBase):
    """The policy on regopy: bundle compiled once, one interpreter per thread."""

    def __init__(self, policy_dir: Path, catalogue_ids: Sequence[str]) -> None:
        super().__init__(policy_dir, catalogue_ids)
        builder = regopy.Interpreter()
        try:
            builder.add_data_json(json.dumps(self._data))
            for name, source in self._modules:
                builder.add_module(name, source)
            bundle = builder.build(None, [ENTRYPOINT])
        except regopy.RegoError as exc:
            raise PolicyLoadError(f"{self.policy_dir}: rego-cpp cannot compile the policy: {exc}") from exc
        if not bundle.ok():
            raise PolicyLoadError(f"{self.policy_dir}: rego-cpp built no usable bundle")
        self._bundle = bundle
        self._local = threading.local()
        self._probe()

    def _interpreter(self) -> regopy.Interpreter:
        interpreter = getattr(self._local, "interpreter", None)
        if interpreter is None:
            interpreter = self._local.interpreter = regopy.Interpreter()
        return interpreter

    def _evaluate(self, input_json: str) -> Any:
        interpreter = self._interpreter()
        interpreter.set_input_term(input_json)
        # regopy's Output parses its text eagerly and raises a bare JSONDecodeError when that text is
        # an error, losing the message; read the raw output instead.
        impl = rego_bundle_query_entrypoint(interpreter._impl, self._bundle._impl, ENTRYPOINT)
        try:
            ok = rego_output_ok(impl)
            text = rego_output_string(impl)
        finally:
            rego_free_output(impl)
        if not ok or not text.startswith(("{", "[")):
            if text.strip() == "undefined":
                return None
            raise EngineError(_rego_cpp_error(text))
        results = json.loads(text)
        items = results if isinstance(results, list) else [results]
        if not all(isinstance(item, dict) for item in items):
            raise EngineError("unexpected result shape from rego-cpp")
        expressions = [item.get("expressions", []) for item in items]
        if not expressions:
            return None
        if len(expressions) != 1 or len(expressions[0]) != 1:
            raise EngineError("the decision query produced more than one value")
        return expressions[0][0]


def _rego_cpp_error(text: str) -> str:
    # rego-cpp prints its errors as an AST that also holds the whole input; keep just the messages.
    messages = _ERRORMSG.findall(text)
    return "; ".join(m.strip() for m in messages) if messages else "rego-cpp evaluation error"

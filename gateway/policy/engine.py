"""Policy engines: the :class:`PolicyEngine` interface and the embedded Rego engine.

:class:`EmbeddedRegoEngine` evaluates the policy in process with regorus (Rust): the one Rego
interpreter the gateway runs, and the one ``ld-gateway policy test`` runs the Rego unit tests on
(gateway/policy/rego_tests.py), so the tests and production share one interpreter. A regorus Engine is
pinned to the thread that made it (pyo3 ``unsendable``: any call from another thread panics, ``clone()``
included) and holds the GIL while it evaluates, so the engine owns one thread that parses the policy
once and answers every decision in turn: one parsed policy per process, however many request threads
ask (a parsed, once-evaluated policy is about 7 MiB, and the server's threadpool has up to 40 threads).
Decisions are cached in front of it (gateway/policy/cache.py), so the hop to that thread is paid only on
a miss. docs/decisions.md says why regopy (rego-cpp) is no longer the production engine; the test suite
still replays every decision on it as an independent interpreter (tests/policy/test_differential.py).

A broken policy directory (a syntax error, a missing ``data.json``, a policy that does not answer a
probe decision) fails at construction with :class:`PolicyLoadError`: the gateway refuses to start
rather than deny every request for a reason nobody sees. Once constructed, :meth:`decide` never
raises: an exception, an undefined or malformed result, or an unknown field id becomes a denial
(:func:`decision_from_result`), so callers always get a :class:`Decision` (fail closed).
"""

from __future__ import annotations

import json
import threading
import uuid
import weakref
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from queue import SimpleQueue
from typing import Any, Protocol

import regorus

from gateway.policy.decision import Decision, LawfulBasis, OverrideUse, Withheld
from gateway.policy.revision import DATA_FILE
from gateway.policy.source import PolicyLoadError as PolicyLoadError  # raised by the reader; re-exported
from gateway.policy.source import PolicySource, as_source

QUERY = "data.gateway.disclosure.decision"

DEFAULT_DENY_RULE = "default-deny"
DEFAULT_DENY_REASON = "No policy rule decided this field, so it is withheld."

# Stable denial codes for answers the engine could not trust (the policy's own codes pass through).
POLICY_ERROR = "policy-error"
POLICY_UNDEFINED = "policy-undefined"
POLICY_MALFORMED = "policy-malformed"
POLICY_UNKNOWN_FIELD = "policy-unknown-field"
POLICY_CONTRADICTION = "policy-contradiction"
POLICY_DENIED = "policy-denied"


def engine_failed(decision: Decision) -> bool:
    """Whether ``decision`` is the engine's failure rather than the policy's answer: an error or timeout
    (``policy-error``), or an answer the engine could not trust (undefined, malformed, unknown fields),
    each of which carries its ``errors``. Such a denial keeps a disclosure from going out, but says
    nothing about what the policy would release: nothing may read it as the policy refusing."""
    return bool(decision.errors) or decision.deny_reason == POLICY_ERROR


# The embedded engine's limits (seconds). A decision takes about a millisecond; one that waits longer than
# this behind the engine's one thread is denied (POLICY_ERROR), as an OPA server's timeout is. Parsing
# the policy takes tens of milliseconds; a load that never finishes is refused, not waited on.
DECISION_TIMEOUT = 5.0
LOAD_TIMEOUT = 60.0

_DECISION_KEYS = frozenset({"allow", "released", "withheld", "obligations", "overrides", "deny_reason"})

# A decision the loaded policy must answer cleanly before the engine accepts it.
_PROBE_INPUT: dict[str, Any] = {
    "recipient": {"agency_type": "police", "agency_code": "PROBE"},
    "purpose": "charging",
    "subject": {"age": 30, "age_group": "adult"},
    "consent": {
        "status": "given",
        "limited_to_agencies": [],
        "limited_to_purposes": [],
        "gillick_competent": None,
        "best_interests_recorded": False,
        "parental_responsibility": False,
    },
    "overrides": [],
}


class PolicyEngine(Protocol):
    """Answers one disclosure question; never raises (every failure is a denial)."""

    @property
    def revision(self) -> str:
        """Which policy answers (read-only: an engine's policy changes only by making a new engine)."""
        ...

    def decide(self, policy_input: Mapping[str, Any]) -> Decision: ...


class EngineError(Exception):
    """An evaluation failed inside the Rego interpreter."""


def short_error(exc: BaseException) -> str:
    """An interpreter error without the native stack trace regorus appends."""
    text = str(exc).split("Stack backtrace:", 1)[0].strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


CONFIDENTIALITY_PREFIX = "confidentiality:"


def always_obligations(data: Mapping[str, Any]) -> tuple[str, ...]:
    """The obligations the policy data says every allowed decision carries (``data.gateway.obligations.
    always``: in policies/, the refrains NORDSCLCD and NOREUSE); none when the data names none. Data that
    names them as anything but a list of strings does not load (:class:`PolicyLoadError`)."""
    gateway = data.get("gateway")
    obligations = gateway.get("obligations") if isinstance(gateway, Mapping) else None
    if obligations is None:
        return ()
    always: Any = obligations.get("always", []) if isinstance(obligations, Mapping) else None
    if not _is_str_list(always) or not all(always):
        raise PolicyLoadError("policy data: gateway.obligations.always must be a list of obligation strings")
    return tuple(always)


def decision_from_result(
    result: Any,
    *,
    catalogue_ids: Sequence[str],
    policy_revision: str,
    decision_id: str,
    always: Sequence[str],
) -> Decision:
    """Turn the policy's answer into a :class:`Decision`, denying anything that is not clean.

    Checked: the shape of every key; released and withheld name only catalogue fields, never the same
    field twice and never one field both ways; an allowed decision carries every obligation in
    ``always`` (:func:`always_obligations` of the data the engine was given) and a confidentiality code
    (``confidentiality:<code>``), so no document goes out without its refrains and its confidentiality
    label, whatever a remote engine serves. A catalogue field the policy neither released nor withheld is
    withheld under ``default-deny``.
    """

    def deny(code: str, *errors: str) -> Decision:
        return Decision.denied(code, policy_revision=policy_revision, decision_id=decision_id, errors=tuple(errors))

    if result is None:
        return deny(POLICY_UNDEFINED, "the policy returned no decision")
    if not isinstance(result, Mapping):
        return deny(POLICY_MALFORMED, f"the decision is a {type(result).__name__}, not an object")
    missing = sorted(_DECISION_KEYS - result.keys())
    if missing:
        return deny(POLICY_MALFORMED, f"the decision lacks {', '.join(missing)}")
    allow = result["allow"]
    if not isinstance(allow, bool):
        return deny(POLICY_MALFORMED, "allow is not a boolean")
    deny_reason = result["deny_reason"]
    if not allow:
        if isinstance(deny_reason, str) and deny_reason:
            return deny(deny_reason)
        return deny(POLICY_DENIED, "the policy denied without a deny_reason")
    if deny_reason is not None:
        return deny(POLICY_MALFORMED, "an allowed decision carries a deny_reason")

    released = result["released"]
    if not _is_str_list(released):
        return deny(POLICY_MALFORMED, "released is not a list of field ids")
    obligations = result["obligations"]
    if not _is_str_list(obligations):
        return deny(POLICY_MALFORMED, "obligations is not a list of strings")
    lacking = [o for o in always if o not in obligations]
    if lacking:
        return deny(POLICY_MALFORMED, f"an allowed decision lacks the obligations {', '.join(lacking)}")
    if not any(o.startswith(CONFIDENTIALITY_PREFIX) and o != CONFIDENTIALITY_PREFIX for o in obligations):
        return deny(POLICY_MALFORMED, "an allowed decision carries no confidentiality code")
    raw_withheld = result["withheld"]
    if not isinstance(raw_withheld, list):
        return deny(POLICY_MALFORMED, "withheld is not a list")
    withheld: list[Withheld] = []
    for item in raw_withheld:
        if not (
            isinstance(item, Mapping)
            and all(isinstance(item.get(k), str) and item.get(k) for k in ("field", "rule", "reason"))
        ):
            return deny(POLICY_MALFORMED, "a withheld entry lacks field, rule or reason")
        withheld.append(Withheld(item["field"], item["rule"], item["reason"]))

    raw_overrides = result["overrides"]
    if not isinstance(raw_overrides, list):
        return deny(POLICY_MALFORMED, "overrides is not a list")
    overrides: list[OverrideUse] = []
    for item in raw_overrides:
        if not (
            isinstance(item, Mapping) and all(isinstance(item.get(k), str) and item.get(k) for k in ("id", "basis"))
        ):
            return deny(POLICY_MALFORMED, "an overrides entry lacks id or basis")
        overrides.append(OverrideUse(item["id"], item["basis"]))

    # Every disclosure names its lawful basis: an allowed decision that names none is not clean.
    raw_bases = result.get("lawful_basis")
    if not isinstance(raw_bases, list) or not raw_bases:
        return deny(POLICY_MALFORMED, "an allowed decision names no lawful_basis")
    bases: list[LawfulBasis] = []
    for item in raw_bases:
        if not (
            isinstance(item, Mapping)
            and all(isinstance(item.get(k), str) and item.get(k) for k in ("basis", "statute"))
            and (item.get("override_id") is None or isinstance(item.get("override_id"), str))
        ):
            return deny(POLICY_MALFORMED, "a lawful_basis entry lacks basis or statute")
        bases.append(LawfulBasis(item["basis"], item["statute"], item.get("override_id")))

    catalogue = set(catalogue_ids)
    withheld_ids = [w.field for w in withheld]
    unknown = sorted({*released, *withheld_ids} - catalogue)
    if unknown:
        return deny(POLICY_UNKNOWN_FIELD, f"not in the field catalogue: {', '.join(unknown)}")
    duplicated = sorted(
        {f for f in released if released.count(f) > 1} | {f for f in withheld_ids if withheld_ids.count(f) > 1}
    )
    if duplicated:
        return deny(POLICY_MALFORMED, f"named more than once: {', '.join(duplicated)}")
    both = sorted(set(released) & set(withheld_ids))
    if both:
        return deny(POLICY_CONTRADICTION, f"both released and withheld: {', '.join(both)}")

    # Belt and braces: whatever the policy forgot is withheld, never released.
    decided = set(released) | set(withheld_ids)
    withheld.extend(Withheld(f, DEFAULT_DENY_RULE, DEFAULT_DENY_REASON) for f in catalogue_ids if f not in decided)
    return Decision(
        allowed=True,
        released=tuple(sorted(released)),
        withheld=tuple(sorted(withheld, key=lambda w: w.field)),
        obligations=tuple(obligations),
        policy_revision=policy_revision,
        decision_id=decision_id,
        overrides=tuple(overrides),
        lawful_basis=tuple(bases),
    )


def _is_str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


class RegoEngineBase:
    """What an in-process Rego engine does around its interpreter: the policy read once (a directory, or
    a :class:`PolicySource` already read), its revision, the probe decision and the fail-closed wrapper.
    Subclasses give :meth:`_evaluate`."""

    revision: str
    catalogue_ids: tuple[str, ...]

    def __init__(self, policy: Path | PolicySource, catalogue_ids: Sequence[str]) -> None:
        self.source = as_source(policy, catalogue_ids)
        self.policy_dir = self.source.directory
        self.catalogue_ids = self.source.catalogue_ids
        # Data, modules and revision all come from the same bytes: the revision names what was loaded.
        self._data = self.source.data
        self._modules = self.source.modules
        self.revision = self.source.revision
        self.always_obligations = always_obligations(self._data)

    def _probe(self) -> None:
        decision = self.decide(_PROBE_INPUT)
        if not decision.allowed:
            raise PolicyLoadError(
                f"{self.policy_dir}: the policy does not answer a well-formed probe decision "
                f"(police, charging, adult, consent given): {decision.deny_reason}"
                + (f": {'; '.join(decision.errors)}" if decision.errors else "")
            )

    def decide(self, policy_input: Mapping[str, Any]) -> Decision:
        """The policy's decision for ``policy_input`` (see gateway/policy/input.py); never raises."""
        decision_id = str(uuid.uuid4())
        try:
            result = self._evaluate(json.dumps(policy_input, allow_nan=False))
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # fail closed; pyo3 panics derive from BaseException
            return Decision.denied(
                POLICY_ERROR, policy_revision=self.revision, decision_id=decision_id, errors=(short_error(exc),)
            )
        return decision_from_result(
            result,
            catalogue_ids=self.catalogue_ids,
            policy_revision=self.revision,
            decision_id=decision_id,
            always=self.always_obligations,
        )

    def _evaluate(self, input_json: str) -> Any:
        raise NotImplementedError


class EmbeddedRegoEngine(RegoEngineBase):
    """The policy on regorus: parsed once, on the engine's own thread, which answers every decision."""

    def __init__(self, policy: Path | PolicySource, catalogue_ids: Sequence[str]) -> None:
        super().__init__(policy, catalogue_ids)
        self._jobs: SimpleQueue[tuple[str, Future[Any]] | None] = SimpleQueue()
        parsed: Future[str | None] = Future()
        # A daemon: at exit it is stopped where it stands, and its Engine is never dropped elsewhere.
        threading.Thread(
            target=_engine_thread, args=(self._jobs, self._data, self._modules, parsed), name="rego", daemon=True
        ).start()
        weakref.finalize(self, self._jobs.put, None)  # an engine no longer used ends its thread
        try:
            error = parsed.result(timeout=LOAD_TIMEOUT)
        except FutureTimeout:
            raise PolicyLoadError(f"{self.policy_dir}: the policy was not parsed within {LOAD_TIMEOUT:g} s") from None
        if error:
            raise PolicyLoadError(error)
        self._probe()

    def _evaluate(self, input_json: str) -> Any:
        answer: Future[Any] = Future()
        self._jobs.put((input_json, answer))
        # One thread answers every uncached decision: a decision that does not come in time is a denial
        # (decide() turns the TimeoutError into POLICY_ERROR, which is never cached), not a stalled pull.
        result = answer.result(timeout=DECISION_TIMEOUT)
        return _single_value([[e.get("value") for e in r.get("expressions", [])] for r in result.get("result", [])])


def _engine_thread(
    jobs: SimpleQueue[tuple[str, Future[Any]] | None],
    data: Mapping[str, Any],
    modules: Sequence[tuple[str, str]],
    parsed: Future[str | None],
) -> None:
    """Make, use and drop one regorus Engine, all on this thread; it lives only in this frame, and no
    traceback leaves with it (pyo3 refuses an unsendable object dropped on another thread)."""
    name = DATA_FILE
    try:
        engine = regorus.Engine()
        # regorus parses in Rust and reports file:line:col: operators get a readable error.
        engine.add_data(dict(data))
        for name, source in modules:
            engine.add_policy(name, source)
    except BaseException as exc:  # a pyo3 panic too: the loader must hear of it, never wait for ever
        parsed.set_result(f"{name}: {short_error(exc)}")
        return
    parsed.set_result(None)
    while (job := jobs.get()) is not None:
        input_json, answer = job
        try:
            engine.set_input_json(input_json)
            answer.set_result(engine.eval_query(QUERY))
        except BaseException as exc:  # pyo3 panics derive from BaseException; decide() denies
            answer.set_exception(exc.with_traceback(None))
        # Hold no answer while waiting: a raised one's traceback reaches the engine object, whose
        # collection is what ends this thread.
        del job, answer


def _single_value(results: list[list[Any]]) -> Any:
    """The one value of a one-expression query; ``None`` when undefined; an error when ambiguous."""
    if not results:
        return None
    if len(results) != 1 or len(results[0]) != 1:
        raise EngineError("the decision query produced more than one value")
    return results[0][0]

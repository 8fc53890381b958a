"""The remote engine: an OPA server, through ``opa-python-client`` (``GATEWAY_POLICY_ENGINE=opa``).

At construction the gateway pushes its policy to the server with OPA's REST API, as documented at
https://www.openpolicyagent.org/docs/latest/rest-api/: each production module with the Policy API
(``PUT /v1/policies/ld-gateway/<file>``) and each top-level key of ``data.json`` (plus the field
catalogue) with the Data API (``PUT /v1/data/gateway/<key>``, one key at a time: OPA refuses a data
write at ``gateway`` itself because the package ``gateway.disclosure`` lives under it). Then it asks
the probe question; a server it cannot reach or that will not answer refuses the start.

Each decision is ``POST /v1/data/gateway/disclosure/decision`` with ``{"input": ...}``. A timeout, a
connection error, an HTTP error, a body that is not JSON or an undefined result (``{}`` without
``result``) is a denial, never an exception (fail closed). No retries: a slow decision is a denial,
not three slow decisions.

The revision is computed locally over exactly the bytes pushed (gateway/policy/source.py). In
production, OPA loads signed bundles instead
(docs/policy.md): then the gateway must not push, and this engine is not the way to run it yet.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from opa_client import OpaClient

from gateway.policy.decision import Decision
from gateway.policy.engine import (
    _PROBE_INPUT,
    POLICY_ERROR,
    POLICY_MALFORMED,
    PolicyLoadError,
    always_obligations,
    decision_from_result,
)
from gateway.policy.source import PolicySource, as_source

POLICY_ID_PREFIX = "ld-gateway"
DATA_ROOT = "gateway"
DECISION_PACKAGE = "gateway/disclosure"
DECISION_RULE = "decision"


class _Client(OpaClient):  # type: ignore[misc]
    """opa-python-client, plus a Data API write of any JSON value (its own takes objects only)."""

    def put_document(self, value: Any, path: str) -> None:
        # PUT /v1/data/{path}: 204 on success; OPA creates missing parents.
        response = self._session.put(f"{self.root_url}/data/{path}", json=value, timeout=self.timeout)
        if response.status_code != 204:
            raise PolicyLoadError(f"OPA refused data at {path}: HTTP {response.status_code}")


def _client(url: str, timeout: float) -> _Client:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PolicyLoadError("GATEWAY_OPA_URL must be http(s)://HOST[:PORT]")
    port = parts.port or (443 if parts.scheme == "https" else 8181)
    return _Client(host=parts.hostname, port=port, ssl=parts.scheme == "https", retries=0, timeout=timeout)


class OpaEngine:
    """Decisions from a remote OPA server; pushes the policy and data it was given (a directory, read
    once, or a :class:`PolicySource` already read): the revision is the hash of exactly the bytes pushed."""

    def __init__(
        self, url: str, policy: Path | PolicySource, catalogue_ids: Sequence[str], *, timeout: float = 1.0
    ) -> None:
        self.source = as_source(policy, catalogue_ids)
        self.policy_dir = self.source.directory
        self.catalogue_ids = self.source.catalogue_ids
        self.revision = self.source.revision
        # What the pushed data says every allowed decision carries: a server answering from other data
        # (its own bundle) that drops them is denied, not trusted.
        self.always_obligations = always_obligations(self.source.data)
        self._client = _client(url, timeout)
        try:
            for name, module in self.source.modules:
                self._client.update_policy_from_string(module, f"{POLICY_ID_PREFIX}/{name}", rego_compat=False)
            for key, value in self.source.data[DATA_ROOT].items():
                self._client.put_document(value, f"{DATA_ROOT}/{key}")
        except Exception as exc:  # the client raises its own errors, requests' and JSON errors
            raise PolicyLoadError(f"cannot push the policy to OPA at {url}: {type(exc).__name__}: {exc}") from exc
        probe = self.decide(_PROBE_INPUT)
        if not probe.allowed:
            raise PolicyLoadError(
                f"OPA at {url} does not answer the probe decision: {probe.deny_reason} {probe.errors}"
            )

    def decide(self, policy_input: Mapping[str, Any]) -> Decision:
        decision_id = str(uuid.uuid4())

        def deny(code: str, error: str) -> Decision:
            return Decision.denied(code, policy_revision=self.revision, decision_id=decision_id, errors=(error,))

        try:
            answer = self._client.query_rule(dict(policy_input), DECISION_PACKAGE, DECISION_RULE)
        except requests.Timeout:
            return deny(POLICY_ERROR, "OPA timed out")
        except requests.RequestException as exc:
            return deny(POLICY_ERROR, f"OPA request failed: {type(exc).__name__}")
        except ValueError:
            return deny(POLICY_MALFORMED, "OPA's answer is not JSON")
        except Exception as exc:  # fail closed on anything the client library raises
            return deny(POLICY_ERROR, f"OPA client error: {type(exc).__name__}")
        if not isinstance(answer, Mapping):
            return deny(POLICY_MALFORMED, "OPA's answer is not an object")
        # The Data API omits "result" when the decision is undefined: decision_from_result denies None.
        return decision_from_result(
            answer.get("result"),
            catalogue_ids=self.catalogue_ids,
            policy_revision=self.revision,
            decision_id=decision_id,
            always=self.always_obligations,
        )

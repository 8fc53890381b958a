"""A stand-in OPA server for the tests: OPA's documented REST API, evaluated with regorus.

No OPA binary can be installed here. This server speaks the parts of the REST API the gateway uses
(https://www.openpolicyagent.org/docs/latest/rest-api/), with OPA's status codes and bodies:

* ``PUT /v1/policies/{id}`` (text/plain Rego): 200 ``{}``; a module that does not compile: 400
  ``{"code": "invalid_parameter", "message": ..., "errors": [...]}``.
* ``PUT /v1/data/{path}`` (JSON): 204, creating missing parents; a path that is, contains or lies
  inside a policy package: 400 ``invalid_parameter`` (OPA refuses writes that conflict with policies);
  a body that is not JSON: 400.
* ``POST /v1/data/{path}`` with ``{"input": ...}``: 200 ``{"result": value}``, or ``{}`` when the
  document is undefined; an evaluation error: 500 ``{"code": "internal_error", ...}``.
* ``GET /health``: 200 ``{}``.

Faults for tests: ``delay`` (seconds before answering a query) and ``fail_status`` (answer queries with
that status and OPA's error body).
"""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import regorus

_PACKAGE = re.compile(r"^package\s+([A-Za-z_][\w.]*)", re.MULTILINE)


class OpaStandIn:
    def __init__(self) -> None:
        self.policies: dict[str, str] = {}
        self.data: dict[str, Any] = {}
        self.delay = 0.0
        self.fail_status: int | None = None
        self.queries = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> OpaStandIn:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- the API ------------------------------------------------------------------------------------

    def put_policy(self, policy_id: str, source: str) -> tuple[int, Any]:
        try:
            regorus.Engine().add_policy(policy_id, source)
        except Exception as exc:
            message = str(exc).split("Stack backtrace:", 1)[0].strip()
            body = {"code": "invalid_parameter", "message": "error(s) occurred while compiling module(s)"}
            return 400, {**body, "errors": [{"code": "rego_parse_error", "message": message}]}
        with self._lock:
            self.policies[policy_id] = source
        return 200, {}

    def put_data(self, path: list[str], value: Any) -> tuple[int, Any]:
        with self._lock:
            for package in self._packages():
                if path[: len(package)] == package or package[: len(path)] == path:
                    return 400, {
                        "code": "invalid_parameter",
                        "message": f"path /{'/'.join(path)} conflicts with a policy",
                    }
            if not path:
                if not isinstance(value, dict):
                    return 400, {"code": "invalid_parameter", "message": "the root document must be an object"}
                self.data = value
                return 204, None
            node = self.data
            for key in path[:-1]:
                node = node.setdefault(key, {})
                if not isinstance(node, dict):
                    return 400, {"code": "invalid_parameter", "message": "a parent is not an object"}
            node[path[-1]] = value
        return 204, None

    def query(self, path: list[str], policy_input: Any) -> tuple[int, Any]:
        self.queries += 1
        if self.delay:
            time.sleep(self.delay)
        if self.fail_status:
            return self.fail_status, {"code": "internal_error", "message": "stand-in fault"}
        with self._lock:
            policies, data = dict(self.policies), json.loads(json.dumps(self.data))
        engine = regorus.Engine()
        try:
            engine.add_data(data)
            for policy_id, source in policies.items():
                engine.add_policy(policy_id, source)
            engine.set_input_json(json.dumps(policy_input))
            answer = engine.eval_query("data" + "".join(f"[{json.dumps(p)}]" for p in path))
        except Exception as exc:
            return 500, {"code": "internal_error", "message": str(exc).split("Stack backtrace:", 1)[0].strip()}
        values = [e["value"] for r in answer.get("result", []) for e in r.get("expressions", [])]
        return 200, ({"result": values[0]} if values else {})

    def _packages(self) -> list[list[str]]:
        found = (_PACKAGE.search(source) for source in self.policies.values())
        return [m.group(1).split(".") for m in found if m]

    # -- HTTP ---------------------------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _send(self, status: int, body: Any) -> None:
                raw = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                if body is not None:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def _path(self, prefix: str) -> list[str] | None:
                path = self.path.split("?", 1)[0]
                if not path.startswith(prefix):
                    return None
                return [p for p in path[len(prefix) :].split("/") if p]

            def do_GET(self) -> None:
                if self.path.split("?", 1)[0] == "/health":
                    self._send(200, {})
                else:
                    self._send(404, {"code": "resource_not_found", "message": "not found"})

            def do_PUT(self) -> None:
                body = self._body()
                policy = self._path("/v1/policies/")
                if policy:
                    self._send(*standin.put_policy("/".join(policy), body.decode("utf-8")))
                    return
                data = self._path("/v1/data")
                if data is None:
                    self._send(404, {"code": "resource_not_found", "message": "not found"})
                    return
                try:
                    value = json.loads(body)
                except ValueError:
                    self._send(400, {"code": "invalid_parameter", "message": "body is not JSON"})
                    return
                self._send(*standin.put_data(data, value))

            def do_POST(self) -> None:
                data = self._path("/v1/data")
                if data is None:
                    self._send(404, {"code": "resource_not_found", "message": "not found"})
                    return
                try:
                    request = json.loads(self._body() or b"{}")
                except ValueError:
                    self._send(400, {"code": "invalid_parameter", "message": "body is not JSON"})
                    return
                self._send(*standin.query(data, request.get("input") if isinstance(request, dict) else None))

        return Handler

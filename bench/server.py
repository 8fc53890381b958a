"""The gateway as ``ld-gateway serve`` runs it, plus the bench's baseline routes. Bench only.

    python -m bench.server --port P        (with the same GATEWAY_* environment as the gateway)

The baseline routes live here, in a module the package does not install (pyproject's package list
holds ``gateway*`` and ``adapters*`` only), so no production server can ever expose them. They are
added to the very application `create_app` builds, so a baseline request passes the same uvicorn
process, the same middleware (fail-closed, request guards, request logging, metrics) and the same
response class as a pull, and returns the same bytes with the same headers, doing no work:

    GET  /bench/baseline   the bytes of a real pull response, captured by the bench (file named by
                           LDG_BENCH_BASELINE_FILE, read once)
    POST /bench/baseline   reads the body like POST /assessments does, answers a 201 of the same shape
    GET  /bench/counters   SQL statements and commits made while serving requests (SQLAlchemy engine
                           events; background loops such as webhook delivery are left out),
                           and the decision cache's hits and misses; the bench reads it before and after
                           each run and divides by the requests made
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import uuid
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import Engine, event

BASELINE_FILE_ENV = "LDG_BENCH_BASELINE_FILE"


def add_baseline_routes(app: FastAPI) -> None:
    captured: dict[str, bytes] = {}

    @app.get("/bench/baseline", include_in_schema=False)
    def baseline_get() -> Response:
        body = captured.get("body")
        if body is None:
            body = captured["body"] = Path(os.environ[BASELINE_FILE_ENV]).read_bytes()
        # The headers a disclosure carries, so the bytes on the wire match as well as the body.
        headers = {"Cache-Control": "no-store", "X-Disclosure-Id": str(uuid.uuid4()), "X-Policy-Revision": "bench"}
        return Response(body, media_type="application/fhir+json", headers=headers)

    @app.post("/bench/baseline", include_in_schema=False)
    async def baseline_post(request: Request) -> Response:
        raw = await request.body()
        json.loads(raw)  # POST /assessments parses the body before anything else; so does its baseline
        created = {"id": str(uuid.uuid4()), "version": 1, "created": True}
        return JSONResponse(created, status_code=201, headers={"Location": f"/fhir/Bundle/{created['id']}"})


# Loops that run whatever the load (webhook deliveries, notification listening, checkpoints): not
# counted. Everything else is work done for requests, the log writer's shared commits included.
BACKGROUND_THREADS = frozenset({"ld-gateway-webhooks", "ld-gateway-listen", "checkpoint-ticker"})


class Counters:
    """Statements and commits on any engine of this process, made for requests (not background loops).

    Commits are counted by SQLAlchemy's commit event (one per transaction that commits, whatever the
    database: a group commit of several requests counts once); BEGIN is not counted as a statement
    (see ``_on_statement``). The bench's own routes touch no database.
    """

    def __init__(self) -> None:
        self.statements = 0
        self.commits = 0
        self._lock = threading.Lock()
        event.listen(Engine, "before_cursor_execute", self._on_statement)
        event.listen(Engine, "commit", self._on_commit)

    def _on_statement(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        # Transaction control is not a statement here: PostgreSQL's BEGIN is implicit in the driver and
        # never seen, SQLite's is explicit; counting neither keeps the two databases comparable.
        if threading.current_thread().name not in BACKGROUND_THREADS and not statement.startswith("BEGIN"):
            with self._lock:
                self.statements += 1

    def _on_commit(self, *_args: Any) -> None:
        if threading.current_thread().name not in BACKGROUND_THREADS:
            with self._lock:
                self.commits += 1


def add_counter_route(app: FastAPI, counters: Counters) -> None:
    @app.get("/bench/counters", include_in_schema=False)
    def bench_counters() -> JSONResponse:
        policy = app.state.gateway.policy
        return JSONResponse(
            {
                "statements": counters.statements,
                "commits": counters.commits,
                "policy_cache_hits": getattr(policy, "hits", None),
                "policy_cache_misses": getattr(policy, "misses", None),
            }
        )


def create_bench_app() -> FastAPI:
    from gateway.app import create_app

    counters = Counters()
    app = create_app()
    add_baseline_routes(app)
    add_counter_route(app, counters)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description="ld-gateway with the bench's baseline routes (bench only)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    import uvicorn

    from gateway.app_logging import configure_logging
    from gateway.server import limit_malloc_arenas

    limit_malloc_arenas()  # as `ld-gateway serve`
    configure_logging()
    # As `ld-gateway serve`: one worker, uvicorn's access log off (it would print query strings).
    uvicorn.run(create_bench_app(), host=args.host, port=args.port, log_level="info", access_log=False)


if __name__ == "__main__":
    main()

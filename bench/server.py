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
"""

from __future__ import annotations

import argparse
import json
import os
import uuid
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

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


def create_bench_app() -> FastAPI:
    from gateway.app import create_app

    app = create_app()
    add_baseline_routes(app)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description="ld-gateway with the bench's baseline routes (bench only)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    import uvicorn

    from gateway.logs import configure_logging

    configure_logging()
    # As `ld-gateway serve`: one worker, uvicorn's access log off (it would print query strings).
    uvicorn.run(create_bench_app(), host=args.host, port=args.port, log_level="info", access_log=False)


if __name__ == "__main__":
    main()

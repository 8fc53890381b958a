"""Closed-loop load: N clients, each sending its next request as soon as the last is answered.

Every request's latency is kept (for percentiles and the plot); throughput is requests completed over
the wall time of the whole run. The clients share one event loop and one connection pool with a
connection per client, as N agency systems with keep-alive would look to the server.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass(frozen=True)
class Call:
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] | None = None
    content: bytes | None = None
    # Distinct bodies, taken in turn across all clients (each publish a new person, say).
    bodies: list[bytes] | None = None
    # Per-request headers made before the clock starts: a DPoP proof (RFC 9449) is fresh for each request.
    per_request: Callable[[str, str], dict[str, str]] | None = None


@dataclass
class LoadResult:
    concurrency: int
    latencies: list[float]
    wall: float
    statuses: Counter[int]
    # Requests sent in all, warm-up included: what server-side counters (CPU, statements) divide by.
    sent: int = 0

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.wall

    def merged(self, other: LoadResult) -> LoadResult:
        return LoadResult(
            self.concurrency,
            self.latencies + other.latencies,
            self.wall + other.wall,
            self.statuses + other.statuses,
            self.sent + other.sent,
        )


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def summary(samples: list[float]) -> dict[str, float]:
    return {
        "p50_ms": statistics.median(samples) * 1000,
        "p99_ms": percentile(samples, 0.99) * 1000,
        "mean_ms": statistics.fmean(samples) * 1000,
    }


async def _run(call: Call, concurrency: int, total: int, warmup: int) -> LoadResult:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=60) as http:
        taken = iter(range(10**9))

        async def one() -> tuple[float, int]:
            content = call.content if call.bodies is None else call.bodies[next(taken) % len(call.bodies)]
            headers = (
                call.headers
                if call.per_request is None
                else {**call.headers, **call.per_request(call.method, call.url)}
            )
            started = time.perf_counter()
            try:
                response = await http.request(
                    call.method, call.url, headers=headers, params=call.params, content=content
                )
                await response.aread()
            except httpx.TransportError:
                # A dropped connection is a result too (status 0 in the JSON), not the end of the run.
                return time.perf_counter() - started, 0
            return time.perf_counter() - started, response.status_code

        async def worker(count: int, sink: list[tuple[float, int]]) -> None:
            for _ in range(count):
                sink.append(await one())

        await asyncio.gather(*(worker(warmup, []) for _ in range(concurrency)))
        per_client = [total // concurrency + (1 if i < total % concurrency else 0) for i in range(concurrency)]
        sinks: list[list[tuple[float, int]]] = [[] for _ in range(concurrency)]
        started = time.perf_counter()
        await asyncio.gather(*(worker(n, sink) for n, sink in zip(per_client, sinks, strict=True)))
        wall = time.perf_counter() - started
    samples = [s for sink in sinks for s in sink]
    sent = len(samples) + warmup * concurrency
    return LoadResult(concurrency, [s[0] for s in samples], wall, Counter(s[1] for s in samples), sent)


def run_load(call: Call, concurrency: int, total: int, warmup: int = 5) -> LoadResult:
    return asyncio.run(_run(call, concurrency, total, warmup))


def describe(result: LoadResult) -> dict[str, Any]:
    return {
        "concurrency": result.concurrency,
        "requests": len(result.latencies),
        "throughput_rps": result.throughput,
        **summary(result.latencies),
        "statuses": {str(k): v for k, v in sorted(result.statuses.items())},
    }

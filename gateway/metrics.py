"""Prometheus metrics. Label values are route templates and outcomes: never identifiers."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

DISCLOSURES = Counter(
    "ldg_disclosures_total",
    "Disclosure log entries written by resource requests, by outcome.",
    ["outcome"],
)
REQUEST_SECONDS = Histogram(
    "ldg_http_request_duration_seconds",
    "HTTP request duration by route template, method and status.",
    ["route", "method", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)

"""Defect: unauthenticated resource exhaustion through the request metrics (first security review).

app_logging.py labelled ldg_http_request_duration_seconds with request.method as sent. HTTP methods are
free tokens, so an unauthenticated client minted a new 11-bucket histogram series per request, held in
memory forever and served by /metrics. Unknown methods are mapped to "other".
"""

from __future__ import annotations

from gateway.metrics import REQUEST_SECONDS


def test_request_metrics_do_not_grow_a_series_per_invented_method(gateway):
    for i in range(25):
        gateway.http.request(f"PROBE{i}", "/healthz")
    invented = {
        sample.labels["method"]
        for metric in REQUEST_SECONDS.collect()
        for sample in metric.samples
        if sample.labels.get("method", "").startswith("PROBE")
    }
    assert len(invented) <= 1, f"{len(invented)} series minted by one client"

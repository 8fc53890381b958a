"""Defect: deeply nested JSON was a 503, not a 400 (first security review): api/assessments.py caught
ValueError from json.loads, but deep nesting raises RecursionError."""

from __future__ import annotations


def test_deeply_nested_json_is_a_400_not_a_503(gateway):
    response = gateway.http.post(
        "/assessments",
        content=b"[" * 100_000,
        auth=gateway.auth("LD-NE", "ld-service"),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400, response.status_code

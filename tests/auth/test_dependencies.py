"""Extracting the bearer token (RFC 6750 section 2.1)."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from gateway.auth.dependencies import bearer_token
from gateway.auth.errors import InvalidToken


def _request(*headers: tuple[str, str], query: str = "") -> Request:
    return Request(
        {
            "type": "http",
            "method": "GET",
            "path": "/fhir/Bundle",
            "query_string": query.encode(),
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers],
        }
    )


@pytest.mark.parametrize("value", ["Bearer abc.DEF-_~+/123=", "bearer abc", "BEARER  abc "])
def test_bearer_token(value):
    assert bearer_token(_request(("Authorization", value))) == value.split()[-1]


@pytest.mark.parametrize(
    ("headers", "query", "present"),
    [
        ((), "", False),
        ((("Authorization", "Basic dXNlcjpwdw=="),), "", False),
        ((("Authorization", "Bearer"),), "", True),
        ((("Authorization", "Bearer a b"),), "", True),
        ((("Authorization", "Bearer a,b"),), "", True),
        ((("Authorization", "Bearer a"), ("Authorization", "Bearer b")), "", True),
        ((("Authorization", "Bearer a"),), "access_token=a", True),
    ],
)
def test_refused(headers, query, present):
    with pytest.raises(InvalidToken) as caught:
        bearer_token(_request(*headers, query=query))
    assert caught.value.status == 401
    assert caught.value.token_present is present
    challenge = caught.value.www_authenticate
    assert challenge.startswith("Bearer ")
    assert ('error="invalid_token"' in challenge) is present

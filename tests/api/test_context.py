"""The shared Gateway context is reached only through its typed accessors, and fails closed without one."""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from gateway.context import Gateway, gateway_of_app
from gateway.court_requests.service import RequestService
from gateway.ig.context import Ig, ig_of


def test_the_app_carries_one_typed_gateway_context(gateway):
    context = gateway_of_app(gateway.app)
    assert isinstance(context, Gateway)
    assert isinstance(context.requests, RequestService)  # the court requests' service lives in the context
    assert context.stream_revocations is not context.revocations  # the streams' view has its own max age


def test_an_app_without_a_gateway_context_serves_nothing():
    bare = FastAPI()
    with pytest.raises(LookupError, match="no Gateway context"):
        gateway_of_app(bare)
    bare.state.gateway = object()  # anything but a Gateway is refused too, not trusted
    with pytest.raises(LookupError):
        gateway_of_app(bare)


def test_the_ig_pages_reach_their_context_typed_and_fail_closed_without_it(gateway):
    from starlette.requests import Request

    mounted = next(route.app for route in gateway.app.routes if getattr(route, "path", "") == "/ig")
    assert isinstance(ig_of(Request({"type": "http", "app": mounted})), Ig)
    with pytest.raises(LookupError, match="no IG context"):
        ig_of(Request({"type": "http", "app": FastAPI()}))

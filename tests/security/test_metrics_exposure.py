"""``/metrics`` says how many disclosures and refusals there were: nobody outside may read it.

Attack: an unauthenticated caller on the API port reads the disclosure counters (or guesses the token).
Held by: no metrics on the API port without ``GATEWAY_METRICS_TOKEN``; with it, only the exact bearer
token; by default the counters are on a loopback listener of their own.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from bench.live import free_port
from gateway.config import Settings
from tests.auth.conftest import KeyPair
from tests.security.conftest import SecurityGateway, build_gateway, sqlite_copy

TOKEN = "m" * 40


@pytest.fixture(scope="module")
def guarded(
    tmp_path_factory: pytest.TempPathFactory, security_key: KeyPair, keys_template: Path, sqlite_template: Path
) -> Iterator[SecurityGateway]:
    workdir = tmp_path_factory.mktemp("metrics")
    url = sqlite_copy(sqlite_template, workdir)
    gw = build_gateway(url, workdir, security_key, keys_template, metrics_token=TOKEN)
    yield gw
    gw.sessions.kw["bind"].dispose()
    gw.app.state.gateway.sessions.kw["bind"].dispose()


def test_without_a_token_setting_the_api_port_has_no_metrics(security_gateway: SecurityGateway) -> None:
    assert security_gateway.settings.metrics_token is None
    for headers in ({}, {"Authorization": "Bearer anything"}):
        response = security_gateway.http.get("/metrics", headers=headers)
        assert response.status_code == 404
        assert "ldg_" not in response.text


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", f"Bearer {TOKEN[:-1]}", f"Bearer {TOKEN}x", f"Basic {TOKEN}", f"Bearer {TOKEN.upper()}"],
)
def test_metrics_need_the_exact_token(guarded: SecurityGateway, authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = guarded.http.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "ldg_" not in response.text


def test_the_token_holder_reads_the_metrics(guarded: SecurityGateway) -> None:
    response = guarded.http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert "ldg_http_request_duration_seconds" in response.text


def test_by_default_metrics_listen_on_loopback_only(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.metrics_token is None
    assert settings.metrics_listen == ("127.0.0.1", 9464)
    assert Settings(data_dir=tmp_path, metrics_address="off").metrics_listen is None


@pytest.mark.parametrize(
    "field,value", [("metrics_address", "9464"), ("metrics_address", "h:99999"), ("metrics_token", "short")]
)
def test_bad_metrics_settings_fail_loudly(tmp_path: Path, field: str, value: str) -> None:
    with pytest.raises(ValidationError):
        Settings(data_dir=tmp_path, **{field: value})


def test_the_separate_listener_serves_the_metrics(tmp_path: Path) -> None:
    from gateway.cli import _serve_metrics

    port = free_port()  # kept from other binds until the listener takes it
    _serve_metrics(Settings(data_dir=tmp_path, metrics_address=f"127.0.0.1:{port}"))
    response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    assert response.status_code == 200
    assert "ldg_http_request_duration_seconds" in response.text

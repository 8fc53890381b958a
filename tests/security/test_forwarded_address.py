"""The caller's address in the log: only an IP address, and forwarding headers believed only from the
proxies an operator names (GATEWAY_FORWARDED_ALLOW_IPS; none by default).

Requests go through the gateway wrapped as ``ld-gateway serve`` wraps it (``gateway.server.config``:
uvicorn's own middleware), or as uvicorn would by its default (trusting 127.0.0.1, the test client's
address). Whole app over HTTP, SQLite and PostgreSQL.
"""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError
from sqlalchemy import select
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from gateway import server
from gateway.api.security import network_address
from gateway.config import Settings
from gateway.db.models import DisclosureLogEntry
from tests.asgi import AppClient
from tests.factories import example

SEARCH = (
    "/fhir/Bundle?patient.identifier=https://fhir.nhs.uk/Id/nhs-number|"
    + example("adult.json")["subject"]["nhs_number"]
)


def _logged(gateway, http, forwarded: str) -> dict:
    """Pull through ``http`` with this X-Forwarded-For; the log entry of the pull."""
    response = http.get(SEARCH, headers={"X-Forwarded-For": forwarded}, auth=gateway.auth("POL-NE", "charging"))
    assert response.status_code == 200, response.text
    disclosure_id = response.headers["X-Disclosure-Id"]
    with gateway.sessions() as session:
        raw = session.execute(
            select(DisclosureLogEntry.entry).where(DisclosureLogEntry.disclosure_id == disclosure_id)
        ).scalar_one()
    return json.loads(raw)


def _served(gateway, trusted: list[str]) -> AppClient:
    config = server.config(gateway.app, "127.0.0.1", 0, trusted)
    config.load()
    return AppClient(config.loaded_app, raise_app_exceptions=False)  # type: ignore[arg-type]


def test_a_forwarded_for_header_that_is_not_an_ip_address_never_reaches_the_log(gateway):
    """Defect: ``X-Forwarded-For: Jane Doe 01/02/1980`` from a trusted peer was logged verbatim as the
    entry's ``network`` (and the AuditEvent's agent.network)."""
    trusting = AppClient(ProxyHeadersMiddleware(gateway.app, trusted_hosts="127.0.0.1"), raise_app_exceptions=False)  # type: ignore[arg-type]
    for forwarded in ("Jane Doe 01/02/1980", "fe80::1%JaneDoe", "9449305552"):
        entry = _logged(gateway, trusting, forwarded)
        assert "network" not in entry, forwarded
        assert "Jane" not in json.dumps(entry)
    assert _logged(gateway, trusting, "2001:DB8:0::7")["network"] == "2001:db8::7"  # normalised
    assert _logged(gateway, trusting, "203.0.113.7")["network"] == "203.0.113.7"


def test_serve_believes_no_forwarding_header_unless_its_proxies_are_configured(gateway):
    # By default the peer's own address is logged, whatever a forwarding header claims.
    assert Settings.model_fields["forwarded_allow_ips"].default == ""
    assert _logged(gateway, _served(gateway, []), "203.0.113.7")["network"] == "127.0.0.1"
    # A configured proxy's header is believed.
    trusted = Settings(forwarded_allow_ips="127.0.0.1, 10.0.0.0/8").trusted_proxies
    assert trusted == ["127.0.0.1", "10.0.0.0/8"]
    assert _logged(gateway, _served(gateway, trusted), "203.0.113.7")["network"] == "203.0.113.7"
    # A proxy not named is not.
    assert _logged(gateway, _served(gateway, ["10.0.0.5"]), "203.0.113.7")["network"] == "127.0.0.1"


def test_a_bad_trusted_proxy_setting_fails_loudly():
    with pytest.raises(ValidationError, match="GATEWAY_FORWARDED_ALLOW_IPS"):
        Settings(forwarded_allow_ips="10.0.0.5, proxy.internal")


@pytest.mark.parametrize(
    ("host", "recorded"),
    [
        ("192.0.2.10", "192.0.2.10"),
        ("2001:0DB8::0001", "2001:db8::1"),
        ("fe80::1%eth0", None),
        ("Jane Doe", None),
        (" 192.0.2.10", None),
        ("", None),
        (None, None),
    ],
)
def test_network_address_is_an_ip_address_or_nothing(host, recorded):
    assert network_address(host) == recorded

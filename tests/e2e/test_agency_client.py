"""The reference agency client against a real server process: DPoP, its token cache, saving bundles,
and what a stolen token or a revoked client gets."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import httpx
import pytest

from adapters.agency_client import AgencyClient
from adapters.agency_client.client import TokenRefused, load_private_key, sign_dpop_proof
from tests.conftest import ROOT
from tests.fixtures.servers import demo_key

pytestmark = pytest.mark.e2e

ADULT = "9449305552"


def test_pull_saves_each_released_bundle(live_gateway, tmp_path):
    out = tmp_path / "bundles"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "adapters.agency_client",
            "pull",
            "--gateway",
            live_gateway.base_url,
            "--client-id",
            live_gateway.clients["POL-NE"],
            "--key",
            str(live_gateway.key("POL-NE")),
            "--purpose",
            "charging",
            "--nhs-number",
            ADULT,
            "--save-dir",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "receipts verified: 1 " in run.stdout  # signed by the log, over the exact bytes received
    saved = sorted(out.glob("*.json"))
    assert saved
    for path in saved:
        document = json.loads(path.read_text())
        assert document["resourceType"] == "Bundle" and document["type"] == "document"
        assert f"Document {document['id']}" in run.stdout


def test_the_token_is_dpop_bound_and_cached_until_shortly_before_expiry(live_gateway):
    token_requests: list[str] = []

    def count(request: httpx.Request) -> None:
        if request.url.path == "/oauth2/token":
            token_requests.append(request.headers.get("DPoP", ""))

    http = httpx.Client(timeout=30, event_hooks={"request": [count]})
    police = AgencyClient(
        live_gateway.base_url, live_gateway.clients["POL-NE"], demo_key(live_gateway.key("POL-NE")), http=http
    )
    assert police.search("charging", ADULT).status == 200
    assert police.search("charging", ADULT).status == 200
    assert len(token_requests) == 1 and token_requests[0]  # one token, requested with a DPoP proof
    token, _expires_at = police._tokens["charging"]
    police._tokens["charging"] = (token, time.time() + 29)  # inside the refresh margin
    assert police.search("charging", ADULT).status == 200
    assert len(token_requests) == 2


def test_a_stolen_token_is_useless_without_its_dpop_key(live_gateway):
    police = live_gateway.agency("POL-NE")
    token = police.token("charging")
    thief = AgencyClient(live_gateway.base_url, "thief", police.key, http=live_gateway.http)  # another DPoP key
    url = live_gateway.base_url + "/fhir/Bundle"
    params = {"patient.identifier": f"https://fhir.nhs.uk/Id/nhs-number|{ADULT}"}
    as_bearer = live_gateway.http.get(url, params=params, headers={"Authorization": f"Bearer {token}"})
    proof = sign_dpop_proof(thief.dpop_key, "GET", url, access_token=token)
    with_own_key = live_gateway.http.get(url, params=params, headers={"Authorization": f"DPoP {token}", "DPoP": proof})
    assert as_bearer.status_code == with_own_key.status_code == 401
    assert 'error="invalid_dpop_proof"' in with_own_key.headers["WWW-Authenticate"]
    assert ADULT not in as_bearer.text + with_own_key.text


def test_a_client_revoked_from_the_command_line_is_refused_by_the_running_server(live_gateway, tmp_path):
    key = tmp_path / "cps.pem"
    live_gateway.cli("agency", "add", "--code", "CPS-REV", "--name", "CPS", "--type", "cps", check=False)
    out = live_gateway.cli("client", "add", "--agency", "CPS-REV", "--purpose", "charging", "--generate-key", str(key))
    client = AgencyClient(
        live_gateway.base_url, out.stdout.strip().splitlines()[-1], load_private_key(key), http=live_gateway.http
    )
    assert client.search("charging", ADULT).status == 404  # authenticated; no case with this person
    live_gateway.cli("client", "revoke", client.client_id)
    deadline = time.monotonic() + 30  # the bound is 1 s; the deadline only keeps a broken build from hanging
    while client.search("charging", ADULT).status != 401:
        assert time.monotonic() < deadline, "the revoked client's live token kept working"
        time.sleep(0.2)
    with pytest.raises(TokenRefused) as refused:
        AgencyClient(live_gateway.base_url, client.client_id, client.key, http=live_gateway.http).token("charging")
    assert refused.value.error == "invalid_client"


def test_the_onboarding_guide_followed_literally(live_gateway, tmp_path):
    """docs/agency-onboarding.md steps 1 to 5: openssl key, JWKS from the reference client, registration
    with `ld-gateway client add --jwks-file`, then a pull."""
    key, jwks = tmp_path / "agency.pem", tmp_path / "agency-jwks.json"
    subprocess.run(
        ["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(key)],
        check=True,
        capture_output=True,
    )
    made = subprocess.run(
        [sys.executable, "-m", "adapters.agency_client", "jwks", "--key", str(key)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    jwks.write_text(made.stdout)
    assert '"d"' not in made.stdout
    live_gateway.cli("agency", "add", "--code", "POL-ONB", "--name", "Onboarding Police", "--type", "police")
    out = live_gateway.cli("client", "add", "--agency", "POL-ONB", "--purpose", "charging", "--jwks-file", str(jwks))
    client = AgencyClient(live_gateway.base_url, out.stdout.strip().splitlines()[-1], load_private_key(key))
    result = client.search("charging", ADULT)
    assert result.status == 404  # authenticated, DPoP-bound; this new force has no case with the person
    assert result.body["resourceType"] == "OperationOutcome"

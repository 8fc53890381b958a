"""Token issue and validation latency, and what DPoP costs a resource request, in one process.

    .venv/bin/python -m bench.auth_latency [-n 300]

Everything runs in this process against one app on a throw-away SQLite database set up by
``ld-gateway demo``'s loader (the real token endpoint, the real pull, the real disclosure log):

- ``GET /healthz`` is the baseline: the same ASGI stack, no authentication, no database.
- token issue: ``POST /oauth2/token`` with a signed RS512 assertion, bearer and DPoP-bound.
- a pull, ``GET /fhir/Bundle?patient.identifier=...``, with a bearer token and with a DPoP-bound one.
- validation alone: ``validate_access_token`` and ``verify_proof`` as function calls.

Figures are medians and ratios against the baseline measured in the same run (measurements are
interleaved A B B A, so drift hits both sides). The pull's DPoP cost is shown as pull-with-DPoP over
pull-with-bearer: the proof's signature check, its thumbprint, and one replay-store insert.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import httpx
from joserfc.jwk import ECKey

from adapters.agency_client.client import load_private_key, sign_client_assertion, sign_dpop_proof
from gateway.app import create_app
from gateway.auth import registry
from gateway.auth.rfc7523 import CLIENT_ASSERTION_TYPE, InMemoryReplayCache
from gateway.auth.rfc9068 import validate_access_token
from gateway.auth.rfc9449 import verify_proof
from gateway.config import Settings
from gateway.db.engine import make_engine, make_session_factory
from gateway.demo import load_demo

NHS_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def _time(call: Callable[[], Any], n: int) -> list[float]:
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return samples


def _abba(first: Callable[[], Any], second: Callable[[], Any], n: int) -> tuple[list[float], list[float]]:
    half = max(1, n // 2)
    a1, b1 = _time(first, half), _time(second, half)
    b2, a2 = _time(second, half), _time(first, half)
    return a1 + a2, b1 + b2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=300, help="requests per measurement")
    args = parser.parse_args()
    root = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            database_url=f"sqlite:///{tmp}/gateway.db",
            data_dir=Path(tmp) / "var",
            issuer="http://bench",
            policy_dir=root / "policies",
            schema_dir=root / "schemas",
            token_rate_per_minute=0,
            resource_rate_per_second=0,
        )
        demo = load_demo(settings)
        nhs = demo.nhs_numbers["adult.json"]
        key = load_private_key(demo.keys_dir / "POL-NE.pem")
        jwks = {"keys": [{**key.as_dict(private=False), "kid": key.kid}]}
        sessions = make_session_factory(make_engine(settings.database_url))
        with sessions.begin() as session:
            bearer_id = registry.add_client(session, "POL-NE", ["charging"], jwks=jwks, dpop_required=False).client_id
        dpop_id = demo.clients["POL-NE"]
        app = create_app(settings)
        dpop_key = ECKey.generate_key("P-256", private=True)
        token_url = settings.token_url
        search = f"{settings.issuer}/fhir/Bundle"
        params = {"patient.identifier": f"{NHS_SYSTEM}|{nhs}"}

        async def session_run(work: Callable[[httpx.AsyncClient], Any]) -> Any:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url=settings.issuer) as http:
                return await work(http)

        def request(method: str, url: str, **kwargs: Any) -> httpx.Response:
            async def work(http: httpx.AsyncClient) -> httpx.Response:
                return await http.request(method, url, **kwargs)

            return anyio.run(session_run, work)

        def token_form(client_id: str) -> dict[str, str]:
            return {
                "grant_type": "client_credentials",
                "client_assertion_type": CLIENT_ASSERTION_TYPE,
                "client_assertion": sign_client_assertion(key, client_id, token_url),
                "purpose_of_use": "charging",
            }

        def issue_bearer() -> str:
            response = request("POST", token_url, data=token_form(bearer_id))
            assert response.status_code == 200, response.text
            return str(response.json()["access_token"])

        def issue_dpop() -> str:
            proof = sign_dpop_proof(dpop_key, "POST", token_url)
            response = request("POST", token_url, data=token_form(dpop_id), headers={"DPoP": proof})
            assert response.status_code == 200, response.text
            return str(response.json()["access_token"])

        bearer_token, dpop_token = issue_bearer(), issue_dpop()

        def healthz() -> None:
            assert request("GET", "/healthz").status_code == 200

        def pull_bearer() -> None:
            response = request("GET", search, params=params, headers={"Authorization": f"Bearer {bearer_token}"})
            assert response.status_code == 200, response.text

        def pull_dpop() -> None:
            proof = sign_dpop_proof(dpop_key, "GET", search, access_token=dpop_token)
            headers = {"Authorization": f"DPoP {dpop_token}", "DPoP": proof}
            assert request("GET", search, params=params, headers=headers).status_code == 200

        gw = app.state.gateway

        def validate() -> None:
            validate_access_token(
                bearer_token,
                signing_key=gw.signing_key,
                issuer=settings.issuer,
                audience=settings.resource_audience,
                is_client_active=gw.client_active,
                is_token_revoked=gw.revocations.is_revoked,
            )

        cache = InMemoryReplayCache()

        def verify() -> None:
            proof = sign_dpop_proof(dpop_key, "GET", search, access_token=dpop_token)
            verify_proof(
                [proof], method="GET", url=search, replay_cache=cache, now=time.time(), access_token=dpop_token
            )

        n = args.n
        for warm in (healthz, pull_bearer, pull_dpop, validate, verify):
            _time(warm, 5)
        base, issue_b = _abba(healthz, issue_bearer, n)
        base2, issue_d = _abba(healthz, issue_dpop, n)
        plain, bound = _abba(pull_bearer, pull_dpop, n)
        validation = _time(validate, n)
        proof_only = _time(verify, n)
        signing_only = _time(lambda: sign_dpop_proof(dpop_key, "GET", search, access_token=dpop_token), n)
        baseline = _median_ms(base + base2)
        figures = {
            "baseline_healthz_ms": baseline,
            "token_issue_bearer_ms": _median_ms(issue_b),
            "token_issue_dpop_ms": _median_ms(issue_d),
            "pull_bearer_ms": _median_ms(plain),
            "pull_dpop_ms": _median_ms(bound),
            "validate_access_token_ms": _median_ms(validation),
            "verify_dpop_proof_ms (includes client-side signing)": _median_ms(proof_only),
            "sign_dpop_proof_ms (client side)": _median_ms(signing_only),
        }
        ratios = {
            "token issue (bearer) / healthz": _median_ms(issue_b) / baseline,
            "token issue (DPoP) / token issue (bearer)": _median_ms(issue_d) / _median_ms(issue_b),
            "pull with DPoP / pull with bearer": _median_ms(bound) / _median_ms(plain),
            "pull with bearer / healthz": _median_ms(plain) / baseline,
        }
        app.state.gateway.sessions.kw["bind"].dispose()
        sessions.kw["bind"].dispose()
    print(json.dumps({"n": n, "medians": figures, "ratios": ratios}, indent=2))
    print(f"\npull with DPoP costs {ratios['pull with DPoP / pull with bearer']:.2f}x a pull with a bearer token")


if __name__ == "__main__":
    main()

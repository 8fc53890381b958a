"""End to end through a real server process: register, publish, pull, and prove nothing withheld leaks."""

from __future__ import annotations

import functools
import json
import random
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from fhir.resources.R4B.bundle import Bundle
from joserfc import jwt
from joserfc.jwk import JWKRegistry, RSAKey
from sqlalchemy import select, text

from adapters.agency_client import AgencyClient, sign_client_assertion
from adapters.agency_client.client import ASSERTION_TYPE, load_private_key
from gateway.assessments.catalogue import load_catalogue
from gateway.assessments.identifiers import pnc_check_letter
from gateway.assessments.validation import load_schema
from gateway.db.engine import make_engine
from gateway.db.models import DisclosureLogEntry
from tests.conftest import ROOT
from tests.e2e.canaries import example, plant, valid_nhs_number
from tests.fixtures.servers import demo_key

pytestmark = pytest.mark.e2e

CATALOGUE = load_catalogue(ROOT / "schemas" / "field-catalogue.json")
SCHEMA = load_schema(ROOT / "schemas")
IDENTIFIER_FIELDS = {
    "identity.nhs_number": ("subject", "nhs_number"),
    "identity.pnc_id": ("subject", "pnc_id"),
    "identity.cro_number": ("subject", "cro_number"),
    "identity.crn": ("subject", "crn"),
    "identity.date_of_birth": ("subject", "date_of_birth"),
}
PULLS = [
    ("POL-NE", "charging"),
    ("MC-NE", "case-management"),
    ("MC-NE", "sentencing"),
    ("PROB-NE", "sentencing"),
    ("PROB-NE", "case-management"),
    ("YOT-NE", "sentencing"),
    ("MHT-NE", "health-referral"),
]


def client_for(gw, code: str) -> AgencyClient:
    return gw.agency(code)


def log_entries(gw, ids=None) -> list[dict]:
    """The stored log entries, in order: those with the given disclosure ids, or all of them."""
    query = select(DisclosureLogEntry.entry).order_by(DisclosureLogEntry.seq)
    if ids is not None:
        query = query.where(DisclosureLogEntry.disclosure_id.in_(ids))
    engine = make_engine(gw.database_url)
    try:
        with engine.connect() as conn:
            return [json.loads(r[0]) for r in conn.execute(query)]
    finally:
        engine.dispose()


def all_log_entries(gw) -> list[dict]:
    return log_entries(gw)


def canary_document(name: str, rng: random.Random, **consent) -> tuple[dict, dict[str, str]]:
    document = example(name)
    document["local_reference"] = f"E2E-{uuid.uuid4().hex[:10]}"
    document["subject"]["nhs_number"] = valid_nhs_number(rng)
    serial = rng.randrange(1, 9_999_999)
    document["subject"]["pnc_id"] = f"2021/{serial:07d}{pnc_check_letter(21, serial)}"
    document["subject"].pop("cro_number", None)
    document["case_links"] = [
        {"agency_code": code, "case_reference": f"E2E{rng.randrange(10**8):08d}"}
        for code in ("POL-NE", "MC-NE", "PROB-NE", "YOT-NE", "MHT-NE")
    ]
    document["consent"].update(consent)
    return plant(document, CATALOGUE, SCHEMA)


@functools.cache
def canary_documents() -> dict[str, tuple[dict, dict[str, str]]]:
    """The planted documents, made once per run: each live server (a database of its own) gets the same."""
    rng = random.Random(20261126)
    return {
        "adult": canary_document("adult.json", rng),
        "child": canary_document("child.json", rng),
        "adult-declined": canary_document("adult.json", rng, status="declined"),
    }


@pytest.fixture(scope="module")
def published(live_gateway):
    publisher = client_for(live_gateway, "LD-NE")
    docs = canary_documents()
    for name, (document, canaries) in docs.items():
        response = publisher.publish(document)
        assert response.status_code == 201, response.text
        assert len(canaries) >= 15, f"{name}: too few canaries planted ({sorted(canaries)})"
    return docs


@pytest.mark.parametrize("who", ["adult", "child", "adult-declined"])
def test_no_withheld_value_appears_in_any_response(live_gateway, published, who):
    document, canaries = published[who]
    released_somewhere = False
    for code, purpose in PULLS:
        result = client_for(live_gateway, code).search(purpose, document["subject"]["nhs_number"])
        assert result.status in (200, 403), (code, purpose, result.body)
        assert result.disclosure_ids, "every answer names its log entries"
        entries = log_entries(live_gateway, result.disclosure_ids)
        assert len(entries) == len(result.disclosure_ids)
        withheld = {w["field"] for e in entries for w in e["withheld"]}
        released = {f for e in entries for f in e["released"]}
        if result.status == 403:
            assert all(e["outcome"] == "denied" for e in entries)
            withheld = set(CATALOGUE.ids)
        assert not released & withheld
        for field_id in withheld:
            if field_id in canaries:
                assert canaries[field_id].encode() not in result.raw, f"{field_id} leaked to {code}/{purpose}"
            if field_id in IDENTIFIER_FIELDS:
                section, key = IDENTIFIER_FIELDS[field_id]
                value = document[section].get(key)
                if value:
                    assert value.encode() not in result.raw, f"{field_id} leaked to {code}/{purpose}"
        # The check can fail: released canaries do arrive.
        for field_id in released & set(canaries):
            assert canaries[field_id].encode() in result.raw, f"{field_id} released but not rendered"
            released_somewhere = True
        if result.status == 200:
            Bundle.model_validate(result.body)
            for entry in result.body["entry"]:
                Bundle.model_validate(entry["resource"])
    assert released_somewhere


def test_police_and_probation_see_different_fields(live_gateway, published):
    document, _ = published["adult"]
    nhs = document["subject"]["nhs_number"]
    police = client_for(live_gateway, "POL-NE").search("charging", nhs)
    probation = client_for(live_gateway, "PROB-NE").search("sentencing", nhs)
    assert police.status == probation.status == 200
    police_entry = log_entries(live_gateway, police.disclosure_ids)[0]
    probation_entry = log_entries(live_gateway, probation.disclosure_ids)[0]
    assert "needs.appropriate_adult" in police_entry["released"]
    assert "clinical.diagnoses" not in police_entry["released"]
    assert "third_party.information" not in police_entry["released"]
    assert "clinical.diagnoses" in probation_entry["released"]
    assert police_entry["released"] != probation_entry["released"]
    assert police.body["entry"][0]["resource"]["meta"]["security"]


def test_read_by_bundle_id_and_hash_matches_log(live_gateway, published):
    import hashlib

    document, _ = published["adult"]
    police = client_for(live_gateway, "POL-NE")
    found = police.search("charging", document["subject"]["nhs_number"])
    bundle_id = found.body["entry"][0]["resource"]["id"]
    read = police.read("charging", bundle_id)
    assert read.status == 200 and read.body["type"] == "document"
    (entry,) = log_entries(live_gateway, read.disclosure_ids)
    assert entry["body_sha256"] == hashlib.sha256(read.raw).hexdigest()
    assert entry["assessment_id"] == bundle_id and entry["assessment_version"] == 1


def _denials(gw, reason_prefix: str) -> list[dict]:
    return [
        e for e in all_log_entries(gw) if e["outcome"] == "denied" and (e["reason"] or "").startswith(reason_prefix)
    ]


def test_no_case_link_is_404_and_logged(live_gateway):
    # The demo adult has no case with the mental health trust.
    health = client_for(live_gateway, "MHT-NE")
    before = len(_denials(live_gateway, "no-case-link"))
    result = health.search("health-referral", example("adult.json")["subject"]["nhs_number"])
    assert result.status == 404 and result.body["resourceType"] == "OperationOutcome"
    unknown = health.search("health-referral", valid_nhs_number(random.Random(1)))
    assert unknown.status == 404 and unknown.raw == result.raw, "no oracle: unknown and unlinked look the same"
    assert len(_denials(live_gateway, "no-case-link")) == before + 1
    (entry,) = log_entries(live_gateway, result.disclosure_ids)
    assert entry["subject_key"] and entry["client_id"] == live_gateway.clients["MHT-NE"]


def test_unregistered_purpose_is_refused_and_logged(live_gateway):
    police = client_for(live_gateway, "POL-NE")
    response = police.request_token("sentencing")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"
    denied = [e for e in all_log_entries(live_gateway) if e["event"] == "auth:token:denied"]
    assert any(e["client_id"] == live_gateway.clients["POL-NE"] and "invalid_scope" in e["reason"] for e in denied)


def test_unknown_client_and_bad_signature_are_refused_and_logged(live_gateway):
    stranger = RSAKey.generate_key(2048)
    stranger.ensure_kid()
    token_url = live_gateway.base_url + "/oauth2/token"
    form = {"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE, "purpose_of_use": "charging"}
    unknown = live_gateway.http.post(
        token_url, data={**form, "client_assertion": sign_client_assertion(stranger, "nobody", token_url)}
    )
    assert unknown.status_code == 401 and unknown.json()["error"] == "invalid_client"
    police_id = live_gateway.clients["POL-NE"]
    real_kid = demo_key(live_gateway.key("POL-NE")).kid
    forged_key = RSAKey.generate_key(2048, parameters={"kid": real_kid})
    forged = live_gateway.http.post(
        token_url, data={**form, "client_assertion": sign_client_assertion(forged_key, police_id, token_url)}
    )
    assert forged.status_code == 401 and forged.json()["error"] == "invalid_client"
    denied = [e for e in all_log_entries(live_gateway) if e["event"] == "auth:token:denied"]
    assert any(e["client_id"] in (None, "nobody") for e in denied)
    assert any(e["client_id"] == police_id and "invalid_client" in e["reason"] for e in denied)


def test_expired_and_forged_access_tokens_are_refused_and_logged(live_gateway):
    signing = JWKRegistry.import_key(
        json.loads((live_gateway.data_dir / "keys" / "token-signing.jwk.json").read_text())
    )
    now = int(time.time())
    claims = {
        "iss": live_gateway.base_url,
        "sub": live_gateway.clients["POL-NE"],
        "client_id": live_gateway.clients["POL-NE"],
        "aud": live_gateway.base_url + "/fhir",
        "iat": now - 900,
        "exp": now - 600,
        "jti": str(uuid.uuid4()),
        "agency": "POL-NE",
        "agency_type": "police",
        "purpose_of_use": "charging",
        "scope": "system/Bundle.read",
    }
    alg = "ES256" if signing.key_type == "EC" else "RS256"
    expired = jwt.encode({"alg": alg, "typ": "at+jwt", "kid": signing.kid}, claims, signing, algorithms=[alg])
    other = RSAKey.generate_key(2048)
    forged = jwt.encode(
        {"alg": "RS256", "typ": "at+jwt"}, {**claims, "iat": now, "exp": now + 200}, other, algorithms=["RS256"]
    )
    url = live_gateway.base_url + "/fhir/Bundle?patient.identifier=https://fhir.nhs.uk/Id/nhs-number|9449305552"
    before = len(_denials(live_gateway, "invalid_token"))
    for token in (expired, forged, "not-a-jwt"):
        response = live_gateway.http.get(url, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, response.text
        assert response.json()["resourceType"] == "OperationOutcome"
        assert response.headers["X-Disclosure-Id"]
        assert "invalid_token" in response.headers["WWW-Authenticate"]
    assert live_gateway.http.get(url).status_code == 401
    assert len(_denials(live_gateway, "invalid_token")) == before + 4


def test_publish_lists_every_problem_and_stores_nothing(live_gateway):
    publisher = client_for(live_gateway, "LD-NE")
    document = example("adult.json")
    document["local_reference"] = "E2E-BAD-1"
    document["subject"]["nhs_number"] = "9449305553"
    document["subject"]["pnc_id"] = "2020/0000009A"
    document["subject"]["date_of_birth"] = "2020-01-01"
    document["unexpected"] = True
    document["case_links"].append({"agency_code": "NOPE", "case_reference": "X"})
    response = publisher.publish(document)
    assert response.status_code == 422
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert len(outcome["issue"]) >= 5
    expressions = {e for issue in outcome["issue"] for e in issue.get("expression", [])}
    assert {"subject.nhs_number", "subject.pnc_id", "case_links[3].agency_code"} <= expressions, expressions
    assert "9449305553" not in response.text
    police = client_for(live_gateway, "POL-NE")
    assert police.search("charging", "9449305553").status == 400  # invalid NHS number: refused, not searched


def test_only_ld_services_publish(live_gateway):
    published = client_for(live_gateway, "POL-NE").request(
        "POST", "/assessments", "charging", json=example("adult.json")
    )
    assert published.status_code == 403
    assert "insufficient_scope" in published.headers["WWW-Authenticate"]
    refused = [e for e in all_log_entries(live_gateway) if e["event"] == "ingest:assessment:denied"]
    assert any(e["client_id"] == live_gateway.clients["POL-NE"] for e in refused)


def test_cli_registers_agency_and_client(live_gateway, tmp_path):
    added = live_gateway.cli("agency", "add", "--code", "CPS-NE", "--name", "CPS North East", "--type", "cps")
    assert "CPS-NE" in added.stdout
    key = tmp_path / "cps.pem"
    out = live_gateway.cli("client", "add", "--agency", "CPS-NE", "--purpose", "charging", "--generate-key", str(key))
    client_id = out.stdout.strip().splitlines()[-1]
    assert client_id and " " not in client_id
    cps = AgencyClient(live_gateway.base_url, client_id, load_private_key(key), http=live_gateway.http)
    assert cps.request_token("charging").status_code == 200
    revoked = live_gateway.cli("client", "revoke", client_id)
    assert revoked.returncode == 0
    assert cps.request_token("charging").status_code == 401


def test_no_personal_data_at_rest(live_gateway, published):
    secrets = []
    for document, _ in published.values():
        secrets += [
            document["subject"]["nhs_number"],
            document["subject"]["pnc_id"],
            document["subject"]["names"][0]["family"],
            document["vulnerability_summary"][:40],
        ]
    secrets += [example("adult.json")["subject"]["nhs_number"], example("adult.json")["subject"]["names"][0]["family"]]
    if live_gateway.database_url.startswith("sqlite"):
        path = live_gateway.database_url.removeprefix("sqlite:///")
        blob = b"".join(Path(p).read_bytes() for p in (path, path + "-wal") if Path(p).exists())
    else:
        engine = make_engine(live_gateway.database_url)
        with engine.connect() as conn:
            tables = [r[0] for r in conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))]
            blob = "\n".join(
                str(row[0]) for t in tables for row in conn.execute(text(f'SELECT t::text FROM "{t}" t'))
            ).encode()
        engine.dispose()
    assert len(blob) > 1000
    for secret in secrets:
        assert secret.encode() not in blob, "personal data found at rest"


def test_server_logs_carry_no_personal_data(live_gateway, published):
    logs = live_gateway.server_log.read_bytes()
    assert b'"route": "/fhir/Bundle"' in logs  # requests are logged...
    for document, canaries in published.values():  # ...but nothing about the person
        for value in (document["subject"]["nhs_number"], document["subject"]["names"][0]["family"], *canaries.values()):
            assert value.encode() not in logs


def test_audit_verify_passes_on_the_live_log(live_gateway, published):
    result = live_gateway.cli("audit", "verify", "--json")
    report = json.loads(result.stdout)
    assert report["ok"] is True and report["entries"] > 10


def test_the_demo_tour_commands_work(live_gateway):
    """The commands `ld-gateway demo` prints are the README tour: each must do what it says."""
    commands = [line.strip() for line in live_gateway.tour.splitlines() if "adapters.agency_client pull" in line]
    assert len(commands) == 6
    outputs = []
    for command in commands:
        argv = command.split()
        assert argv[0] == ".venv/bin/python"
        # The commands name demo agencies (--agency): their keys are in the demo's data directory.
        run = subprocess.run(
            [sys.executable, *argv[1:]], capture_output=True, text=True, timeout=60, cwd=ROOT, env=live_gateway.env
        )
        outputs.append(run)
    custody, police, probation, yot, health, southmoor = outputs
    assert southmoor.returncode == 0, southmoor.stdout + southmoor.stderr
    assert custody.returncode == 0, custody.stdout + custody.stderr
    assert "  - Fitness" in custody.stdout and "  - Diversion" not in custody.stdout
    assert "  - Clinical" not in custody.stdout and "  - Referrals" not in custody.stdout
    assert police.returncode == probation.returncode == yot.returncode == 0, police.stderr + probation.stderr
    assert "  - Diversion" in police.stdout and "  - Clinical" not in police.stdout
    assert "  - Clinical" in probation.stdout and "  - Diversion" not in probation.stdout
    assert "HTTP 200" in yot.stdout
    assert health.returncode == 1 and "HTTP 404" in health.stdout

    # Southmoor's police, linked to the same man by Southmoor's L&D service only: its document, never Northshire's.
    def documents(run: subprocess.CompletedProcess[str]) -> list[str]:
        return [line.split()[1].rstrip(":") for line in run.stdout.splitlines() if line.startswith("Document ")]

    assert len(documents(southmoor)) == len(documents(police)) == 1
    assert documents(southmoor) != documents(police)

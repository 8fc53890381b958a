"""The ``ld-gateway`` command: the public names in DESIGN.md, their output and their exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from gateway.db.engine import make_engine, make_session_factory
from gateway.db.models import Client
from tests.conftest import ROOT
from tests.fixtures.cli import reuse_click_command
from tests.fixtures.keys import install_keys


@pytest.fixture(autouse=True)
def _one_click_command(monkeypatch):
    """``ld-gateway``'s click command built once per session, not on every invocation."""
    reuse_click_command(monkeypatch)


@pytest.fixture
def keys_in_place(settings, keys_template):
    """The session's gateway keys in the data directory, so that ``init`` finds them rather than making an
    RSA signing key (most of a second); test_init_is_idempotent_and_creates_keys has ``init`` make them."""
    install_keys(keys_template, settings.keys_dir)


@pytest.fixture(scope="session")
def _client_key_pool(tmp_path_factory):
    """RSA keys by (public exponent, size), first the run's demo client keys: the run sets the demo up
    once (tests/fixtures/servers.py) for the e2e servers and the demo test below."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    from tests.fixtures.servers import demo_template

    pool: dict[tuple[int, int], list] = {}
    for pem in sorted((demo_template(tmp_path_factory, "sqlite").data_dir / "demo-keys").glob("*.pem")):
        # Made by generate_client_key for the demo: no need to check them again (a tenth of a second each).
        key = load_pem_private_key(pem.read_bytes(), password=None, unsafe_skip_rsa_key_validation=True)
        pool.setdefault((key.public_key().public_numbers().e, key.key_size), []).append(key)
    return pool


@pytest.fixture
def made_client_keys(monkeypatch, _client_key_pool):
    """``--generate-key`` writes RSA 4096 keys made once for the run: the n-th key a test asks for is the
    pool's n-th, so a test's keys are all different (more are made if it runs out). A key of that size
    takes about a second to make; tests/auth/test_registry.py makes real ones (generate_client_key), as
    do the e2e tests' commands."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    make = rsa.generate_private_key
    handed: dict[tuple[int, int], int] = {}

    def generate_private_key(public_exponent, key_size, backend=None):
        shape = (public_exponent, key_size)
        pool = _client_key_pool.setdefault(shape, [])
        n = handed[shape] = handed.get(shape, -1) + 1
        while len(pool) <= n:
            pool.append(make(public_exponent=public_exponent, key_size=key_size))
        return pool[n]

    monkeypatch.setattr(rsa, "generate_private_key", generate_private_key)


@pytest.fixture(scope="session")
def _matrix_by_revision():
    return {}


@pytest.fixture
def matrix_decided_once(monkeypatch, _matrix_by_revision):
    """``policy matrix`` and ``policy diff`` ask the engine the matrix's 240 questions on every run (a
    fifth of a second or more of Rego each time). A revision names exactly the rules, data and catalogue
    that answer them, and the questions are fixed, so the session asks each revision once and later
    commands render its answers again; tests/policy check the decisions themselves."""
    from gateway.policy import matrix

    decide_all = matrix.matrix_decisions

    def matrix_decisions(engine):
        if engine.revision not in _matrix_by_revision:
            _matrix_by_revision[engine.revision] = decide_all(engine)
        return _matrix_by_revision[engine.revision]

    monkeypatch.setattr(matrix, "matrix_decisions", matrix_decisions)


def test_init_is_idempotent_and_creates_keys(cli, settings):
    cli("init")
    keys = sorted(p.name for p in (settings.data_dir / "keys").iterdir())
    master = (settings.data_dir / "keys" / "master.key").read_bytes()
    cli("init")
    assert sorted(p.name for p in (settings.data_dir / "keys").iterdir()) == keys
    assert (settings.data_dir / "keys" / "master.key").read_bytes() == master
    assert oct((settings.data_dir / "keys" / "master.key").stat().st_mode & 0o777) == "0o600"


def test_agency_and_client_registration(cli, settings, tmp_path, database_url, keys_in_place, made_client_keys):
    cli("init")
    cli("agency", "add", "--code", "POL-NE", "--name", "Northshire Police", "--type", "police")
    duplicate = cli("agency", "add", "--code", "POL-NE", "--name", "Again", "--type", "police", code=1)
    assert "already registered" in duplicate.output
    cli("agency", "add", "--code", "X", "--name", "Nobody", "--type", "spies", code=1)
    trust = cli("agency", "add", "--code", "MHT-NE", "--name", "Trust", "--type", "health", "--ods-code", "RX4")
    assert "ODS RX4" in trust.output
    police_ods = cli(
        "agency", "add", "--code", "POL-X", "--name", "Force", "--type", "police", "--ods-code", "RX5", code=1
    )
    assert "only health and ld-service agencies" in " ".join(police_ods.output.split())  # rich wraps lines
    bad_ods = cli("agency", "add", "--code", "MHT-X", "--name", "Trust", "--type", "health", "--ods-code", "R", code=1)
    assert "3 to 5 letters or digits" in " ".join(bad_ods.output.split())

    key = tmp_path / "police.pem"
    out = cli("client", "add", "--agency", "POL-NE", "--purpose", "charging", "--generate-key", str(key))
    client_id = out.output.strip().splitlines()[-1]
    assert key.exists() and oct(key.stat().st_mode & 0o777) == "0o600"
    sessions = make_session_factory(make_engine(database_url))
    with sessions() as session:
        client = session.execute(select(Client).where(Client.client_id == client_id)).scalar_one()
        assert client.purposes == ["charging"]
        assert "d" not in client.jwks["keys"][0], "only the public key is stored"

    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(client.jwks))
    second = cli("client", "add", "--agency", "POL-NE", "--purpose", "charging", "--jwks-file", str(jwks))
    assert second.output.strip().splitlines()[-1] != client_id

    missing = tmp_path / "nobody.pem"
    cli("client", "add", "--agency", "NOPE", "--purpose", "charging", "--generate-key", str(missing), code=1)
    assert not missing.exists(), "no key file is left for a client that was never registered"
    cli(
        "client",
        "add",
        "--agency",
        "POL-NE",
        "--purpose",
        "sentencing",
        "--purpose",
        "bogus",
        "--generate-key",
        str(missing),
        code=1,
    )
    assert not missing.exists()

    cli("client", "revoke", client_id)
    with sessions() as session:
        assert session.get(Client, client_id).revoked_at is not None
    cli("client", "revoke", "no-such-client", code=1)


def test_policy_test_command_runs_the_rego_tests(cli):
    out = cli("policy", "test")
    assert "PASS" in out.output and "FAIL " not in out.output


def test_policy_matrix_json_rows(cli, matrix_decided_once):
    rows = json.loads(cli("policy", "matrix", "--json").output)
    assert len(rows) == 6 * 5 * 4 * 2
    assert set(rows[0]) == {"agency_type", "purpose", "consent", "age_group", "released", "withheld"}
    police = next(
        r
        for r in rows
        if (r["agency_type"], r["purpose"], r["consent"], r["age_group"]) == ("police", "charging", "given", "adult")
    )
    assert "needs.appropriate_adult" in police["released"]
    assert "clinical.diagnoses" in police["withheld"]
    table = cli("policy", "matrix")
    assert "police" in table.output
    wide = cli("policy", "matrix", "--wide")
    assert "needs.appropriate_adult" in wide.output and "(refused)" in wide.output
    only = cli("policy", "matrix", "--agency-type", "court").output
    assert "court" in only and "police" not in only.split("Refused outright")[0]
    cli("policy", "matrix", "--agency-type", "spies", code=2)


def test_policy_matrix_fits_an_80_column_terminal(tmp_path):
    """Literally ``COLUMNS=80 ld-gateway policy matrix``, the installed command in a fresh process."""
    env = {
        **os.environ,
        "COLUMNS": "80",
        "GATEWAY_DATA_DIR": str(tmp_path),
        "GATEWAY_DATABASE_URL": f"sqlite:///{tmp_path / 'none.db'}",
    }
    command = str(Path(sys.executable).with_name("ld-gateway"))
    out = subprocess.run(
        [command, "policy", "matrix"], cwd=ROOT, env=env, capture_output=True, text=True, check=True, timeout=120
    ).stdout
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "identity.cro_number" in out and "identity.crn " in out
    assert len(lines) < 80


def test_serve_without_init_says_what_to_do(cli):
    out = cli("serve", "--port", "1", code=2)
    assert "ld-gateway init" in out.output


def test_client_add_with_an_algorithm_allow_list(
    cli, settings, tmp_path, database_url, keys_in_place, made_client_keys
):
    cli("init")
    cli("agency", "add", "--code", "MC-NE", "--name", "Court", "--type", "court")
    key = tmp_path / "court.pem"
    args = ["client", "add", "--agency", "MC-NE", "--purpose", "sentencing", "--generate-key", str(key)]
    client_id = cli(*args, "--alg", "RS256", "--alg", "PS256").output.strip().splitlines()[-1]
    refused = cli(*args[:-1], str(tmp_path / "other.pem"), "--alg", "HS256", code=1)
    assert "HS256" in refused.output
    sessions = make_session_factory(make_engine(database_url))
    with sessions() as session:
        client = session.get(Client, client_id)
        assert client is not None and client.assertion_algorithms == ["RS256", "PS256"]


def test_client_keys_add_list_and_remove(cli, settings, tmp_path, keys_in_place, made_client_keys):
    cli("init")
    cli("agency", "add", "--code", "YOT-NE", "--name", "YOT", "--type", "yot")
    first = tmp_path / "first.pem"
    client_id = (
        cli("client", "add", "--agency", "YOT-NE", "--purpose", "sentencing", "--generate-key", str(first))
        .output.strip()
        .splitlines()[-1]
    )
    second = tmp_path / "second.pem"
    cli("client", "keys", "add", client_id, "--generate-key", str(second))
    kids = [k["kid"] for k in json.loads(cli("client", "keys", "list", client_id).output)["keys"]]
    assert len(kids) == 2 and second.exists()
    cli("client", "keys", "remove", client_id, "--kid", kids[0])
    assert [k["kid"] for k in json.loads(cli("client", "keys", "list", client_id).output)["keys"]] == kids[1:]
    refused = cli("client", "keys", "remove", client_id, "--kid", kids[1], code=1)
    assert "last key" in refused.output
    cli("client", "keys", "remove", "nobody", "--kid", "x", code=1)
    orphan = tmp_path / "orphan.pem"
    cli("client", "keys", "add", "nobody", "--generate-key", str(orphan), code=1)
    assert not orphan.exists(), "no key file is left for a key that was never registered"


def test_a_client_key_is_made_only_for_an_accepted_request_and_outside_the_write(
    cli, settings, tmp_path, keys_in_place, made_client_keys, monkeypatch
):
    """An RSA 4096 key is about a second of CPU: a refused request makes none (and leaves no key file),
    and none is made while a write transaction (on SQLite, the database's write lock) is open."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    from gateway.db import unit_of_work

    cli("init")
    cli("agency", "add", "--code", "POL-NE", "--name", "Northshire Police", "--type", "police")
    writing: list[bool] = []  # one per write unit of work open now
    made: list[bool] = []  # one per key made: whether a write was open meanwhile
    run, generate = unit_of_work.run, rsa.generate_private_key  # the latter: made_client_keys' pool

    def run_watched(sessions, work):
        writing.append(True)
        try:
            return run(sessions, work)
        finally:
            writing.pop()

    def generate_watched(public_exponent, key_size, backend=None):
        made.append(bool(writing))
        return generate(public_exponent=public_exponent, key_size=key_size)

    monkeypatch.setattr(unit_of_work, "run", run_watched)
    monkeypatch.setattr(rsa, "generate_private_key", generate_watched)
    refused = tmp_path / "refused.pem"
    add = ["client", "add", "--agency", "POL-NE", "--generate-key", str(refused)]
    assert "ld-service" in cli(*add, "--purpose", "ld-service", code=1).output
    assert "HS256" in cli(*add, "--purpose", "charging", "--alg", "HS256", code=1).output
    cli("client", "keys", "add", "nobody", "--generate-key", str(refused), code=1)
    assert made == [] and not refused.exists()

    client_id = cli(*add[:-1], str(tmp_path / "police.pem"), "--purpose", "charging").output.strip().splitlines()[-1]
    cli("client", "keys", "add", client_id, "--generate-key", str(tmp_path / "second.pem"))
    assert made == [False, False]
    assert (tmp_path / "police.pem").exists() and (tmp_path / "second.pem").exists()


def test_policy_matrix_html_and_csv(cli, matrix_decided_once):
    page = cli("policy", "matrix", "--html").output
    assert page.startswith("<!DOCTYPE html>") and "Sign-off" in page
    sheet = cli("policy", "matrix", "--csv").output
    assert sheet.splitlines()[0] == "agency_type,purpose,consent,age_group,field,released"
    cli("policy", "matrix", "--csv", "--html", code=2)


def test_policy_diff_lists_whose_view_changes(cli, tmp_path, matrix_decided_once):
    import shutil

    changed = tmp_path / "policies"
    shutil.copytree(ROOT / "policies", changed)
    data = json.loads((changed / "data.json").read_text())
    data["gateway"]["minimum_without_consent"]["charging"]["police"].append("vulnerability.summary")
    (changed / "data.json").write_text(json.dumps(data))

    result = json.loads(cli("policy", "diff", str(ROOT / "policies"), str(changed), "--json").output)

    assert result["from"] != result["to"]
    police = [c for c in result["changes"] if (c["agency_type"], c["consent"]) == ("police", "declined")]
    assert [c["released"] for c in police] == [["vulnerability.summary"]] * 2
    assert all(c["withheld"] == [] and c["refusal"] is None for c in result["changes"])
    assert "No one's view changes." in cli("policy", "diff", str(ROOT / "policies"), str(ROOT / "policies")).output


def test_policy_store_activate_and_diff_by_revision(cli, settings, tmp_path, keys_in_place, matrix_decided_once):
    import shutil

    cli("init")
    first = cli("policy", "store").output.strip().splitlines()[-1]
    changed = tmp_path / "policies"
    shutil.copytree(ROOT / "policies", changed)
    data = json.loads((changed / "data.json").read_text())
    data["gateway"]["minimum_without_consent"]["charging"]["police"].append("vulnerability.summary")
    (changed / "data.json").write_text(json.dumps(data))
    second = cli("policy", "store", "--dir", str(changed)).output.strip().splitlines()[-1]
    assert first.startswith("sha256:") and second.startswith("sha256:") and first != second

    diff = json.loads(cli("policy", "diff", first, second, "--json").output)
    assert (diff["from"], diff["to"]) == (first, second) and diff["changes"]

    cli("policy", "activate", second, "--by", "IG lead")
    listed = cli("policy", "revisions").output
    assert f"* {second}" in listed and f"  {first}" in listed
    cli("policy", "activate", "sha256:" + "0" * 64, "--by", "x", code=1)
    assert json.loads(cli("audit", "verify", "--json").output)["ok"]


def test_token_key_rotate(cli, settings, keys_in_place):
    cli("init")
    keys = settings.data_dir / "keys"
    before = json.loads((keys / "token-signing.jwk.json").read_text())["kid"]
    out = cli("token-key", "rotate").output
    after = json.loads((keys / "token-signing.jwk.json").read_text())["kid"]
    assert before != after and before in out and after in out
    assert [p.name for p in (keys / "token-signing-retired").iterdir()] == [f"{before}.jwk.json"]
    assert oct((keys / "token-signing.jwk.json").stat().st_mode & 0o777) == "0o600"


def _commands(command, path=()):
    yield path
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands(sub, (*path, name))


def test_help_texts_name_what_to_type_never_the_parsers_labels(cli):
    """Every command's --help: ``--nhs-number NHS_NUMBER``, ``ASSESSMENT_ID``; no ``<str>``, ``<bool>``,
    ``<list[str]>`` or ``{assessment_id}``."""
    import re

    import typer

    from gateway.cli import app

    paths = list(_commands(typer.main.get_command(app)))
    assert len(paths) > 30
    for path in paths:
        text = cli(*path, "--help").output
        assert not re.search(r"<(str|int|bool|path|list|float)", text), (path, text)
        assert not re.search(r"\{[a-z_]+\}", text), (path, text)
    assert "ASSESSMENT_ID" in cli("assessment", "history", "--help").output
    assert "--nhs-number" in cli("subject", "find", "--help").output


def test_serve_with_several_workers_needs_postgresql(cli, database_url, keys_in_place):
    if database_url.startswith("postgresql"):
        pytest.skip("the refusal is SQLite's; tests/e2e/test_workers.py serves PostgreSQL with workers")
    cli("init")
    out = cli("serve", "--port", "1", "--workers", "2", code=2)
    assert "needs PostgreSQL" in out.output


def test_demo_loads_then_serves_one_process(cli, database_url, monkeypatch, tmp_path_factory, tmp_path):
    """``ld-gateway demo`` hands the loaded gateway to the server (it once passed serve() an unparsed
    option and failed after printing the tour).

    On a copy of the run's demo, which ``ld-gateway demo --no-serve`` set up from nothing once for the run
    (tests/fixtures/servers.py; eight RSA 4096 client keys are most of ten seconds): this ``demo`` loads
    it the idempotent way, then serves."""
    if database_url.startswith("postgresql"):
        pytest.skip("the demo's database is the embedded SQLite")
    from gateway import server
    from gateway.config import get_settings
    from tests.fixtures.servers import copy_demo

    workdir = tmp_path / "demo"
    workdir.mkdir()
    demo = copy_demo(tmp_path_factory, "sqlite", workdir)
    monkeypatch.setenv("GATEWAY_DATABASE_URL", demo.database_url)
    monkeypatch.setenv("GATEWAY_DATA_DIR", str(demo.data_dir))
    get_settings.cache_clear()
    served: list[tuple[str, int]] = []
    monkeypatch.setattr(server, "run", lambda application, host, port, proxies: served.append((host, port)))
    out = cli("demo", "--port", "18999")
    assert "ld-gateway demo" in out.output and served == [("127.0.0.1", 18999)]
    assert json.loads((demo.data_dir / "demo-keys" / "clients.json").read_text()) == demo.clients


# A private key file is left only for a registered client.
def _setup(cli):
    cli("init")
    cli("agency", "add", "--code", "POL-NE", "--name", "Northshire Police", "--type", "police")


def test_a_key_file_whose_write_fails_is_not_left_behind(cli, tmp_path, keys_in_place, made_client_keys, monkeypatch):
    """A failure while writing the key (disk full at fsync) leaves no partial private key for no client."""
    from gateway.auth import _files

    _setup(cli)
    target = tmp_path / "police.pem"

    def failing_fsync(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_files.os, "fsync", failing_fsync)
    result = cli("client", "add", "--agency", "POL-NE", "--purpose", "charging", "--generate-key", str(target), code=1)
    assert not target.exists(), ("a private key file for no registered client was left", result.output)


def test_a_key_file_that_appears_meanwhile_is_a_clean_refusal(
    cli, tmp_path, keys_in_place, made_client_keys, monkeypatch
):
    """A key file created by someone else between the command's check and the write is theirs: kept, and
    the refusal is one 'error:' line, exit 1, not a traceback."""
    from gateway.auth import registry

    _setup(cli)
    target = tmp_path / "police.pem"
    make = registry.new_client_key

    def racing():
        target.write_bytes(b"someone else's key")
        return make()

    monkeypatch.setattr(registry, "new_client_key", racing)
    result = cli("client", "add", "--agency", "POL-NE", "--purpose", "charging", "--generate-key", str(target), code=1)
    assert target.read_bytes() == b"someone else's key"
    assert isinstance(result.exception, SystemExit), ("uncaught exception, not a clean refusal", result.exception)
    assert "error:" in result.output


# init checks the token-signing key it finds (as it does the log key); serve reports an unusable key
# file as one clear line, exit 2, as it does missing keys.
def test_init_refuses_a_signing_key_readable_by_others(cli, settings, keys_in_place):
    path = settings.keys_dir / "token-signing.jwk.json"
    assert path.exists()
    path.chmod(0o644)
    result = cli("init", code=1)
    assert "chmod 600" in result.output or "readable" in str(result.exception)


def test_init_refuses_a_signing_key_that_is_not_a_key(cli, settings, keys_in_place):
    path = settings.keys_dir / "token-signing.jwk.json"
    path.write_bytes(b"")  # e.g. truncated by a full disk
    cli("init", code=1)


def test_serve_reports_an_unusable_signing_key_as_it_does_missing_keys(cli, settings, keys_in_place, monkeypatch):
    """A KeyFileError from create_app is one clear line and exit 2, as 'serve without init' is."""
    from gateway import server

    monkeypatch.setattr(server, "run", lambda *a, **k: (_ for _ in ()).throw(AssertionError("served")))
    cli("init")
    (settings.keys_dir / "token-signing.jwk.json").chmod(0o644)
    result = cli("serve", "--port", "1", code=2)
    assert "chmod 600" in result.output

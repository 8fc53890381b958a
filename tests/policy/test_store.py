"""Stored policy revisions and audited activation (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from gateway.db.models import DisclosureLogEntry, PolicyRevision
from gateway.policy import EmbeddedRegoEngine, PolicyLoadError, compute_revision
from gateway.policy.revision import policy_modules
from gateway.policy.source import read_policy
from gateway.policy.store import (
    ACTIVATED_EVENT,
    activate,
    active_policy_source,
    active_revision,
    list_revisions,
    materialise,
    materialise_source,
    read_revision,
    store_revision,
)
from tests.factories import NOW

from .conftest import POLICY_DIR


def test_storing_is_idempotent_and_named_by_the_revision(session_factory, engine, catalogue_ids):
    with session_factory.begin() as session:
        first = store_revision(session, POLICY_DIR, catalogue_ids, NOW)
        second = store_revision(session, POLICY_DIR, catalogue_ids, NOW)
    assert first == second == engine.revision
    with session_factory() as session:
        assert [r.revision for r in list_revisions(session)] == [first]
        assert active_revision(session) is None
        assert active_policy_source(session, POLICY_DIR.parent) is None


def test_activation_is_logged_and_the_gateway_materialises_the_active_revision(
    session_factory, tmp_path, policy_copy, catalogue_ids
):
    data = json.loads((policy_copy / "data.json").read_text())
    data["gateway"]["minimum_without_consent"]["charging"]["police"].append("vulnerability.summary")
    (policy_copy / "data.json").write_text(json.dumps(data))
    with session_factory.begin() as session:
        original = store_revision(session, POLICY_DIR, catalogue_ids, NOW)
        edited = store_revision(session, policy_copy, catalogue_ids, NOW)
        activate(session, edited, by="Jo Bloggs, IG lead", now=NOW)
    shutil.rmtree(policy_copy)  # the stored copy is all that is left

    with session_factory() as session:
        assert active_revision(session) == edited != original
        active = active_policy_source(session, tmp_path)
        directory = None if active is None else active.directory
        entries = [json.loads(e) for e in session.execute(select(DisclosureLogEntry.entry)).scalars()]
    assert directory is not None and directory.is_relative_to(tmp_path)
    assert EmbeddedRegoEngine(directory, catalogue_ids).revision == edited
    (entry,) = [e for e in entries if e["event"] == ACTIVATED_EVENT]
    assert entry["policy_revision"] == edited
    assert "Jo Bloggs" not in json.dumps(entry), "the person is recorded with the revision, not in the log"


def test_activating_an_unknown_revision_is_refused(session_factory):
    with session_factory.begin() as session, pytest.raises(LookupError):
        activate(session, "sha256:" + "0" * 64, by="x", now=NOW)


def test_a_tampered_stored_revision_will_not_materialise(session_factory, tmp_path, catalogue_ids):
    with session_factory.begin() as session:
        revision = store_revision(session, POLICY_DIR, catalogue_ids, NOW)
        row = session.get(PolicyRevision, revision)
        row.files = {**row.files, "data.json": row.files["data.json"].replace('"police"', '"p0lice"', 1)}
    with session_factory() as session, pytest.raises(PolicyLoadError, match="does not hash"):
        materialise(session, revision, tmp_path)


def test_the_served_policy_is_stored_at_start_and_stays_fetchable_after_the_directory_changes(
    settings, session_factory, policy_copy, keys_template, cli
):
    from gateway.app import create_app
    from tests.fixtures.keys import install_keys

    install_keys(keys_template, settings.keys_dir)
    served = settings.model_copy(update={"policy_dir": policy_copy})
    original = (policy_copy / "data.json").read_text()
    first = create_app(served).state.gateway.policy.revision

    data = json.loads(original)
    data["gateway"]["minimum_without_consent"]["charging"]["police"].append("vulnerability.summary")
    (policy_copy / "data.json").write_text(json.dumps(data))
    second = create_app(served).state.gateway.policy.revision
    create_app(served)  # a restart on the same policy stores nothing new

    assert first != second
    with session_factory() as session:
        assert sorted(r.revision for r in list_revisions(session)) == sorted([first, second])
        old = read_revision(session, first)
        assert active_revision(session) is None, "storing is not activating"
    assert old is not None and old.files["data.json"] == original
    shown = json.loads(cli("policy", "show", first, "--json").output)
    assert shown["revision"] == first and shown["files"]["data.json"] == original
    assert "==> disclosure.rego <==" in cli("policy", "show", second).output
    written = cli("policy", "show", first, "--out", str(settings.data_dir / "fetched")).output.strip()
    assert EmbeddedRegoEngine(Path(written), old.catalogue_ids).revision == first
    assert "no stored policy revision" in cli("policy", "show", "sha256:" + "0" * 64, code=1).output


def test_storing_refuses_a_directory_changed_since_the_engine_loaded_it(
    session_factory, engine, policy_copy, catalogue_ids
):
    (policy_copy / "data.json").write_text((policy_copy / "data.json").read_text() + "\n")
    with session_factory.begin() as session, pytest.raises(PolicyLoadError, match="changed since it was loaded"):
        store_revision(session, policy_copy, catalogue_ids, NOW, expected=engine.revision)
    with session_factory() as session:
        assert list_revisions(session) == [], "nothing is stored that does not hash to what decides"


def test_keeping_the_served_revision_stores_what_the_engine_loaded_not_a_later_edit(
    session_factory, policy_copy, catalogue_ids
):
    from gateway.policy.store import keep_served_revision

    original = (policy_copy / "data.json").read_text()
    loaded = EmbeddedRegoEngine(read_policy(policy_copy, catalogue_ids), catalogue_ids)
    (policy_copy / "data.json").write_text(original + "\n")

    keep_served_revision(session_factory, loaded.source, now=NOW)

    assert compute_revision(policy_copy, catalogue_ids) != loaded.revision, "the directory did change"
    with session_factory() as session:
        assert [r.revision for r in list_revisions(session)] == [loaded.revision]
        stored = read_revision(session, loaded.revision)
    assert stored is not None and stored.files["data.json"] == original, "nothing is stored but what decides"


def test_keeping_the_served_revision_reads_nothing_again(session_factory, engine, catalogue_ids, monkeypatch):
    """The files stored are the bytes the engine read and hashed: a restart on the same policy stores nothing new."""
    from gateway.policy import source as sources
    from gateway.policy.store import keep_served_revision

    read: list[Path] = []
    hashed: list[int] = []
    real_read, real_hash = sources._read, sources.revision_of
    monkeypatch.setattr(sources, "_read", lambda path: read.append(path) or real_read(path))
    monkeypatch.setattr(sources, "revision_of", lambda files, ids: hashed.append(len(files)) or real_hash(files, ids))
    keep_served_revision(session_factory, engine.source, now=NOW)
    keep_served_revision(session_factory, engine.source, now=NOW)
    assert read == [] and hashed == []
    with session_factory() as session:
        assert [r.revision for r in list_revisions(session)] == [engine.revision]


def test_a_stored_revision_keeps_the_bytes_it_was_hashed_over(session_factory, tmp_path, policy_copy, catalogue_ids):
    """CRLF line ends stored as read (not as text, whose universal newlines would change the bytes):
    the materialised copy hashes to the revision."""
    rego = next(policy_copy.glob("*.rego"))
    rego.write_bytes(rego.read_bytes().replace(b"\n", b"\r\n"))
    with session_factory.begin() as session:
        revision = store_revision(session, policy_copy, catalogue_ids, NOW)
    with session_factory() as session:
        assert materialise(session, revision, tmp_path / "out").is_dir()


def _count_reads(monkeypatch: pytest.MonkeyPatch) -> tuple[list[Path], list[int]]:
    """Every file the policy reader reads, and every revision it hashes, from now on."""
    from gateway.policy import source as sources

    read: list[Path] = []
    hashed: list[int] = []
    real_read, real_hash = sources._read, sources.revision_of
    monkeypatch.setattr(sources, "_read", lambda path: read.append(path) or real_read(path))
    monkeypatch.setattr(sources, "revision_of", lambda files, ids: hashed.append(len(files)) or real_hash(files, ids))
    return read, hashed


def _policy_files(directory: Path) -> list[Path]:
    """What a revision covers: every production module (tests excluded) and data.json."""
    return sorted([*policy_modules(directory), directory / "data.json"])


def test_a_gateway_start_reads_each_policy_file_once_for_the_engine_and_the_store(
    settings, session_factory, policy_copy, keys_template, monkeypatch
):
    from gateway.app import create_app
    from tests.fixtures.keys import install_keys

    install_keys(keys_template, settings.keys_dir)
    read, hashed = _count_reads(monkeypatch)

    revision = create_app(settings.model_copy(update={"policy_dir": policy_copy})).state.gateway.policy.revision

    assert sorted(read) == _policy_files(policy_copy), "every module and data.json, each read once"
    assert len(hashed) == 1
    with session_factory() as session:
        assert [r.revision for r in list_revisions(session)] == [revision], "stored from what was read"


def test_a_gateway_start_on_an_activated_revision_reads_its_files_once(
    settings, session_factory, policy_copy, keys_template, catalogue_ids, monkeypatch
):
    from gateway.app import create_app
    from tests.fixtures.keys import install_keys

    install_keys(keys_template, settings.keys_dir)
    data = json.loads((policy_copy / "data.json").read_text())
    data["gateway"]["minimum_without_consent"]["charging"]["police"].append("vulnerability.summary")
    (policy_copy / "data.json").write_text(json.dumps(data))
    with session_factory.begin() as session:
        edited = store_revision(session, policy_copy, catalogue_ids, NOW)
        activate(session, edited, by="Jo Bloggs, IG lead", now=NOW)
    read, hashed = _count_reads(monkeypatch)

    assert create_app(settings).state.gateway.policy.revision == edited

    materialised = settings.data_dir / "policy" / edited.removeprefix("sha256:")
    assert read == [], "the engine loads the stored bytes, not the files written from them"
    assert len(hashed) == 1
    assert _policy_files(materialised) == sorted(p for p in materialised.rglob("*") if p.is_file())


def test_the_stored_bytes_decide_whatever_the_materialised_directory_holds(
    session_factory, policy_copy, catalogue_ids, tmp_path
):
    """A half-written or stale file under data_dir/policy/<hash>/ (another process writing the same
    revision, an operator's edit) never reaches the engine, and is put right."""
    with session_factory.begin() as session:
        revision = store_revision(session, policy_copy, catalogue_ids, NOW)
    target = tmp_path / revision.removeprefix("sha256:")
    target.mkdir()
    (target / "data.json").write_text('{"gateway": {"half-writ')
    with session_factory() as session:
        source = materialise_source(session, revision, tmp_path)
    assert source.revision == revision
    assert (target / "data.json").read_bytes() == (policy_copy / "data.json").read_bytes()


def test_a_revision_activated_under_another_catalogue_is_refused_not_rederived(
    settings, session_factory, policy_copy, keys_template, catalogue_ids
):
    """A release whose field catalogue gained a field must not serve the activated revision re-derived
    under it (log entries would name a revision nobody stored or signed off), nor as stored (the gained
    field would be neither released nor withheld): the start is refused, saying what to do."""
    from gateway.app import create_app
    from tests.fixtures.keys import install_keys

    install_keys(keys_template, settings.keys_dir)
    gained = "vulnerability.summary"
    then = [f for f in catalogue_ids if f != gained]
    with session_factory.begin() as session:
        activated = store_revision(session, policy_copy, then, NOW)
        activate(session, activated, by="Jo Bloggs, IG lead", now=NOW)

    with pytest.raises(PolicyLoadError, match=f"{activated}.*adds {gained}.*policy activate"):
        create_app(settings)


def test_a_materialised_directory_hashes_to_its_revision_or_is_refused(session_factory, tmp_path, catalogue_ids):
    """``policy show --out`` says the export is hash-checked: a module already in the target directory
    that the revision lacks is refused, not handed out with it."""
    with session_factory.begin() as session:
        revision = store_revision(session, POLICY_DIR, catalogue_ids, NOW)
    target = tmp_path / revision.removeprefix("sha256:")
    target.mkdir()
    (target / "zz_extra.rego").write_text("package gateway.extra\n\nallow_everything := true\n")
    with session_factory() as session, pytest.raises(PolicyLoadError, match="holds files that revision"):
        materialise(session, revision, tmp_path)

"""The one policy reader (gateway/policy/source.py): each file read once, everything derived from those
bytes, and a directory edited while it is being read refused by every loader."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.policy import EmbeddedRegoEngine, PolicyLoadError, compute_revision, run_rego_tests
from gateway.policy import source as sources
from gateway.policy.source import read_policy

from .conftest import POLICY_DIR


def _edit_while_reading(monkeypatch: pytest.MonkeyPatch, when: str, edit) -> None:
    """Run ``edit`` just after the reader has read the file named ``when``."""
    real = sources._read

    def read(path: Path) -> bytes:
        content = real(path)
        if path.name == when:
            edit()
        return content

    monkeypatch.setattr(sources, "_read", read)


def test_the_source_is_the_bytes_read_and_its_revision_is_theirs(catalogue_ids):
    source = read_policy(POLICY_DIR, catalogue_ids, with_tests=True)

    assert [rel for rel, _ in source.files] == ["data.json", "disclosure.rego"]
    assert dict(source.files)["disclosure.rego"] == (POLICY_DIR / "disclosure.rego").read_bytes()
    assert source.revision == compute_revision(POLICY_DIR, catalogue_ids)
    assert source.modules == (("disclosure.rego", (POLICY_DIR / "disclosure.rego").read_text()),)
    assert [rel for rel, _ in source.tests] == ["disclosure_test.rego"]
    assert source.data["gateway"]["catalogue"] == list(catalogue_ids)
    assert read_policy(POLICY_DIR, catalogue_ids).tests == (), "tests only when asked for"
    assert read_policy(POLICY_DIR, catalogue_ids).revision == source.revision, "tests are not in the revision"


def test_another_catalogue_is_another_revision_of_the_same_bytes(catalogue_ids, monkeypatch):
    source = read_policy(POLICY_DIR, catalogue_ids)
    expected = compute_revision(POLICY_DIR, [*catalogue_ids, "new.section"])
    monkeypatch.setattr(sources, "_read", lambda path: pytest.fail(f"read {path} again"))

    wider = source.for_catalogue([*catalogue_ids, "new.section"])

    assert source.for_catalogue(list(catalogue_ids)) is source
    assert wider.files == source.files and wider.revision != source.revision
    assert wider.revision == expected
    assert wider.data["gateway"]["catalogue"][-1] == "new.section"
    assert source.data["gateway"]["catalogue"] == list(catalogue_ids), "the first source is unchanged"


def test_an_engine_given_a_source_reads_nothing(catalogue_ids, monkeypatch):
    source = read_policy(POLICY_DIR, catalogue_ids)
    monkeypatch.setattr(sources, "_read", lambda path: pytest.fail(f"read {path} again"))

    engine = EmbeddedRegoEngine(source, catalogue_ids)

    assert engine.revision == source.revision and engine.source is source


def test_crlf_modules_are_loaded_as_the_bytes_hashed(policy_copy, catalogue_ids):
    rego = policy_copy / "disclosure.rego"
    rego.write_bytes(rego.read_bytes().replace(b"\n", b"\r\n"))

    source = read_policy(policy_copy, catalogue_ids)

    assert dict(source.modules)["disclosure.rego"].encode() == rego.read_bytes()
    assert EmbeddedRegoEngine(source, catalogue_ids).revision == compute_revision(policy_copy, catalogue_ids)


@pytest.mark.parametrize("when", ["disclosure.rego", "data.json"])
def test_a_module_edited_while_the_directory_is_read_is_refused(policy_copy, catalogue_ids, monkeypatch, when):
    rego = policy_copy / "disclosure.rego"
    _edit_while_reading(monkeypatch, when, lambda: rego.write_text(rego.read_text() + "\n# edited\n"))

    with pytest.raises(PolicyLoadError, match="changed while it was being loaded"):
        read_policy(policy_copy, catalogue_ids)


def test_data_replaced_while_the_directory_is_read_is_refused_by_every_loader(policy_copy, catalogue_ids, monkeypatch):
    data_file = policy_copy / "data.json"

    def replace() -> None:
        data = json.loads(data_file.read_text())
        data["gateway"]["minimum_without_consent"]["charging"]["police"].append("vulnerability.summary")
        (policy_copy / "data.json.new").write_text(json.dumps(data))
        (policy_copy / "data.json.new").replace(data_file)  # as editors save: a new file renamed over

    _edit_while_reading(monkeypatch, "disclosure.rego", replace)
    with pytest.raises(PolicyLoadError, match="changed while it was being loaded"):
        EmbeddedRegoEngine(policy_copy, catalogue_ids)

    _edit_while_reading(monkeypatch, "disclosure.rego", replace)
    report = run_rego_tests(policy_copy, catalogue_ids)
    assert not report.ok and "changed while it was being loaded" in report.errors[0]


def test_a_module_added_or_removed_while_the_directory_is_read_is_refused(policy_copy, catalogue_ids, monkeypatch):
    extra = policy_copy / "extra.rego"
    _edit_while_reading(monkeypatch, "data.json", lambda: extra.write_text("package gateway.extra\n"))
    with pytest.raises(PolicyLoadError, match="changed while it was being loaded"):
        read_policy(policy_copy, catalogue_ids)

    _edit_while_reading(monkeypatch, "data.json", extra.unlink)
    with pytest.raises(PolicyLoadError, match="changed while it was being loaded"):
        read_policy(policy_copy, catalogue_ids)


def test_a_test_module_edited_while_the_tests_are_read_is_refused(policy_copy, catalogue_ids, monkeypatch):
    tests = policy_copy / "disclosure_test.rego"
    _edit_while_reading(monkeypatch, "data.json", lambda: tests.write_text(tests.read_text() + "\n"))

    with pytest.raises(PolicyLoadError, match="changed while it was being loaded"):
        read_policy(policy_copy, catalogue_ids, with_tests=True)

"""The offline verifier (adapters/log_verifier) on real exports, and tampered copies of them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adapters.log_verifier import LogKey, VerificationError, verify_consistency, verify_export, verify_inclusion
from adapters.log_verifier.__main__ import main
from adapters.log_verifier.merkle import StreamingRoot, leaf_hash
from gateway.audit.export import write_export
from tests.audit.test_rfc9162 import LEAVES, ROOTS, VECTORS
from tests.audit.test_verify_log import signed_log, signer  # noqa: F401  (fixtures)


@pytest.fixture
def export_dir(session_factory, signer, signed_log, tmp_path) -> Path:  # noqa: F811
    out = tmp_path / "export"
    with session_factory() as session:
        summary = write_export(session, out, signer.verifier)
    assert (summary.entries, summary.checkpoints) == (12, 3)
    return out


def _key(export_dir: Path) -> LogKey:
    return LogKey.parse((export_dir / "log-key.vkey").read_text())


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines(keepends=True)


def _problem(export_dir, **kwargs):
    report = verify_export(export_dir, _key(export_dir), **kwargs)
    assert not report.ok
    return report.problem


def test_an_untouched_export_verifies(export_dir, capsys):
    report = verify_export(export_dir, _key(export_dir))
    assert report.ok, report.problem
    assert (report.entries, report.checkpoints) == (12, 3)
    assert main([str(export_dir), "--key", str(export_dir / "log-key.vkey"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True


def test_modified_entry(export_dir):
    path = export_dir / "entries.jsonl"
    lines = _lines(path)
    lines[4] = lines[4].replace("charging", "sentencing")
    path.write_text("".join(lines))
    assert (_problem(export_dir).kind, _problem(export_dir).position) == ("entry", 4)


def test_deleted_inserted_and_reordered_entries(export_dir):
    path = export_dir / "entries.jsonl"
    original = _lines(path)
    for lines, position in [
        (original[:3] + original[4:], 4),  # deleted entry 3: the next line claims 4
        ([*original[:3], original[2], *original[3:]], 2),  # entry 2 twice
        ([*original[:5], original[6], original[5], *original[7:]], 6),  # 5 and 6 swapped
    ]:
        path.write_text("".join(lines))
        problem = _problem(export_dir)
        assert (problem.kind, problem.position) == ("entry", position), problem


def test_truncated_entries_are_caught_by_a_checkpoint(export_dir):
    path = export_dir / "entries.jsonl"
    path.write_text("".join(_lines(path)[:10]))
    problem = _problem(export_dir)
    assert (problem.kind, problem.position) == ("checkpoint", 12)
    assert "entries removed" in problem.message


def test_modified_and_reordered_checkpoints(export_dir):
    path = export_dir / "checkpoints.jsonl"
    original = _lines(path)
    tampered = json.loads(original[1])
    tampered["note"] = tampered["note"].replace("\n8\n", "\n7\n")
    path.write_text("".join([original[0], json.dumps(tampered) + "\n", original[2]]))
    assert (_problem(export_dir).kind, _problem(export_dir).position) == ("checkpoint", 8)
    path.write_text("".join([original[1], original[0], original[2]]))
    assert (_problem(export_dir).kind, _problem(export_dir).position) == ("checkpoint", 4)


def test_deleted_checkpoints_are_caught_by_the_witnessed_copy(export_dir):
    path = export_dir / "checkpoints.jsonl"
    original = _lines(path)
    witnessed = [json.loads(line)["note"] for line in original]
    path.write_text("".join(original[:2]))
    assert verify_export(export_dir, _key(export_dir)).ok
    problem = _problem(export_dir, witnessed=witnessed)
    assert (problem.kind, problem.position) == ("checkpoint", 12)
    assert "missing from the export" in problem.message


def test_witnessed_checkpoint_beyond_a_truncated_export(export_dir):
    witnessed = [json.loads(line)["note"] for line in _lines(export_dir / "checkpoints.jsonl")]
    (export_dir / "checkpoints.jsonl").write_text("")
    (export_dir / "entries.jsonl").write_text("".join(_lines(export_dir / "entries.jsonl")[:9]))
    problem = _problem(export_dir, witnessed=witnessed)
    assert (problem.kind, problem.position) == ("checkpoint", 12)


def test_another_key_verifies_nothing(export_dir, tmp_path, capsys):
    other = tmp_path / "other.vkey"
    other.write_text("TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6\n")
    assert main([str(export_dir), "--key", str(other)]) == 1
    assert "checkpoint 4" in capsys.readouterr().out


def test_the_independent_merkle_code_passes_the_vectors():
    tree = StreamingRoot()
    for n, data in enumerate(VECTORS["leaves"], start=1):
        tree.add(leaf_hash(bytes.fromhex(data)))
        assert tree.root() == ROOTS[n - 1]
    for v in VECTORS["inclusion"]:
        proof = [bytes.fromhex(p) for p in v["proof"]]
        verify_inclusion(v["leaf"] - 1, v["size"], LEAVES[v["leaf"] - 1], proof, ROOTS[v["size"] - 1])
        if proof:
            with pytest.raises(VerificationError):
                verify_inclusion(v["leaf"] - 1, v["size"], LEAVES[v["leaf"] - 1], proof[:-1], ROOTS[v["size"] - 1])
    for v in VECTORS["consistency"]:
        proof = [bytes.fromhex(p) for p in v["proof"]]
        r1, r2 = ROOTS[v["size1"] - 1], ROOTS[v["size2"] - 1]
        verify_consistency(v["size1"], v["size2"], r1, r2, proof)
        if proof:
            with pytest.raises(VerificationError):
                verify_consistency(v["size1"], v["size2"], r2, r1, proof)

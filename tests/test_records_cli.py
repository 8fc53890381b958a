"""The record-keeping commands (``assessment history``, ``subject``, ``retention``) and the case-system
export adapter's ``import``, through the one ``ld-gateway`` command line."""

from __future__ import annotations

import copy
import json

import pytest

from gateway.db.engine import make_engine, make_session_factory
from gateway.keys import load_keyring
from tests.conftest import ROOT
from tests.factories import add_agencies, example, publish
from tests.fixtures.cli import reuse_click_command
from tests.fixtures.keys import install_keys


@pytest.fixture(autouse=True)
def _one_click_command(monkeypatch):
    """``ld-gateway``'s click command built once per session, not on every invocation."""
    reuse_click_command(monkeypatch)


@pytest.fixture
def cli(cli, settings, keys_template):
    """The shared ``cli``, on an initialised gateway: ``init`` finds the session's keys in place (making
    an RSA signing key is most of a second; test_cli.py covers ``init`` making them)."""
    install_keys(keys_template, settings.keys_dir)
    cli("init")
    return cli


@pytest.fixture
def sessions(cli, database_url):
    engine = make_engine(database_url)
    factory = make_session_factory(engine)
    add_agencies(factory)
    yield factory
    engine.dispose()


def test_assessment_history_lists_versions_without_content(cli, sessions, settings):
    keyring = load_keyring(settings.data_dir / "keys")
    original = example()
    first = publish(sessions, keyring, original)
    amended = copy.deepcopy(original)
    amended["engagement"] = "Attended."
    publish(sessions, keyring, amended)
    out = cli("assessment", "history", first.assessment_id, "--json").output
    history = json.loads(out)
    assert [v["version"] for v in history] == [1, 2]
    assert history[0]["content_digest"] != history[1]["content_digest"]
    table = cli("assessment", "history", first.assessment_id).output
    assert "Hewitt" not in table and "9449305552" not in table
    assert "no assessment" in cli("assessment", "history", "nope", code=1).output


SAMPLES = ROOT / "adapters" / "case_export" / "samples"


def test_import_reaches_the_cli_through_its_adapters_entry_point(cli):
    """gateway never imports adapters: the adapter declares its command, and what is installed says so."""
    import tomllib
    from importlib.metadata import EntryPoint, entry_points

    import typer

    from gateway import cli_plugins

    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"][cli_plugins.GROUP]
    assert declared == {"import": "adapters.case_export.cli:import_export"}
    installed = {e.name: e.value for e in entry_points(group=cli_plugins.GROUP)}
    assert installed == declared, "the installed metadata is stale: run `pip install -e .` (make install)"
    entry = EntryPoint(name="import", value=declared["import"], group=cli_plugins.GROUP)
    assert cli_plugins.register(typer.Typer(), [entry]) == ["import"]
    assert "--dry-run" in cli("import", "--help").output


def _state(sessions):
    """Everything an import writes, as counts and ids (no content)."""
    from sqlalchemy import func, select

    from gateway.db.models import Assessment, AssessmentVersion, CaseLink, Subject, SubjectIdentifier

    with sessions() as session:
        return {
            "subjects": session.execute(select(func.count()).select_from(Subject)).scalar_one(),
            "identifiers": session.execute(select(func.count()).select_from(SubjectIdentifier)).scalar_one(),
            "assessments": sorted(session.execute(select(Assessment.id, Assessment.current_version)).all()),
            "versions": session.execute(select(func.count()).select_from(AssessmentVersion)).scalar_one(),
            "links": session.execute(select(func.count()).select_from(CaseLink)).scalar_one(),
        }


def test_importing_the_samples_twice_creates_no_duplicates(cli, sessions, tmp_path):
    first = cli("import", str(SAMPLES / "export.csv"), "--agency", "LD-NE", "--report", str(tmp_path / "r1.json"))
    assert "4 created" in first.output
    cli("import", str(SAMPLES / "export.jsonl"), "--agency", "LD-NE")
    after_first = _state(sessions)
    # The CSV has four people; the JSON lines add two later contacts for two of them (matched by NHS number).
    assert after_first["subjects"] == 4 and len(after_first["assessments"]) == 6 and after_first["versions"] == 6
    again = cli("import", str(SAMPLES / "export.csv"), "--agency", "LD-NE", "--report", str(tmp_path / "r2.json"))
    cli("import", str(SAMPLES / "export.jsonl"), "--agency", "LD-NE")
    assert "4 unchanged" in again.output
    assert _state(sessions) == after_first
    report = json.loads((tmp_path / "r2.json").read_text())
    assert report["counts"]["unchanged"] == 4 and {r["outcome"] for r in report["rows"]} == {"unchanged"}
    first_ids = {r["record_id"]: r["assessment_id"] for r in json.loads((tmp_path / "r1.json").read_text())["rows"]}
    assert {r["record_id"]: r["assessment_id"] for r in report["rows"]} == first_ids


def test_an_import_screens_under_the_activated_policy_revision(cli, sessions, settings):
    revision = cli("policy", "store").output.strip().splitlines()[-1]
    cli("policy", "activate", revision, "--by", "IG lead")
    assert "4 created" in cli("import", str(SAMPLES / "export.csv"), "--agency", "LD-NE").output
    # Loaded from the stored bytes, and written out beside the data as every reader of it expects.
    assert (settings.data_dir / "policy" / revision.removeprefix("sha256:")).is_dir()


def test_a_changed_row_is_a_new_version(cli, sessions, tmp_path):
    cli("import", str(SAMPLES / "export.csv"), "--agency", "LD-NE")
    text = (SAMPLES / "export.csv").read_text(encoding="utf-8")
    changed = tmp_path / "changed.csv"
    changed.write_text(text.replace("Engaged well with his support worker present.", "Did not attend."), "utf-8")
    out = cli("import", str(changed), "--agency", "LD-NE", "--report", str(tmp_path / "r.json")).output
    assert "1 new-version" in out and "3 unchanged" in out
    rows = json.loads((tmp_path / "r.json").read_text())["rows"]
    assert [r["version"] for r in rows if r["outcome"] == "new-version"] == [2]


def test_dry_run_stores_nothing_and_reports_bad_rows_by_line_and_column(cli, sessions, tmp_path):
    text = (SAMPLES / "export.csv").read_text(encoding="utf-8").splitlines()
    # Line 3 gets a bad NHS number check digit; line 4 an unknown agency in its case links.
    text[2] = text[2].replace(",2021/0000077C,", ",2021/0000077D,")
    text[3] = text[3].replace("YOT-NE=YOT-2026-0551", "YOT-SW=YOT-2026-0551")
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(text) + "\n", encoding="utf-8")
    before = _state(sessions)
    out = cli("import", str(bad), "--agency", "LD-NE", "--dry-run", "--report", str(tmp_path / "r.json"), code=1)
    assert "2 valid" in out.output and "2 error" in out.output
    assert _state(sessions) == before
    rows = json.loads((tmp_path / "r.json").read_text())["rows"]
    errors = {r["line"]: {p["column"] for p in r["problems"]} for r in rows if r["outcome"] == "error"}
    assert errors == {3: {"pnc_id"}, 4: {"case_links"}}
    assert "2021/0000077D" not in out.output and "Rows refused" in out.output
    # Without --dry-run the good rows go in and the bad ones are reported: exit 1.
    cli("import", str(bad), "--agency", "LD-NE", code=1)
    assert len(_state(sessions)["assessments"]) == 2


def test_import_refuses_what_cannot_be_read(cli, sessions, tmp_path):
    unknown = tmp_path / "x.csv"
    unknown.write_text("record_id,favourite_colour\nR,blue\n", encoding="utf-8")
    assert "favourite_colour" in cli("import", str(unknown), "--agency", "LD-NE", code=2).output
    # Only an L&D service may be the publisher.
    out = cli("import", str(SAMPLES / "export.csv"), "--agency", "POL-NE", code=2)
    assert "registered L&D service" in out.output
    assert _state(sessions)["versions"] == 0


def test_imports_are_logged_with_their_version_and_the_log_verifies(cli, sessions):
    from sqlalchemy import select

    from gateway.db.models import DisclosureLogEntry

    cli("import", str(SAMPLES / "export.csv"), "--agency", "LD-NE")
    with sessions() as session:
        entries = [
            json.loads(e)
            for e in session.execute(
                select(DisclosureLogEntry.entry).where(DisclosureLogEntry.event == "ingest:assessment:imported")
            ).scalars()
        ]
    assert len(entries) == 4 and all(e["assessment_version"] == 1 and e["client_id"] is None for e in entries)
    assert "Okafor" not in json.dumps(entries)
    cli("audit", "verify")


def _log_entries(sessions, prefix):
    from sqlalchemy import select

    from gateway.db.models import DisclosureLogEntry

    with sessions() as session:
        rows = session.execute(select(DisclosureLogEntry.entry).order_by(DisclosureLogEntry.seq)).scalars()
        return [e for e in (json.loads(r) for r in rows) if e["event"].startswith(prefix)]


def test_subject_find_merge_and_unmerge_are_logged(cli, sessions, settings, monkeypatch):
    cli("import", str(SAMPLES / "export.csv"), "--agency", "LD-NE")
    # Freya Lindqvist is known by PNC ID only; suppose an administrator establishes she is Sam Okafor's record.
    keep = cli("subject", "find", "--nhs-number", "9990000018").output.strip().splitlines()[-1]
    absorb = cli("subject", "find", "--pnc-id", "2021/0000077c").output.strip().splitlines()[-1]
    assert keep != absorb
    cli("subject", "merge", keep, absorb, "--by", "A. Admin", "--reference", "IG-42")
    assert cli("subject", "find", "--pnc-id", "2021/0000077C").output.strip().splitlines()[-1] == keep
    assert "already merged" in cli("subject", "merge", keep, absorb, "--by", "A. Admin", code=1).output
    cli("subject", "unmerge", absorb, "--by", "A. Admin")
    assert cli("subject", "find", "--pnc-id", "2021/0000077C").output.strip().splitlines()[-1] == absorb
    keyring = load_keyring(settings.data_dir / "keys")
    entries = _log_entries(sessions, "identity:")
    assert [(e["event"], e["subject_key"], e["reason"]) for e in entries] == [
        (
            "identity:subject:merged",
            keyring.identifier_hmac("subject", keep),
            f"merged:{keyring.identifier_hmac('subject', absorb)}",
        ),
        (
            "identity:subject:unmerged",
            keyring.identifier_hmac("subject", keep),
            f"unmerged:{keyring.identifier_hmac('subject', absorb)}",
        ),
    ]
    assert "no subject" in cli("subject", "find", "--pnc-id", "2019/0000001P", code=1).output
    cli("audit", "verify")


def test_subject_resolve_and_detach_are_logged_without_values(cli, sessions, settings):
    cli("import", str(SAMPLES / "export.csv"), "--agency", "LD-NE")
    sam = cli("subject", "find", "--nhs-number", "9990000018").output.strip().splitlines()[-1]
    resolved = cli("subject", "resolve", sam, "--family-name", "Okafor-Reid", "--by", "A. Admin", "--reference", "IG-9")
    assert "family-name" in resolved.output
    assert "YYYY-MM-DD" in cli("subject", "resolve", sam, "--date-of-birth", "1988-13-02", "--by", "A", code=2).output
    assert "give a family name" in cli("subject", "resolve", sam, "--by", "A. Admin", code=1).output
    assert "no subject" in cli("subject", "resolve", "nobody", "--family-name", "X", "--by", "A", code=1).output
    cli("subject", "detach", sam, "--nhs-number", "999 000 0018")
    assert "no subject" in cli("subject", "find", "--nhs-number", "9990000018", code=1).output
    assert "does not have" in cli("subject", "detach", sam, "--nhs-number", "9990000018", code=1).output
    entries = _log_entries(sessions, "identity:")
    assert [(e["event"], e["reason"]) for e in entries] == [
        ("identity:subject:identity-accepted", "accepted:family-name"),
        ("identity:subject:identifier-detached", "detached:nhs-number"),
    ]
    assert "Okafor" not in json.dumps(entries) and "9990000018" not in json.dumps(entries)
    cli("audit", "verify")


def _last_seen_in_2005() -> dict:
    """An adult born in 1970, assessed once in January 2005: due for erasure from 1 January 2025."""
    old = example()
    old["local_reference"] = "LD-NE-2005-000001"
    old["subject"]["date_of_birth"] = "1970-01-01"
    old["context"]["assessed_at"] = "2005-01-01T10:00:00Z"
    old["consent"]["recorded_at"] = "2005-01-01T09:00:00Z"
    return old


def test_retention_run_shreds_expired_people_and_the_log_still_verifies(cli, sessions, settings):
    from gateway.assessments import store
    from gateway.db.models import AssessmentVersion, CaseLink, Subject, SubjectIdentifier

    keyring = load_keyring(settings.data_dir / "keys")
    old = _last_seen_in_2005()
    expired = publish(sessions, keyring, old)
    current = example("child.json")
    kept = publish(sessions, keyring, current)
    before = _state(sessions)

    dry = cli("retention", "run", "--dry-run", "--today", "2026-11-26").output
    assert "1 people (1 subject records) due for erasure" in dry and expired.subject_id in dry
    assert _state(sessions) == before
    # Not yet due the day before the 20 years end.
    assert "0 people" in cli("retention", "run", "--today", "2024-12-31").output

    out = cli("retention", "run", "--today", "2026-11-26").output
    assert "1 people (1 subject records) erased" in out and kept.subject_id not in out
    from sqlalchemy import func, select

    with sessions() as session:
        subject = session.get(Subject, expired.subject_id)
        assert subject.wrapped_key is None and subject.erased_at is not None
        assert store.load_current(session, keyring, expired.assessment_id) is None
        ciphertexts = session.execute(
            select(AssessmentVersion.ciphertext).where(AssessmentVersion.assessment_id == expired.assessment_id)
        ).scalars()
        assert all(c is None for c in ciphertexts)
        for model in (SubjectIdentifier, CaseLink):
            count = select(func.count()).select_from(model).where(model.subject_id == expired.subject_id)
            assert session.execute(count).scalar_one() == 0
        assert store.find_subject_id(session, keyring, store.NHS_NUMBER, old["subject"]["nhs_number"]) is None
        assert store.load_current(session, keyring, kept.assessment_id) is not None
    entries = _log_entries(sessions, "retention:")
    assert [(e["subject_key"], e["reason"], e["outcome"]) for e in entries] == [
        (keyring.identifier_hmac("subject", expired.subject_id), "retention:adult-20-years", "erased")
    ]
    assert "1970-01-01" not in json.dumps(entries) and "Hewitt" not in json.dumps(entries)
    assert "intact" in cli("audit", "verify").output
    # Running again erases nobody twice.
    assert "0 people" in cli("retention", "run", "--today", "2026-11-26").output


def test_a_person_published_again_after_the_judgement_is_not_erased(cli, sessions, settings, monkeypatch):
    # Retention judged everyone in one snapshot, then erased each without looking again: a record published
    # (or merged) in between was shredded with the rest, and shredding is for good.
    from datetime import UTC, date, datetime

    from gateway.db.models import Subject
    from gateway.ingest import records

    keyring = load_keyring(settings.data_dir / "keys")
    old = _last_seen_in_2005()
    expired = publish(sessions, keyring, old)
    today = date(2026, 11, 26)
    judged = records.expired_subjects(sessions, keyring, today)
    assert [item.subject_ids for item in judged] == [(expired.subject_id,)]

    again = copy.deepcopy(old)
    again["local_reference"] = "LD-NE-2026-000009"
    again["context"]["assessed_at"] = "2026-11-01T10:00:00Z"
    again["consent"]["recorded_at"] = "2026-11-01T09:00:00Z"
    assert publish(sessions, keyring, again).subject_id == expired.subject_id
    monkeypatch.setattr(records, "expired_subjects", lambda *args, **kwargs: judged)

    assert records.run_retention(sessions, keyring, today=today, now=datetime.now(UTC)) == []
    with sessions() as session:
        assert session.get(Subject, expired.subject_id).wrapped_key is not None
    assert _log_entries(sessions, "retention:") == []


def test_a_recorded_death_erases_ten_years_after_it_not_twenty_after_the_last_contact(cli, sessions, settings):
    keyring = load_keyring(settings.data_dir / "keys")
    died = example()
    died["local_reference"] = "LD-NE-2012-000001"
    died["context"]["assessed_at"] = "2012-03-01T10:00:00Z"
    died["consent"]["recorded_at"] = "2012-03-01T09:00:00Z"
    died["subject"]["date_of_death"] = "2016-07-15"  # kept until 2026-07-15, not 2032-03-01
    gone = publish(sessions, keyring, died)

    assert "0 people" in cli("retention", "run", "--today", "2026-07-14").output
    out = cli("retention", "run", "--today", "2026-07-15").output
    assert "1 people (1 subject records) erased" in out and gone.subject_id in out
    (entry,) = _log_entries(sessions, "retention:")
    assert entry["reason"] == "retention:died-10-years"
    assert "2016-07-15" not in json.dumps(entry)


def test_an_import_warns_of_diagnostic_terms_in_text_for_police_and_still_imports_the_row(cli, sessions, tmp_path):
    # The sample's first person: his summary, diversion notes and the team he is referred to name his
    # learning disability, and all three go to police and the CPS at charging.
    export = tmp_path / "one.jsonl"
    export.write_text((SAMPLES / "export.jsonl").read_text().splitlines()[0] + "\n")
    out = cli("import", str(export), "--agency", "LD-NE", "--report", str(tmp_path / "r.json")).output
    assert "1 created" in out and "Rows accepted with warnings" in out
    assert "learning disability" not in out.lower(), "the warning never repeats the text"
    row = json.loads((tmp_path / "r.json").read_text())["rows"][0]
    assert row["outcome"] == "created" and row["problems"] == []
    assert [w["column"] for w in row["warnings"]] == ["vulnerability_summary", "diversion_notes", "referrals"]
    (entry,) = _log_entries(sessions, "ingest:assessment:imported")
    assert entry["diagnostic_term_warnings"] == 3

    cli("import", str(export), "--agency", "LD-NE", "--dry-run", "--report", str(tmp_path / "d.json"))
    dry = json.loads((tmp_path / "d.json").read_text())
    assert dry["rows"][0]["outcome"] == "valid" and len(dry["rows"][0]["warnings"]) == 3

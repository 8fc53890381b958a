from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import inspect, text

from gateway.db.engine import make_engine
from gateway.db.migrate import alembic_config, upgrade
from tests.conftest import create_pg_database


def test_migrations_create_every_table(db_engine):
    names = set(inspect(db_engine).get_table_names())
    assert {
        "agencies",
        "clients",
        "subjects",
        "assessments",
        "assessment_versions",
        "case_links",
        "disclosure_log",
        "log_head",
        "alembic_version",
    } <= names


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request, tmp_path):
    """A URL of a database with no tables at all (migrations are run by the test)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    url, drop = create_pg_database()
    yield url
    drop()


def _at(engine, revision: str) -> None:
    cfg = alembic_config()
    with engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
        conn.commit()


def test_existing_case_links_are_declared_by_their_assessments_publisher(empty_database):
    """Links stored before provenance was recorded get the publisher of the assessment that carries them."""
    engine = make_engine(empty_database)
    _at(engine, "0700")
    now = datetime(2026, 11, 26, tzinfo=UTC)
    with engine.begin() as conn:
        for agency_id, code, type_ in ((1, "LD-A", "ld-service"), (2, "LD-B", "ld-service"), (3, "POL", "police")):
            conn.execute(
                text("INSERT INTO agencies (id, code, name, type, created_at) VALUES (:i, :c, :c, :t, :n)"),
                {"i": agency_id, "c": code, "t": type_, "n": now},
            )
        conn.execute(
            text("INSERT INTO subjects (id, wrapped_key, master_key_id, created_at) VALUES ('s', NULL, 'k', :n)"),
            {"n": now},
        )
        for assessment_id, publisher in (("a", 1), ("b", 2)):
            conn.execute(
                text(
                    "INSERT INTO assessments (id, subject_id, publisher_agency_id, local_reference_hmac, "
                    "current_version, created_at, updated_at) VALUES (:a, 's', :p, :a, 1, :n, :n)"
                ),
                {"a": assessment_id, "p": publisher, "n": now},
            )
            conn.execute(
                text(
                    "INSERT INTO case_links (assessment_id, subject_id, agency_id, case_reference_hmac, created_at) "
                    "VALUES (:a, 's', 3, :a, :n)"
                ),
                {"a": assessment_id, "n": now},
            )
    upgrade(engine)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT assessment_id, declared_by_agency_id FROM case_links ORDER BY 1")).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [("a", 1), ("b", 2)]


def test_pnc_ids_are_rekeyed_padded_and_demographics_recorded_from_the_stored_assessments(empty_database, tmp_path):
    """Migration 1301 decrypts what is stored (with the keys it is handed): a PNC ID stored under its unpadded
    serial is found under the padded one afterwards, and each current version's family names and date of
    birth are on record as keyed hashes."""
    import json as _json

    from gateway.assessments import store
    from gateway.assessments.demographics import facts_of
    from gateway.keys import encrypt, load_or_create_keyring, new_data_key, wrap_key

    keys_dir = tmp_path / "keys"
    keyring = load_or_create_keyring(keys_dir)
    engine = make_engine(empty_database)
    _at(engine, "1300")
    now = datetime(2026, 11, 26, tzinfo=UTC)
    subject = {"pnc_id": "2025/318472V", "names": [{"family": "Armstrong"}], "date_of_birth": "2011-02-17"}
    data_key = new_data_key()
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO agencies (id, code, name, type, created_at) VALUES (1, 'LD', 'LD', 'ld-service', :n)"),
            {"n": now},
        )
        conn.execute(
            text("INSERT INTO subjects (id, wrapped_key, master_key_id, created_at) VALUES ('s', :w, 'k', :n)"),
            {"w": wrap_key(keyring.master_key, data_key, "s"), "n": now},
        )
        conn.execute(
            text(
                "INSERT INTO assessments (id, subject_id, publisher_agency_id, local_reference_hmac, "
                "current_version, created_at, updated_at) VALUES ('a', 's', 1, 'r', 1, :n, :n)"
            ),
            {"n": now},
        )
        blob = encrypt(data_key, _json.dumps({"subject": subject}).encode(), b"assessment:a:1")
        conn.execute(
            text(
                "INSERT INTO assessment_versions (assessment_id, version, ciphertext, content_sha256, created_at) "
                "VALUES ('a', 1, :c, 'd', :n)"
            ),
            {"c": blob, "n": now},
        )
        conn.execute(
            text("INSERT INTO subject_identifiers (subject_id, system, value_hmac) VALUES ('s', 'pnc-id', :h)"),
            {"h": keyring.identifier_hmac("pnc-id", "2025/318472V")},
        )
    upgrade(engine, keys_dir)
    with engine.connect() as conn:
        keys = conn.execute(text("SELECT value_hmac FROM subject_identifiers")).scalars().all()
        facts = conn.execute(text("SELECT element, value_hmac FROM subject_demographics WHERE assessment_id = 'a'"))
        recorded = set(facts.all())
    engine.dispose()
    assert keys == [store.identifier_key(keyring, store.PNC_ID, "2025/0318472V")]
    assert recorded == set(facts_of(keyring, subject).hashes())


def test_personal_data_in_the_immutable_log_overrides_recorded_earlier_get_keyed_commitments(empty_database, tmp_path):
    """Migrations 1400 and 1401 decrypt each override's reason (with the keys they are handed) and keep
    beside it the commitments the log entries carry: HMAC under the subject's data key of its author and
    reason, no unkeyed hash left behind; an erased person's override gets none."""
    from gateway.keys import encrypt, load_or_create_keyring, new_data_key, wrap_key
    from gateway.overrides.commitment import REASON, RECORDED_BY, commit

    keys_dir = tmp_path / "keys"
    keyring = load_or_create_keyring(keys_dir)
    engine = make_engine(empty_database)
    _at(engine, "1500")
    now = datetime(2026, 11, 26, tzinfo=UTC)
    reason = "Threatened for money on the street; safeguarding concern raised."
    data_key = new_data_key()
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO agencies (id, code, name, type, created_at) VALUES (1, 'LD', 'LD', 'ld-service', :n)"),
            {"n": now},
        )
        for subject, wrapped in (("s", wrap_key(keyring.master_key, data_key, "s")), ("erased", None)):
            conn.execute(
                text("INSERT INTO subjects (id, wrapped_key, master_key_id, created_at) VALUES (:s, :w, 'k', :n)"),
                {"s": subject, "w": wrapped, "n": now},
            )
            conn.execute(
                text(
                    "INSERT INTO assessments (id, subject_id, publisher_agency_id, local_reference_hmac, "
                    "current_version, created_at, updated_at) VALUES (:a, :s, 1, :a, 1, :n, :n)"
                ),
                {"a": f"a-{subject}", "s": subject, "n": now},
            )
            conn.execute(
                text(
                    "INSERT INTO lawful_overrides (id, assessment_id, basis, recipients, reason_ciphertext, "
                    "recorded_by, recorded_at, expires_at, client_id, agency_code) "
                    "VALUES (:o, :a, 'safeguarding', '[\"POL\"]', :c, 'Sam', :n, :n, 'c', 'LD')"
                ),
                {
                    "o": f"o-{subject}",
                    "a": f"a-{subject}",
                    "c": encrypt(data_key, reason.encode(), f"override:o-{subject}".encode()),
                    "n": now,
                },
            )
    upgrade(engine, keys_dir)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, recorded_by_hmac, reason_hmac FROM lawful_overrides")).all()
        columns = {c["name"] for c in inspect(conn).get_columns("lawful_overrides")}
    engine.dispose()
    assert {row[0]: tuple(row[1:]) for row in rows} == {
        "o-s": (commit(data_key, "o-s", RECORDED_BY, "Sam"), commit(data_key, "o-s", REASON, reason)),
        "o-erased": (None, None),
    }
    assert "reason_sha256" not in columns, "no unkeyed hash of a reason outlives the person's erasure"

"""Encrypted storage: versions, case links, identity matching, and nothing readable at rest."""

from __future__ import annotations

import copy

import pytest
from cryptography.exceptions import InvalidTag
from sqlalchemy import select, text

from gateway.assessments import store
from gateway.db.models import Agency, AssessmentVersion, Subject
from gateway.keys import load_or_create_keyring
from tests.factories import add_agencies, example, publish


@pytest.fixture
def keyring(tmp_path):
    return load_or_create_keyring(tmp_path / "keys")


@pytest.fixture
def agencies(session_factory):
    add_agencies(session_factory)


def _adult():
    return example("adult.json")


def _publish(session_factory, keyring, document):
    return publish(session_factory, keyring, document)


def test_publish_then_load_round_trips(session_factory, keyring, agencies):
    document = _adult()
    published = _publish(session_factory, keyring, document)
    assert published.created and published.version == 1
    with session_factory() as session:
        loaded = store.load_current(session, keyring, published.assessment_id)
        assert loaded is not None and loaded.content == document
        police = session.execute(select(Agency).where(Agency.code == "POL-NE")).scalar_one()
        yot = session.execute(select(Agency).where(Agency.code == "YOT-NE")).scalar_one()
        assert store.has_case_link(session, published.subject_id, police.id)
        assert not store.has_case_link(session, published.subject_id, yot.id)
        assert store.find_subject_id(session, keyring, store.NHS_NUMBER, document["subject"]["nhs_number"])


def test_republishing_makes_a_new_version(session_factory, keyring, agencies):
    document = _adult()
    first = _publish(session_factory, keyring, document)
    amended = copy.deepcopy(document)
    amended["vulnerability_summary"] = "Amended after a second interview."
    second = _publish(session_factory, keyring, amended)
    assert second.assessment_id == first.assessment_id and second.version == 2 and not second.created
    with session_factory() as session:
        loaded = store.load_current(session, keyring, first.assessment_id)
        assert loaded.version == 2 and loaded.content["vulnerability_summary"].startswith("Amended")

    corrected = copy.deepcopy(amended)
    corrected["case_links"] = [link for link in amended["case_links"] if link["agency_code"] != "POL-NE"]
    _publish(session_factory, keyring, corrected)
    with session_factory() as session:
        police = session.execute(select(Agency).where(Agency.code == "POL-NE")).scalar_one()
        court = session.execute(select(Agency).where(Agency.code == "MC-NE")).scalar_one()
        assert not store.has_case_link(session, first.subject_id, police.id), "a corrected link withdraws access"
        assert store.has_case_link(session, first.subject_id, court.id)


def test_unknown_agency_in_case_links_stores_nothing(session_factory, keyring, agencies):
    document = _adult()
    document["case_links"].append({"agency_code": "NOWHERE", "case_reference": "1"})
    with pytest.raises(store.StoreError) as err:
        _publish(session_factory, keyring, document)
    assert err.value.problems[0].expression.startswith("case_links[")
    with session_factory() as session:
        assert session.execute(select(Subject)).first() is None


def test_identity_matches_on_nhs_number_or_pnc_and_never_merges_two_people(session_factory, keyring, agencies):
    first = _publish(session_factory, keyring, _adult())
    someone_else = _adult()
    someone_else["local_reference"] = "LD-OTHER-1"
    someone_else["subject"]["nhs_number"] = "9000000009"
    someone_else["subject"]["pnc_id"] = "2025/0318472V"
    second = _publish(session_factory, keyring, someone_else)
    assert second.subject_id != first.subject_id  # same name and date of birth: still two people

    conflicting = _adult()
    conflicting["local_reference"] = "LD-OTHER-2"
    conflicting["subject"]["pnc_id"] = "2025/0318472V"  # first's NHS number, second's PNC ID
    with pytest.raises(store.StoreError):
        _publish(session_factory, keyring, conflicting)

    pnc_only = _adult()
    pnc_only["local_reference"] = "LD-OTHER-3"
    del pnc_only["subject"]["nhs_number"]  # NHS number unknown: matched on PNC ID
    assert _publish(session_factory, keyring, pnc_only).subject_id == first.subject_id
    with session_factory() as session:
        assert session.execute(text("SELECT count(*) FROM subjects")).scalar_one() == 2


def test_ciphertext_is_bound_to_its_row(session_factory, keyring, agencies, db_engine):
    a = _publish(session_factory, keyring, _adult())
    amended = _adult()
    amended["engagement"] = "changed"
    _publish(session_factory, keyring, amended)
    with db_engine.begin() as conn:  # move version 1's ciphertext into version 2
        blob = conn.execute(select(AssessmentVersion.ciphertext).where(AssessmentVersion.version == 1)).scalar_one()
        conn.execute(text("UPDATE assessment_versions SET ciphertext = :b WHERE version = 2"), {"b": blob})
    with session_factory() as session, pytest.raises(InvalidTag):
        store.load_current(session, keyring, a.assessment_id)


def test_erasing_the_subject_key_makes_content_unreadable(session_factory, keyring, agencies):
    published = _publish(session_factory, keyring, _adult())
    with session_factory.begin() as session:
        session.get(Subject, published.subject_id).wrapped_key = None
    with session_factory() as session:
        assert store.load_current(session, keyring, published.assessment_id) is None

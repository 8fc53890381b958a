"""Identity: NHS number, else PNC ID, else case reference; never name and date of birth; merge and unmerge."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from gateway.assessments import identity, store
from gateway.db.models import Agency, Assessment, AssessmentVersion, CaseLink, Subject, SubjectIdentifier
from gateway.keys import load_or_create_keyring
from tests.factories import add_agencies, example, publish

NOW = datetime(2026, 11, 26, 13, 0, tzinfo=UTC)


@pytest.fixture
def keyring(tmp_path):
    return load_or_create_keyring(tmp_path / "keys")


@pytest.fixture
def agencies(session_factory):
    add_agencies(session_factory)


def _person(ref, *, nhs=None, pnc=None, links=(("POL-NE", "01NE0012326"),), family="Hewitt"):
    doc = copy.deepcopy(example())
    doc["local_reference"] = ref
    subject = doc["subject"]
    for key in ("nhs_number", "pnc_id", "cro_number", "crn"):
        subject.pop(key, None)
    if nhs:
        subject["nhs_number"] = nhs
    if pnc:
        subject["pnc_id"] = pnc
    subject["names"][0]["family"] = family
    doc["case_links"] = [{"agency_code": a, "case_reference": r} for a, r in links]
    return doc


def _snapshot(session_factory):
    with session_factory() as session:
        return {
            model.__tablename__: sorted(
                tuple(str(getattr(row, c.key)) for c in model.__table__.columns)
                for row in session.execute(select(model)).scalars()
            )
            for model in (Subject, SubjectIdentifier, Assessment, AssessmentVersion, CaseLink)
        }


def test_never_matched_on_name_and_date_of_birth(session_factory, keyring, agencies):
    a = publish(session_factory, keyring, _person("R-1", pnc="2019/0123456E", links=(("POL-NE", "A1"),)))
    b = publish(session_factory, keyring, _person("R-2", pnc="2021/0000077C", links=(("POL-NE", "B1"),)))
    assert a.subject_id != b.subject_id


def test_a_case_reference_matches_when_nothing_contradicts_it(session_factory, keyring, agencies):
    # Known by PNC ID only; a later contact brings an NHS number and the same police case.
    first = publish(session_factory, keyring, _person("R-1", pnc="2019/0123456E"))
    later = publish(session_factory, keyring, _person("R-2", nhs="9990000018"))
    assert later.subject_id == first.subject_id
    with session_factory() as session:
        assert store.find_subject_id(session, keyring, store.NHS_NUMBER, "9990000018") == first.subject_id


def test_a_case_reference_does_not_match_a_person_with_another_identifier_of_the_same_kind(
    session_factory, keyring, agencies
):
    # Co-defendants share a police case: a different PNC ID on the same case is another person.
    first = publish(session_factory, keyring, _person("R-1", pnc="2019/0123456E"))
    other = publish(session_factory, keyring, _person("R-2", pnc="2021/0000077C"))
    assert other.subject_id != first.subject_id


def test_an_ambiguous_case_reference_matches_nobody(session_factory, keyring, agencies):
    a = publish(session_factory, keyring, _person("R-1", pnc="2019/0123456E"))
    b = publish(session_factory, keyring, _person("R-2", pnc="2021/0000077C"))
    c = publish(session_factory, keyring, _person("R-3", nhs="9990000018"))
    assert c.subject_id not in (a.subject_id, b.subject_id)


def test_merge_then_unmerge_restores_the_prior_state_exactly(session_factory, keyring, agencies):
    one = publish(session_factory, keyring, _person("R-1", pnc="2019/0123456E", links=(("PROB-NE", "X1"),)))
    two = publish(session_factory, keyring, _person("R-2", nhs="9990000018", links=(("POL-NE", "P2"),)))
    assert one.subject_id != two.subject_id
    before = _snapshot(session_factory)
    with session_factory.begin() as session:
        identity.merge(session, keep=two.subject_id, absorb=one.subject_id, by="admin", reference="T-1", now=NOW)
    with session_factory() as session:
        probation = session.execute(select(Agency.id).where(Agency.code == "PROB-NE")).scalar_one()
        assert store.find_subject_id(session, keyring, store.PNC_ID, "2019/0123456E") == two.subject_id
        assert set(store.assessment_ids_for_subject(session, two.subject_id)) == {one.assessment_id, two.assessment_id}
        assert store.has_case_link(session, two.subject_id, probation)
        assert store.subject_of_assessment(session, one.assessment_id) == two.subject_id
        assert store.load_current(session, keyring, one.assessment_id) is not None  # still under its own key
    with session_factory.begin() as session:
        identity.unmerge(session, subject_id=one.subject_id, by="admin", now=NOW)
    assert _snapshot(session_factory) == before
    with session_factory() as session:
        assert store.find_subject_id(session, keyring, store.PNC_ID, "2019/0123456E") == one.subject_id
        assert store.assessment_ids_for_subject(session, two.subject_id) == [two.assessment_id]
        assert not store.has_case_link(session, two.subject_id, probation)


def test_republishing_an_absorbed_record_while_merged_is_a_new_version_of_it(session_factory, keyring, agencies):
    one = publish(session_factory, keyring, _person("R-1", pnc="2019/0123456E", links=(("PROB-NE", "X1"),)))
    two = publish(session_factory, keyring, _person("R-2", nhs="9990000018", links=(("POL-NE", "P2"),)))
    with session_factory.begin() as session:
        identity.merge(session, keep=two.subject_id, absorb=one.subject_id, by="admin", reference=None, now=NOW)
    amended = _person("R-1", pnc="2019/0123456E", links=(("PROB-NE", "X1"),))
    amended["engagement"] = "Attended."
    again = publish(session_factory, keyring, amended)
    assert (again.assessment_id, again.version) == (one.assessment_id, 2)
    with session_factory() as session:
        assert store.load_current(session, keyring, one.assessment_id).content["engagement"] == "Attended."
        assert session.get(Assessment, one.assessment_id).subject_id == one.subject_id


def test_merge_refusals(session_factory, keyring, agencies):
    a = publish(session_factory, keyring, _person("R-1", nhs="9990000018", links=(("POL-NE", "A1"),)))
    b = publish(session_factory, keyring, _person("R-2", nhs="9990000026", links=(("POL-NE", "B1"),)))
    c = publish(session_factory, keyring, _person("R-3", pnc="2019/0123456E", links=(("POL-NE", "C1"),)))
    with session_factory.begin() as session:
        with pytest.raises(identity.MergeError, match="NHS number"):
            identity.merge(session, keep=a.subject_id, absorb=b.subject_id, by="x", reference=None, now=NOW)
        with pytest.raises(identity.MergeError, match="itself"):
            identity.merge(session, keep=a.subject_id, absorb=a.subject_id, by="x", reference=None, now=NOW)
        with pytest.raises(identity.MergeError, match="no subject"):
            identity.merge(session, keep=a.subject_id, absorb="nobody", by="x", reference=None, now=NOW)
        identity.merge(session, keep=a.subject_id, absorb=c.subject_id, by="x", reference=None, now=NOW)
        with pytest.raises(identity.MergeError, match="already merged"):
            identity.merge(session, keep=b.subject_id, absorb=c.subject_id, by="x", reference=None, now=NOW)
        with pytest.raises(identity.MergeError, match="not merged"):
            identity.unmerge(session, subject_id=a.subject_id, by="x", now=NOW)


def _statements_to_publish(session_factory, keyring, document):
    from sqlalchemy import event

    engine = session_factory.kw["bind"]
    seen = []

    def count(*_args):
        seen.append(1)

    event.listen(engine, "before_cursor_execute", count)
    try:
        publish(session_factory, keyring, document)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(seen)


def test_case_reference_matching_costs_the_same_however_many_people_share_the_reference(
    session_factory, keyring, agencies
):
    """Co-defendants share case URNs: the candidates are read in a fixed number of statements, not one per person."""
    shared = (("POL-NE", "01NE0099999"), ("MC-NE", "3010000001"))
    nhs = ["9990000018", "9990000026", "9990000034", "9990000042", "9990000050", "9990000069", "9990000077"]
    counts = []
    for i, number in enumerate(nhs):
        counts.append(_statements_to_publish(session_factory, keyring, _person(f"S-{i}", nhs=number, links=shared)))
    # The first publish finds no candidate; from the second on, one to six earlier people share the references.
    assert len(set(counts[1:])) == 1, counts


def test_resolve_many_agrees_with_resolve_through_chains_of_merges(session_factory, keyring, agencies):
    people = [
        publish(session_factory, keyring, _person(f"M-{i}", nhs=n, links=(("POL-NE", f"M{i}"),)))
        for i, n in enumerate(["9990000018", "9990000026"])
    ] + [
        publish(session_factory, keyring, _person(f"M-{i}", pnc=p, links=(("POL-NE", f"M{i}"),)))
        for i, p in enumerate(["2019/0123456E", "2021/0000077C"], start=2)
    ]
    ids = [p.subject_id for p in people]
    with session_factory.begin() as session:
        # 3 into 2, 2 into 0: a chain two deep beside an unmerged subject (1).
        identity.merge(session, keep=ids[2], absorb=ids[3], by="admin", reference=None, now=NOW)
        identity.merge(session, keep=ids[0], absorb=ids[2], by="admin", reference=None, now=NOW)
    with session_factory() as session:
        assert identity.resolve_many(session, ids) == {sid: identity.resolve(session, sid) for sid in ids}
        assert identity.resolve_many(session, ids)[ids[3]] == ids[0]
        groups = identity.group_many(session, [ids[0], ids[1]])
        assert {k: sorted(v) for k, v in groups.items()} == {
            ids[0]: sorted(identity.group(session, ids[0])),
            ids[1]: [ids[1]],
        }


def test_group_members_subquery_is_the_group(session_factory, keyring, agencies):
    ids = [
        publish(session_factory, keyring, _person(f"G-{i}", pnc=p, links=(("POL-NE", f"G{i}"),))).subject_id
        for i, p in enumerate(["2019/0123456E", "2021/0000077C", "2020/0000009N"])
    ]
    with session_factory.begin() as session:
        identity.merge(session, keep=ids[1], absorb=ids[2], by="admin", reference=None, now=NOW)
        identity.merge(session, keep=ids[0], absorb=ids[1], by="admin", reference=None, now=NOW)
    with session_factory() as session:
        for root in ids:
            found = set(session.execute(identity.group_members(root)).scalars())
            assert found == set(identity.group(session, root))
        assert set(session.execute(identity.group_members(ids[0])).scalars()) == set(ids)

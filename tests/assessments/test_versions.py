"""Versions: an identical republish makes no version, a changed one does, and the history lists them."""

from __future__ import annotations

import copy

import pytest

from gateway.assessments import store
from gateway.keys import load_or_create_keyring
from tests.factories import add_agencies, example, publish


@pytest.fixture
def keyring(tmp_path):
    return load_or_create_keyring(tmp_path / "keys")


@pytest.fixture
def agencies(session_factory):
    add_agencies(session_factory)


def test_identical_republish_makes_no_new_version(session_factory, keyring, agencies):
    first = publish(session_factory, keyring, example())
    again = publish(session_factory, keyring, example())
    assert (again.assessment_id, again.version, again.created, again.changed) == (first.assessment_id, 1, False, False)
    with session_factory() as session:
        assert [v.version for v in store.version_history(session, first.assessment_id)] == [1]


def test_changed_republish_makes_a_new_version_and_history_keeps_both(session_factory, keyring, agencies):
    original = example()
    first = publish(session_factory, keyring, original)
    amended = copy.deepcopy(original)
    amended["risk"]["assessment"]["to_self"] = "high"
    second = publish(session_factory, keyring, amended)
    assert (second.version, second.changed) == (2, True)
    # Going back to the first content is a change too (a third version), not a no-op.
    third = publish(session_factory, keyring, original)
    assert (third.version, third.changed) == (3, True)
    with session_factory() as session:
        history = store.version_history(session, first.assessment_id)
        assert [v.version for v in history] == [1, 2, 3]
        assert history[0].content_digest == history[2].content_digest != history[1].content_digest
        assert not any(v.erased for v in history)
        assert store.load_version(session, keyring, first.assessment_id, 2) == amended
        assert store.load_version(session, keyring, first.assessment_id, 1) == original
        assert store.load_current(session, keyring, first.assessment_id).version == 3
        assert store.version_history(session, "no-such-id") == []

"""``Gateway.set_up_once`` keeps a layer of rows to put back in later tests: it must never put it back
over a database written to since the fixture's set-up (the test's own write would be lost), nor keep a
layer that holds an earlier write (it would leak into every later test). A row count missed updates.

The tests run in file order (``--dist loadfile`` keeps a file on one worker): each odd test makes the
session's first use of a name, the even one after it a later use."""

from __future__ import annotations

from sqlalchemy import select, update

from gateway.db.models import Agency
from tests.court_requests.conftest import other_person
from tests.factories import publish


def _publish_other(gateway):
    return lambda: publish(gateway.sessions, gateway.keyring, other_person())


def _agency_name(gateway, code: str) -> str:
    with gateway.sessions() as session:
        return session.execute(select(Agency.name).where(Agency.code == code)).scalar_one()


def test_the_first_use_of_a_name_keeps_its_layer(gateway):
    published = gateway.set_up_once("kept-then-updated", _publish_other(gateway))
    assert published.assessment_id


def test_a_later_use_after_an_update_keeps_the_update(gateway):
    with gateway.sessions.begin() as session:
        session.execute(update(Agency).where(Agency.code == "POL-NE").values(name="Renamed by this test"))
    gateway.set_up_once("kept-then-updated", _publish_other(gateway))
    assert _agency_name(gateway, "POL-NE") == "Renamed by this test", "the kept layer was put back over a write"


def test_a_first_use_after_an_update(gateway):
    with gateway.sessions.begin() as session:
        session.execute(update(Agency).where(Agency.code == "MC-NE").values(name="Renamed by an earlier test"))
    gateway.set_up_once("updated-then-kept", _publish_other(gateway))
    assert _agency_name(gateway, "MC-NE") == "Renamed by an earlier test"


def test_a_later_test_does_not_inherit_an_earlier_tests_update(gateway):
    gateway.set_up_once("updated-then-kept", _publish_other(gateway))
    assert _agency_name(gateway, "MC-NE") != "Renamed by an earlier test", "an earlier test's write leaked"

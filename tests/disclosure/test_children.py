"""Children through the real hot path: age is judged on the day of the disclosure.

A 17-year-old is assessed in custody; the YOT and the youth court pull the record while the person is
a child. From the 18th birthday (the day as it is in England) the same record goes to probation, never
to the YOT, and youth rehabilitation order requirements are no longer shared.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from gateway.assessments.catalogue import load_catalogue
from gateway.assessments.identifiers import NHS_NUMBER_SYSTEM
from gateway.auth.rfc9068 import AccessContext
from gateway.db.models import DisclosureLogEntry
from gateway.disclosure.service import DisclosureService
from gateway.keys import load_or_create_keyring
from gateway.policy import EmbeddedRegoEngine
from tests.conftest import ROOT
from tests.factories import add_agencies, example, publish

CATALOGUE = load_catalogue(ROOT / "schemas" / "field-catalogue.json")
BIRTHDAY_18 = datetime(2027, 7, 1, tzinfo=UTC).date()
# 23:30 UTC on 30 June is 00:30 on 1 July in England (BST): already the 18th birthday there.
LAST_CHILD_INSTANT = datetime(2027, 6, 30, 22, 30, tzinfo=UTC)
FIRST_ADULT_INSTANT = datetime(2027, 6, 30, 23, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def rego():
    return EmbeddedRegoEngine(ROOT / "policies", CATALOGUE.ids)


@pytest.fixture
def seventeen(session_factory, tmp_path):
    keyring = load_or_create_keyring(tmp_path / "keys")
    add_agencies(session_factory)
    document = copy.deepcopy(example("child.json"))
    document["subject"]["date_of_birth"] = "2009-07-01"  # 17 when assessed on 2026-11-21
    document["consent"]["limited_to_agencies"] = []
    document["case_links"] += [
        {"agency_code": "PROB-NE", "case_reference": "X765432"},
        {"agency_code": "MC-NE", "case_reference": "3013999999"},
    ]
    publish(session_factory, keyring, document)
    return keyring, document


def pull(session_factory, keyring, rego, document, at, code, agency_type, purpose):
    service = DisclosureService(
        sessions=session_factory, keyring=keyring, engine=rego, catalogue=CATALOGUE, clock=lambda: at
    )
    ctx = AccessContext(f"client-{code}", code, agency_type, purpose, "jti", at + timedelta(minutes=5))
    return service.search(ctx, NHS_NUMBER_SYSTEM, document["subject"]["nhs_number"], "http://gateway/fhir/Bundle")


def last_entry(session_factory) -> dict:
    with session_factory() as session:
        row = session.query(DisclosureLogEntry).order_by(DisclosureLogEntry.seq.desc()).first()
        return json.loads(row.entry)


def test_a_seventeen_year_old_assessed_then_pulled_after_the_eighteenth_birthday(seventeen, session_factory, rego):
    keyring, document = seventeen
    args = (session_factory, keyring, rego, document)
    assert FIRST_ADULT_INSTANT.astimezone(ZoneInfo("Europe/London")).date() == BIRTHDAY_18

    # While a child: the YOT and the youth court, never probation; youth requirements; very restricted.
    yot = pull(*args, LAST_CHILD_INSTANT, "YOT-NE", "yot", "sentencing")
    assert yot.status == 200
    assert "youth-requirement-suitability" in yot.body.decode()
    assert '"code":"V"' in yot.body.decode()
    assert pull(*args, LAST_CHILD_INSTANT, "PROB-NE", "probation", "sentencing").status == 403
    assert last_entry(session_factory)["reason"] == "child-subject-yot-not-probation"
    court = pull(*args, LAST_CHILD_INSTANT, "MC-NE", "court", "case-management").body.decode()
    assert "Appropriate adult required" in court  # the youth court learns of the appropriate adult

    # From the 18th birthday in England: probation, never the YOT; no youth requirements; restricted.
    assert pull(*args, FIRST_ADULT_INSTANT, "YOT-NE", "yot", "sentencing").status == 403
    assert last_entry(session_factory)["reason"] == "adult-subject-not-yot"
    probation = pull(*args, FIRST_ADULT_INSTANT, "PROB-NE", "probation", "sentencing")
    assert probation.status == 200
    assert '"code":"R"' in probation.body.decode() and '"code":"V"' not in probation.body.decode()
    court = pull(*args, FIRST_ADULT_INSTANT, "MC-NE", "court", "sentencing")
    assert court.status == 200
    assert "youth-requirement-suitability" not in court.body.decode()
    withheld = {w["field"]: w["rule"] for w in last_entry(session_factory)["withheld"]}
    assert withheld["treatment.youth_requirements"] == "youth-requirements-children-only"
    adult_case_management = pull(*args, FIRST_ADULT_INSTANT, "MC-NE", "court", "case-management").body.decode()
    assert "Appropriate adult required" not in adult_case_management

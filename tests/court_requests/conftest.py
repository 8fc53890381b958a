"""The whole-gateway fixture of the review suite, plus a second person the court has no case with."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest

from gateway.court_requests.codes import (
    ASSESSMENT_INFORMATION_REQUEST,
    COURT_CASE_URN,
    REQUEST_TYPE_SYSTEM,
    TASK_INPUT_SYSTEM,
)
from gateway.fhir.terminology import NHS_NUMBER_SYSTEM, PNC_ID_SYSTEM
from tests.factories import NOW, example, publish

OTHER_NHS = "9000000009"
OTHER_PNC = "2021/1234567P"
URN = "01NE0077726"


def other_person() -> dict[str, Any]:
    """An adult assessment about someone else, linked to the police only."""
    document = copy.deepcopy(example("adult.json"))
    document["local_reference"] = "LD-NE-2026-000999"
    document["subject"]["nhs_number"] = OTHER_NHS
    document["subject"]["pnc_id"] = OTHER_PNC
    document["subject"].pop("cro_number", None)
    document["subject"].pop("crn", None)
    document["case_links"] = [{"agency_code": "POL-NE", "case_reference": "01NE0099926"}]
    return document


@pytest.fixture
def other(gateway):
    """:func:`other_person` published (once per session and database kind, then put back)."""
    return gateway.set_up_once("other", lambda: publish(gateway.sessions, gateway.keyring, other_person()))


def task_body(*, nhs: str | None = OTHER_NHS, hearing=None, **overrides: Any) -> dict[str, Any]:
    from datetime import UTC, datetime

    hearing = hearing or (datetime.now(UTC) + timedelta(hours=3))
    body: dict[str, Any] = {
        "resourceType": "Task",
        "status": "requested",
        "intent": "order",
        "priority": "urgent",
        "code": {"coding": [{"system": REQUEST_TYPE_SYSTEM, "code": ASSESSMENT_INFORMATION_REQUEST}]},
        "for": {"identifier": {"system": NHS_NUMBER_SYSTEM, "value": nhs}},
        "input": [{"type": {"coding": [{"system": TASK_INPUT_SYSTEM, "code": COURT_CASE_URN}]}, "valueString": URN}],
        "restriction": {"period": {"end": hearing.isoformat()}},
        "note": [{"text": "Listed for first appearance this afternoon."}],
    }
    body.update(overrides)
    return body


def by_pnc(pnc: str = OTHER_PNC, family: str = "Hewitt", born: str = "1992-03-14") -> dict[str, Any]:
    return {
        "contained": [
            {
                "resourceType": "Patient",
                "id": "subject",
                "identifier": [{"system": PNC_ID_SYSTEM, "value": pnc}],
                "name": [{"family": family, "given": ["Daniel"]}],
                "birthDate": born,
            }
        ],
        "for": {"reference": "#subject"},
    }


__all__ = ["NOW", "OTHER_NHS", "OTHER_PNC", "URN", "by_pnc", "other_person", "task_body"]

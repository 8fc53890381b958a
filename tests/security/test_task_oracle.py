"""``POST /fhir/Task`` is no identity oracle: identifiers that do not all point to one person whose name and
date of birth agree answer byte for byte as a person nobody knows.

The review gateway has the adult (NHS 9449305552, PNC 2020/0000009N, Hewitt, 1992-03-14) and, from the
requests suite, another person (NHS 9000000009, PNC 2021/1234567P, also Hewitt 1992-03-14). A court asks
about each wrong combination; every answer must equal the unknown person's (status, body, header names),
nothing is created, and only the log says why. Whole app over HTTP, SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import func, select

from gateway.db.models import DisclosureLogEntry, RequestTask
from gateway.fhir.terminology import NHS_NUMBER_SYSTEM, PNC_ID_SYSTEM
from tests.court_requests.conftest import OTHER_NHS, OTHER_PNC, other, task_body  # noqa: F401  (fixture)

ADULT_NHS, ADULT_PNC = "9449305552", "2020/0000009N"
UNKNOWN_NHS, UNKNOWN_PNC = "9434765919", "2019/0000001P"
RIGHT = ("Hewitt", "1992-03-14")


def patient(identifiers: list[tuple[str, str]], family: str | None = RIGHT[0], born: str | None = RIGHT[1]) -> dict:
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": "subject",
        "identifier": [{"system": s, "value": v} for s, v in identifiers],
    }
    if family:
        resource["name"] = [{"family": family, "given": ["Daniel"]}]
    if born:
        resource["birthDate"] = born
    return task_body(contained=[resource], **{"for": {"reference": "#subject"}})


def nhs(value: str) -> tuple[str, str]:
    return (NHS_NUMBER_SYSTEM, value)


def pnc(value: str) -> tuple[str, str]:
    return (PNC_ID_SYSTEM, value)


ORACLE_CASES = {
    "unknown NHS number beside a known PNC ID": patient([nhs(UNKNOWN_NHS), pnc(ADULT_PNC)]),
    "known NHS number beside an unknown PNC ID": patient([nhs(ADULT_NHS), pnc(UNKNOWN_PNC)]),
    "NHS number and PNC ID of two people": patient([nhs(ADULT_NHS), pnc(OTHER_PNC)]),
    "the other pair of two people": patient([nhs(OTHER_NHS), pnc(ADULT_PNC)]),
    "known PNC ID, wrong date of birth": patient([pnc(ADULT_PNC)], born="1992-03-15"),
    "known PNC ID, wrong family name": patient([pnc(ADULT_PNC)], family="Smith"),
    "known PNC ID unpadded, wrong date of birth": patient([pnc("2020/9N")], born="1990-01-01"),
    "known NHS number and PNC ID, wrong date of birth": patient([nhs(ADULT_NHS), pnc(ADULT_PNC)], born="2001-01-01"),
    "known NHS number, wrong family name": patient([nhs(ADULT_NHS)], family="Armstrong"),
    "known NHS number, wrong date of birth": patient([nhs(ADULT_NHS)], born="2011-02-17"),
}


def post(gw, body: Any):
    return gw.http.post("/fhir/Task", json=body, auth=gw.auth("MC-NE", "case-management"))


def tasks(gw) -> int:
    with gw.sessions() as session:
        return session.execute(select(func.count()).select_from(RequestTask)).scalar_one()


def last_reason(gw) -> str:
    with gw.sessions() as session:
        entry = session.execute(select(DisclosureLogEntry.entry).order_by(DisclosureLogEntry.seq.desc())).scalar()
    return str(json.loads(entry)["reason"])


@pytest.mark.parametrize("case", list(ORACLE_CASES))
def test_wrong_identity_answers_exactly_as_an_unknown_person(gateway, other, case):  # noqa: F811
    nobody = post(gateway, task_body(nhs=UNKNOWN_NHS))
    assert nobody.status_code == 422
    assert last_reason(gateway) == "unknown-subject"
    answer = post(gateway, ORACLE_CASES[case])
    assert (answer.status_code, answer.content) == (nobody.status_code, nobody.content), case
    assert set(answer.headers) == set(nobody.headers)
    assert answer.headers["X-Disclosure-Id"] != nobody.headers["X-Disclosure-Id"]
    assert tasks(gateway) == 0
    assert last_reason(gateway) in {"identifier-unknown", "ambiguous-subject", "subject-mismatch"}


@pytest.mark.parametrize(
    "body",
    [
        patient([nhs(ADULT_NHS), pnc(ADULT_PNC)]),
        patient([pnc("2020/9N")], family="HEWITT"),  # unpadded serial, name in another case
        patient([nhs(ADULT_NHS)], family="Hewson"),  # an alias on record
        task_body(nhs=ADULT_NHS),  # an NHS number alone (no name or date of birth given to check)
    ],
)
def test_identifiers_of_one_person_whose_details_agree_make_the_request(gateway, other, body):  # noqa: F811
    created = post(gateway, body)
    assert created.status_code == 201, created.text


def test_a_pnc_id_always_needs_name_and_date_of_birth(gateway, other):  # noqa: F811
    """Even beside a (right) NHS number: a PNC ID given without them is refused as incomplete, for anyone."""
    for identifiers in ([nhs(ADULT_NHS), pnc(ADULT_PNC)], [nhs(UNKNOWN_NHS), pnc(UNKNOWN_PNC)]):
        answer = post(gateway, patient(identifiers, family=None, born=None))
        assert answer.status_code == 422
        assert [i["code"] for i in answer.json()["issue"]] == ["required"]
    assert tasks(gateway) == 0

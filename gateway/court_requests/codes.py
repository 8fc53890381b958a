"""The request vocabulary: code systems, workflow states, who may ask.

There is no national code for "assessment information request", so the gateway defines one in a local
code system under the same ``.example`` base as its other local systems (see
:mod:`gateway.fhir.terminology`). A deployment that registers its own namespace changes ``LOCAL_BASE``.
"""

from __future__ import annotations

from enum import StrEnum

from gateway.auth.vocab import AgencyType
from gateway.fhir.terminology import AGENCY_CODE_SYSTEM, LOCAL_BASE, NHS_NUMBER_SYSTEM, PNC_ID_SYSTEM

REQUEST_TYPE_SYSTEM = f"{LOCAL_BASE}/CodeSystem/request-type"
ASSESSMENT_INFORMATION_REQUEST = "assessment-information-request"

TASK_INPUT_SYSTEM = f"{LOCAL_BASE}/CodeSystem/task-input"
COURT_CASE_URN = "court-case-urn"
TASK_OUTPUT_SYSTEM = f"{LOCAL_BASE}/CodeSystem/task-output"
ASSESSMENT_OUTPUT = "assessment"

#: R4 RequestPriority (required binding).
PRIORITIES = ("routine", "urgent", "asap", "stat")


class TaskStatus(StrEnum):
    """The subset of R4 TaskStatus this workflow uses."""

    REQUESTED = "requested"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    COMPLETED = "completed"


#: Which transitions the owning L&D service may make (requested → accepted → completed; reject either).
TRANSITIONS: dict[TaskStatus, frozenset[TaskStatus]] = {
    TaskStatus.REQUESTED: frozenset({TaskStatus.ACCEPTED, TaskStatus.REJECTED}),
    TaskStatus.ACCEPTED: frozenset({TaskStatus.COMPLETED, TaskStatus.REJECTED}),
    TaskStatus.REJECTED: frozenset(),
    TaskStatus.COMPLETED: frozenset(),
}

#: Who may ask (a documented allow-list, not policy data): the agencies that decide at case management
#: and sentencing, which is where DOMAIN.md puts a court's real-time need. Police and CPS get their
#: information at charging through case links the L&D service records in custody; health providers
#: are referred to, they do not request.
REQUESTER_TYPES: frozenset[AgencyType] = frozenset({AgencyType.COURT, AgencyType.PROBATION, AgencyType.YOT})

__all__ = [
    "AGENCY_CODE_SYSTEM",
    "ASSESSMENT_INFORMATION_REQUEST",
    "ASSESSMENT_OUTPUT",
    "COURT_CASE_URN",
    "NHS_NUMBER_SYSTEM",
    "PNC_ID_SYSTEM",
    "PRIORITIES",
    "REQUESTER_TYPES",
    "REQUEST_TYPE_SYSTEM",
    "TASK_INPUT_SYSTEM",
    "TASK_OUTPUT_SYSTEM",
    "TRANSITIONS",
    "TaskStatus",
]

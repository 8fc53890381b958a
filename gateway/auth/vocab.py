"""The closed vocabularies of the authorization server: agency types, purposes of use, scopes, client
assertion algorithms.

Which purposes an agency type may register (decided here, enforced at registration):

- an ``ld-service`` agency publishes and answers requests; its clients register the ``ld-service``
  purpose and nothing else;
- every other agency type reads; its clients may register any of the reading purposes, never
  ``ld-service``.

Finer pairings (a police force asking for ``sentencing``, say) are not refused here: the policy
decides which fields, if any, each agency type sees at each purpose, and an unplanned pairing
releases nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class AgencyType(StrEnum):
    POLICE = "police"
    CPS = "cps"
    COURT = "court"
    PROBATION = "probation"
    YOT = "yot"
    HEALTH = "health"
    LD_SERVICE = "ld-service"


class Purpose(StrEnum):
    CUSTODY = "custody"  # police: PACE custody and interview
    CHARGING = "charging"
    CASE_MANAGEMENT = "case-management"
    SENTENCING = "sentencing"
    HEALTH_REFERRAL = "health-referral"
    LD_SERVICE = "ld-service"


class Scope(StrEnum):
    """OAuth scopes (SMART v1 ``system/`` syntax for the FHIR API)."""

    BUNDLE_READ = "system/Bundle.read"
    TASK_READ = "system/Task.read"
    TASK_WRITE = "system/Task.write"
    ASSESSMENTS_WRITE = "assessments.write"
    AUDIT_READ = "audit.read"  # the disclosure log's queries (own view), subject reports, inclusion proofs
    # Writing to the log as an auditor (a clinician's sign-off of a subject access report): apart from
    # reading, so that a reporting tool's token narrowed to audit.read cannot add entries.
    AUDIT_WRITE = "audit.write"


READING_PURPOSES: frozenset[Purpose] = frozenset(p for p in Purpose if p is not Purpose.LD_SERVICE)

# A token carries exactly one purpose, and only the scopes that purpose allows. With no ``scope``
# parameter (RFC 6749 section 3.3), the token gets every scope of its purpose.
PURPOSE_SCOPES: dict[Purpose, frozenset[Scope]] = {
    **{p: frozenset({Scope.BUNDLE_READ, Scope.TASK_READ, Scope.TASK_WRITE}) for p in READING_PURPOSES},
    Purpose.LD_SERVICE: frozenset(
        {Scope.ASSESSMENTS_WRITE, Scope.TASK_READ, Scope.TASK_WRITE, Scope.AUDIT_READ, Scope.AUDIT_WRITE}
    ),
}


def allowed_purposes(agency_type: AgencyType) -> frozenset[Purpose]:
    """The purposes a client of this agency type may register."""
    if agency_type is AgencyType.LD_SERVICE:
        return frozenset({Purpose.LD_SERVICE})
    return READING_PURPOSES


def format_scope(scopes: Iterable[str]) -> str:
    """RFC 6749 section 3.3: space-delimited, here in a stable order."""
    return " ".join(sorted(set(scopes)))


#: Client assertion algorithms (RFC 7518 / RFC 8037 / RFC 9864). Never ``none``, never HMAC.
ASSERTION_ALGORITHMS: tuple[str, ...] = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "ES256",
    "ES384",
    "EdDSA",
    "Ed25519",
)

#: What a client may use unless registered otherwise: NHS England's signed-JWT list (issue 3). RS256 and
#: the RFC 9864 name "Ed25519" are supported but only for a client registered with them; "Ed25519"
#: is accepted wherever "EdDSA" is, as it names the same signature.
DEFAULT_ASSERTION_ALGORITHMS: tuple[str, ...] = ("RS512", "RS384", "PS256", "ES256", "ES384", "EdDSA")

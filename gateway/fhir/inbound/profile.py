"""The inbound document profile: which codes and systems carry which canonical value.

Most carriers are the ones the disclosure renderer writes (``gateway/fhir/document.py``, codes in
``gateway/fhir/terminology.py``). Values the renderer only says in narrative have structured carriers
here, because an inbound document is read from its entries alone: narrative is for people.
``docs/fhir-inbound.md`` is the same table for suppliers.
"""

from __future__ import annotations

from collections.abc import Mapping

from gateway.fhir import terminology as t

#: Composition.identifier system for the publishing service's own record reference (``local_reference``);
#: republishing the same reference makes a new version.
LOCAL_REFERENCE_SYSTEM = f"{t.LOCAL_BASE}/Id/local-reference"

#: Encounter.type: where the assessment took place (``context.setting``).
SETTING_SYSTEM = f"{t.LOCAL_BASE}/CodeSystem/assessment-setting"

#: UK Core's NHS number verification status: read and not used (the gateway checks the number itself).
NHS_VERIFICATION_EXTENSION = "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus"
ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"

#: Observation codes (local finding system) for values that have no element of their own in R4.
OBSERVATION_DISPLAY: dict[str, str] = {
    "appropriate-adult-required": t.FINDING_DISPLAY["appropriate-adult-required"],
    "communication-needs": t.FINDING_DISPLAY["communication-needs"],
    "communication-need": "Communication need",
    "intermediary-recommended": t.FINDING_DISPLAY["intermediary-recommended"],
    "safeguarding-concerns": t.FINDING_DISPLAY["safeguarding-concerns"],
    "capacity-to-consent": "Capacity to consent to sharing",
    "gillick-competent": "Gillick competent",
    "best-interests-decision": "Best-interests decision",
    "clinical-detail": "Clinical detail",
    "engagement-with-services": "Engagement with services",
    "third-party-information": "Third-party information",
}

#: Free-text Observations (``valueString``) and the canonical key each fills.
TEXT_OBSERVATIONS: dict[str, str] = {
    "clinical-detail": "clinical_detail",
    "engagement-with-services": "engagement",
    "third-party-information": "third_party_information",
}

#: Flags are alerts derived from the entries: each must agree with the value that raises it.
FLAG_FINDINGS = frozenset(
    {
        "appropriate-adult-required",
        "communication-needs",
        "intermediary-recommended",
        "risk-of-harm",
        "safeguarding-concerns",
    }
)

REQUIREMENTS: dict[str, tuple[str, Mapping[str, str]]] = {
    "treatment-requirement-suitability": ("treatment_requirements", t.TREATMENT_REQUIREMENT_LABEL),
    "youth-requirement-suitability": ("youth_requirements", t.YOUTH_REQUIREMENT_LABEL),
}


def reverse(mapping: Mapping[str, str]) -> dict[str, str]:
    """FHIR code -> canonical value (the first canonical value wins where two share a code)."""
    out: dict[str, str] = {}
    for key, value in mapping.items():
        out.setdefault(value, key)
    return out


NAME_USE = reverse(t.NAME_USE)
RISK_LEVEL = reverse(t.RISK_PROBABILITY)
DIAGNOSIS_STATUS = reverse(t.DIAGNOSIS_VER_STATUS)
#: ServiceRequest.status -> referral status, when the referral-status extension does not say it exactly.
REFERRAL_STATUS = {"active": "made", "completed": "attended", "revoked": "declined"}

"""Code systems, identifier systems and code maps used by the FHIR renderer.

One place for every URI the gateway writes into FHIR, so that the profile notes, the renderer and the
search routes agree. Two kinds:

* **HL7 / external** systems, used only for codes checked against the published value sets
  (v3-Confidentiality, v3-ActCode, LOINC, SNOMED CT, the FHIR core code systems).
* **Local** systems under :data:`LOCAL_BASE`. ``.example`` is a reserved top-level domain (RFC 2606),
  so these URIs can never collide with a real registry; they name concepts that have no national code
  (agency codes, PNC/CRO/CRN, L&D-specific findings). A deployment that registers its own namespace
  changes :data:`LOCAL_BASE` and nothing else.

Nothing here knows about assessments, the database or HTTP.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

# --- external systems ---------------------------------------------------------------------------

NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
ODS_ORGANISATION_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"
CONFIDENTIALITY_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
ACT_CODE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
LOINC_SYSTEM = "http://loinc.org"
SNOMED_SYSTEM = "http://snomed.info/sct"
URI_SYSTEM = "urn:ietf:rfc:3986"
FLAG_CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/flag-category"
CONDITION_VER_STATUS_SYSTEM = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
RISK_PROBABILITY_SYSTEM = "http://terminology.hl7.org/CodeSystem/risk-probability"
LIST_EMPTY_REASON_SYSTEM = "http://terminology.hl7.org/CodeSystem/list-empty-reason"
DATA_ABSENT_REASON_SYSTEM = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
CONSENT_SCOPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/consentscope"
PARTICIPATION_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
RESTFUL_SECURITY_SERVICE_SYSTEM = "http://terminology.hl7.org/CodeSystem/restful-security-service"
OAUTH_URIS_EXTENSION = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"
# R5 added Composition.version; this is the standard cross-version extension for using it in R4.
COMPOSITION_VERSION_EXTENSION = "http://hl7.org/fhir/5.0/StructureDefinition/extension-Composition.version"

# --- local systems ------------------------------------------------------------------------------

LOCAL_BASE = "https://ld-gateway.example/fhir"

AGENCY_CODE_SYSTEM = f"{LOCAL_BASE}/Id/agency-code"  # our agency codes are local, not ODS codes
PNC_ID_SYSTEM = f"{LOCAL_BASE}/Id/pnc-id"
CRO_NUMBER_SYSTEM = f"{LOCAL_BASE}/Id/cro-number"
CRN_SYSTEM = f"{LOCAL_BASE}/Id/ndelius-crn"
ASSESSMENT_ID_SYSTEM = f"{LOCAL_BASE}/Id/assessment"
# One version of an assessment ("<assessment id>/<version>"): what a later version's document replaces.
ASSESSMENT_VERSION_SYSTEM = f"{LOCAL_BASE}/Id/assessment-version"
CASE_REFERENCE_SYSTEM_PREFIX = f"{LOCAL_BASE}/Id/case-reference/"

SECTION_SYSTEM = f"{LOCAL_BASE}/CodeSystem/section"
FINDING_SYSTEM = f"{LOCAL_BASE}/CodeSystem/finding"
INTERVIEW_FITNESS_SYSTEM = f"{LOCAL_BASE}/CodeSystem/interview-fitness"
APPROPRIATE_ADULT_REASON_SYSTEM = f"{LOCAL_BASE}/CodeSystem/appropriate-adult-reason"
INTERVIEW_FITNESS_REASON_SYSTEM = f"{LOCAL_BASE}/CodeSystem/interview-fitness-reason"
PLEAD_REASON_SYSTEM = f"{LOCAL_BASE}/CodeSystem/fitness-to-plead-reason"
DIVERSION_OPTION_SYSTEM = f"{LOCAL_BASE}/CodeSystem/diversion-option"
REFERRAL_NEED_SYSTEM = f"{LOCAL_BASE}/CodeSystem/referral-need"
REFERRAL_STATUS_SYSTEM = f"{LOCAL_BASE}/CodeSystem/referral-status"
CONSENT_STATUS_SYSTEM = f"{LOCAL_BASE}/CodeSystem/consent-status"
PURPOSE_OF_USE_SYSTEM = f"{LOCAL_BASE}/CodeSystem/purpose-of-use"
AGENCY_TYPE_SYSTEM = f"{LOCAL_BASE}/CodeSystem/agency-type"
LOCAL_SENSITIVITY_SYSTEM = f"{LOCAL_BASE}/CodeSystem/sensitivity"

DISCLOSURE_EXTENSION = f"{LOCAL_BASE}/StructureDefinition/disclosure"
CONSENT_STATUS_EXTENSION = f"{LOCAL_BASE}/StructureDefinition/consent-status"
REFERRAL_STATUS_EXTENSION = f"{LOCAL_BASE}/StructureDefinition/referral-status"

#: The FHIR identifier system for each identity field that becomes a Patient identifier. The search
#: route (``patient.identifier=SYSTEM|VALUE``) uses the same systems.
IDENTIFIER_SYSTEMS: dict[str, str] = {
    "identity.nhs_number": NHS_NUMBER_SYSTEM,
    "identity.pnc_id": PNC_ID_SYSTEM,
    "identity.cro_number": CRO_NUMBER_SYSTEM,
    "identity.crn": CRN_SYSTEM,
}


def case_reference_system(agency_code: str) -> str:
    """The identifier system of one agency's case references (one system per agency)."""
    return CASE_REFERENCE_SYSTEM_PREFIX + quote(agency_code, safe="")


# --- security labels ----------------------------------------------------------------------------

CONFIDENTIALITY_DISPLAY = {
    "U": "unrestricted",
    "L": "low",
    "M": "moderate",
    "N": "normal",
    "R": "restricted",
    "V": "very restricted",
}
CONFIDENTIALITY_ORDER = ("U", "L", "M", "N", "R", "V")

#: v3-ActCode displays for the obligation/refrain codes the policy may attach (checked against
#: the THO ActCode value sets). An ActCode not listed here is still written, without a display.
ACT_CODE_DISPLAY = {
    "NORDSCLCD": "no redisclosure without consent directive",
    "NORDSCLCDS": "no redisclosure without information subject's consent directive",
    "NOPERSISTP": "no collection beyond purpose of use",
    "NOREUSE": "no reuse beyond purpose of use",
    "NOAUTH": "no disclosure without subject authorization",
    "REDACT": "redact",
    "DELAU": "delete after use",
    "ENCRYPT": "encrypt",
}

#: Sensitivity labels carried by catalogue fields, and how each is coded. PSY and ETH are
#: v3-ActCode ActInformationSensitivityPolicy codes. The catalogue's SOC ("social services") has
#: no v3-ActCode concept (the ActPolicyType expansion has none), so it is written in the local
#: sensitivity system rather than under an HL7 system where it would be an invalid code.
SENSITIVITY_CODINGS: dict[str, dict[str, str]] = {
    "PSY": {"system": ACT_CODE_SYSTEM, "code": "PSY", "display": "psychiatry disorder information sensitivity"},
    "ETH": {"system": ACT_CODE_SYSTEM, "code": "ETH", "display": "substance abuse information sensitivity"},
    "BH": {"system": ACT_CODE_SYSTEM, "code": "BH", "display": "behavioral health information sensitivity"},
    "SUD": {"system": ACT_CODE_SYSTEM, "code": "SUD", "display": "substance use disorder information sensitivity"},
    "SDV": {
        "system": ACT_CODE_SYSTEM,
        "code": "SDV",
        "display": "sexual assault, abuse, or domestic violence information sensitivity",
    },
    "HIV": {"system": ACT_CODE_SYSTEM, "code": "HIV", "display": "HIV/AIDS information sensitivity"},
    "SOC": {"system": LOCAL_SENSITIVITY_SYSTEM, "code": "SOC", "display": "social services information sensitivity"},
}


#: v3-ActCode ADOL, an InformationSensitivityPolicy code ("information related to an adolescent, which
#: will be afforded heightened confidentiality"): every document about a person under 18 on the day of
#: disclosure carries it, whatever fields were released.
ADOLESCENT_CODING: dict[str, str] = {
    "system": ACT_CODE_SYSTEM,
    "code": "ADOL",
    "display": "adolescent information sensitivity",
}


def sensitivity_coding(label: str) -> dict[str, Any]:
    """The Coding for a catalogue sensitivity label; an unknown label is an error (fail closed)."""
    try:
        return dict(SENSITIVITY_CODINGS[label])
    except KeyError:
        raise ValueError(f"unknown sensitivity label {label!r}: add it to SENSITIVITY_CODINGS") from None


def obligation_coding(obligation: str) -> dict[str, Any]:
    """The Coding for a policy obligation string such as ``confidentiality:R`` or ``refrain:NORDSCLCD``.

    Prefixes: ``confidentiality`` (v3-Confidentiality), ``refrain`` and ``obligation`` (v3-ActCode
    RefrainPolicy / SecurityControlObligation). Anything else raises ``ValueError``: an obligation we
    cannot express must stop the disclosure rather than be dropped.
    """
    prefix, sep, code = obligation.partition(":")
    if not sep or not code or code != code.strip() or " " in code:
        raise ValueError(f"malformed obligation {obligation!r}")
    if prefix == "confidentiality":
        if code not in CONFIDENTIALITY_DISPLAY:
            raise ValueError(f"unknown confidentiality code in obligation {obligation!r}")
        return {"system": CONFIDENTIALITY_SYSTEM, "code": code, "display": CONFIDENTIALITY_DISPLAY[code]}
    if prefix in ("refrain", "obligation"):
        coding = {"system": ACT_CODE_SYSTEM, "code": code}
        if code in ACT_CODE_DISPLAY:
            coding["display"] = ACT_CODE_DISPLAY[code]
        return coding
    raise ValueError(f"unknown obligation kind in {obligation!r}")


# --- document and section codes -----------------------------------------------------------------

#: Composition.type. LOINC 11488-4 "Consult note": a note generated on request for an opinion or
#: advice; an L&D assessment summary is the service's opinion given at the request of police,
#: courts and probation. The text names the document precisely.
DOCUMENT_TYPE = {
    "coding": [{"system": LOINC_SYSTEM, "code": "11488-4", "display": "Consult note"}],
    "text": "Liaison and Diversion assessment summary",
}
DOCUMENT_TITLE = "Liaison and Diversion assessment summary"

# --- value maps (canonical value -> FHIR) -------------------------------------------------------

NAME_USE = {"official": "official", "usual": "usual", "alias": "nickname"}

#: Consent.status: a refusal is an active directive that denies (see ``_consent.py``).
CONSENT_STATE = {"given": "active", "declined": "active", "withdrawn": "active", "not-possible": "inactive"}
CONSENT_PROVISION = {"given": "permit", "declined": "deny", "withdrawn": "deny"}
CONSENT_LABEL = {
    "given": "Consent given",
    "declined": "Consent declined",
    "withdrawn": "Consent withdrawn",
    "not-possible": "Consent not possible (lacks capacity)",
}

DIAGNOSIS_VER_STATUS = {"confirmed": "confirmed", "provisional": "provisional", "reported": "unconfirmed"}
DIAGNOSIS_VER_DISPLAY = {"confirmed": "Confirmed", "provisional": "Provisional", "unconfirmed": "Unconfirmed"}
DIAGNOSIS_LABEL = {"confirmed": "confirmed", "provisional": "provisional", "reported": "reported"}

REFERRAL_REQUEST_STATUS = {"made": "active", "accepted": "active", "attended": "completed", "declined": "revoked"}
REFERRAL_STATUS_LABEL = {"made": "Made", "accepted": "Accepted", "attended": "Attended", "declined": "Declined"}

RISK_PROBABILITY = {"low": "low", "medium": "moderate", "high": "high"}
RISK_LABEL = {"low": "Low", "medium": "Medium", "high": "High"}

INTERVIEW_FITNESS_LABEL = {
    "fit": "Fit to be interviewed",
    "fit-with-support": "Fit to be interviewed with support",
    "unfit": "Not fit to be interviewed",
    "not-assessed": "Not assessed",
}

SETTING_LABEL = {
    "police-custody": "Police custody",
    "voluntary-attendance": "Voluntary attendance",
    "magistrates-court": "Magistrates' court",
    "crown-court": "Crown Court",
    "youth-court": "Youth court",
    "probation": "Probation",
    "yot": "Youth offending team",
    "community": "Community",
}

DIVERSION_OPTION_LABEL = {
    "outcome-22": "Outcome 22 (deferred prosecution)",
    "conditional-caution": "Conditional caution",
    "simple-caution": "Simple caution",
    "youth-caution": "Youth caution",
    "youth-conditional-caution": "Youth conditional caution",
    "community-resolution": "Community resolution",
}

TREATMENT_REQUIREMENT_LABEL = {
    "mhtr": "Mental health treatment requirement (MHTR)",
    "drr": "Drug rehabilitation requirement (DRR)",
    "atr": "Alcohol treatment requirement (ATR)",
}

YOUTH_REQUIREMENT_LABEL = {
    "mental_health_treatment": "Mental health treatment requirement (youth rehabilitation order)",
    "drug_treatment": "Drug treatment requirement (youth rehabilitation order)",
    "drug_testing": "Drug testing requirement (youth rehabilitation order)",
    "intoxicating_substance_treatment": "Intoxicating substance treatment requirement (youth rehabilitation order)",
}

#: Reasons as codes, so that police and courts learn what the person needs without a diagnosis.
APPROPRIATE_ADULT_REASON_LABEL = {  # PACE Code C 1.5 (juvenile) and 1.13(d) (vulnerable)
    "juvenile": "Under 18",
    "difficulty-understanding": "May have difficulty understanding the implications of what is happening",
    "difficulty-communicating": "May have difficulty communicating effectively",
    "suggestible-or-compliant": "May be suggestible, or compliant when it is against their interests",
    "may-not-understand-significance": "May not understand the significance of what is said or asked",
}
INTERVIEW_FITNESS_REASON_LABEL = {  # PACE Code C Annex G
    "risk-of-harm-to-health": "Interviewing now could significantly harm the person's health",
    "answers-may-be-unreliable": "What the person says in interview may be unreliable",
    "needs-breaks": "Needs regular breaks",
    "needs-simple-language": "Needs short questions in simple language",
    "needs-appropriate-adult": "Needs an appropriate adult present",
    "needs-healthcare-review": "Needs review by the custody healthcare professional before interview",
}
PLEAD_REASON_LABEL = {  # R v Pritchard (1836) as restated in R v M (John) [2003]; effective participation
    "understand-charges": "Understanding the charges",
    "decide-plea": "Deciding whether to plead guilty",
    "instruct-lawyers": "Instructing lawyers",
    "follow-proceedings": "Following the proceedings",
    "give-evidence": "Giving evidence",
    "challenge-jurors": "Challenging jurors",
}

REFERRAL_NEED_LABEL = {
    "mental-health": "Mental health",
    "learning-disability": "Learning disability",
    "autism": "Autism",
    "substance-misuse": "Substance misuse",
    "alcohol": "Alcohol",
    "physical-health": "Physical health",
    "social-care": "Social care",
    "housing": "Housing",
    "communication": "Communication",
}

DATA_ABSENT_DISPLAY = {"unknown": "Unknown", "not-applicable": "Not Applicable"}

#: UK Core (HL7 UK / NHS England, R4) profiles the rendered resources conform to, by resource type;
#: a type not listed has no UK Core profile or cannot conform (docs/fhir-profiles.md says which and why).
UKCORE_PROFILE: dict[str, str] = {
    name: f"https://fhir.hl7.org.uk/StructureDefinition/UKCore-{name}"
    for name in ("Patient", "Organization", "Observation", "Flag", "Condition", "ServiceRequest", "Consent")
}

FLAG_CATEGORY_DISPLAY = {"contact": "Subject Contact", "safety": "Safety"}

FINDING_DISPLAY: dict[str, str] = {
    "appropriate-adult-required": "Appropriate adult required (PACE Code C)",
    "communication-needs": "Communication needs",
    "intermediary-recommended": "Intermediary recommended",
    "risk-of-harm": "Risk of harm to self or others",
    "safeguarding-concerns": "Safeguarding concerns",
    "fitness-to-interview": "Fitness to be interviewed",
    "fitness-to-plead-concerns": "Concerns about fitness to plead",
    "diversion-suitability": "Suitability for diversion",
    "diversion-option": "Diversion option",
    "reason": "Reason",
    "treatment-requirement-suitability": "Community sentence treatment requirement suitability",
    "youth-requirement-suitability": "Youth rehabilitation order requirement suitability",
    "vulnerability-assessment": "Liaison and Diversion vulnerability assessment",
    "referral": "Referral",
    "harm-to-self": "Harm to self",
    "harm-to-others": "Harm to others",
    **{f"{req}-suitable": f"{label}: suitable" for req, label in TREATMENT_REQUIREMENT_LABEL.items()},
    **{f"{req}-consents": f"{label}: the person consents" for req, label in TREATMENT_REQUIREMENT_LABEL.items()},
    **{f"{req}-suitable": f"{label}: suitable" for req, label in YOUTH_REQUIREMENT_LABEL.items()},
    **{f"{req}-consents": f"{label}: the child consents" for req, label in YOUTH_REQUIREMENT_LABEL.items()},
}


def finding(code: str) -> dict[str, Any]:
    """A CodeableConcept from the local finding system."""
    display = FINDING_DISPLAY[code]
    return {"coding": [{"system": FINDING_SYSTEM, "code": code, "display": display}], "text": display}


def local_concept(system: str, code: str, labels: dict[str, str]) -> dict[str, Any]:
    """A CodeableConcept for a locally coded value; an unlisted value keeps its own text."""
    display = labels.get(code, code)
    return {"coding": [{"system": system, "code": code, "display": display}], "text": display}

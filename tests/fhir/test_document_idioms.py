"""A HAPI-style reading of rendered documents: each one validated by fhir.resources (R4B) and read for
the idioms a FHIR client relies on. Decisions come from the real policy (embedded Rego), so the
withheld sections are checked against what the sharing agreement actually withholds.

* withheld need areas are sections with ``emptyReason`` withheld, exactly the areas the decision
  released nothing from, and the same whether or not the person has anything recorded there;
* every disclosure is its own document: identifiers and resource ids never repeat across recipients
  or versions; version 2 is ``amended`` and ``replaces`` version 1;
* consent in the R4 idiom (a refusal is an active deny); clinical resources dated; minors labelled ADOL
  and adult treatment requirements "not applicable" to them.
"""

from __future__ import annotations

import copy
import uuid
from datetime import date, datetime
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle

from gateway.fhir import document_bytes, render_document
from gateway.fhir import terminology as t
from gateway.fhir.sections import SECTIONS
from gateway.policy import EmbeddedRegoEngine
from gateway.policy.decision import Decision
from gateway.policy.input import build_input
from tests.fhir.fixtures import (
    CATALOGUE,
    FULL_ASSESSMENT,
    LABELS,
    ROOT,
    check_document,
    make_meta,
    project,
    released,
    resources_of,
)

ON = date(2026, 11, 21)
NOW = datetime.fromisoformat("2026-11-21T12:00:00+00:00")
PAIRS = [
    ("police", "custody"),
    ("police", "charging"),
    ("cps", "charging"),
    ("court", "case-management"),
    ("court", "sentencing"),
    ("probation", "case-management"),
    ("probation", "sentencing"),
    ("yot", "case-management"),
    ("yot", "sentencing"),
    ("health", "health-referral"),
]
CODE_OF = {
    "police": "POL-NE",
    "cps": "CPS-NE",
    "court": "MC-NE",
    "probation": "PROB-NE",
    "yot": "YOT-NE",
    "health": "MHT-NE",
}
ASSESSED_AT = FULL_ASSESSMENT["context"]["assessed_at"]


@pytest.fixture(scope="module")
def engine() -> EmbeddedRegoEngine:
    return EmbeddedRegoEngine(ROOT / "policies", CATALOGUE.ids)


def person(*, child: bool = False, consent: str = "given", empty: bool = False) -> dict[str, Any]:
    """FULL_ASSESSMENT as one real person: an adult (no youth requirements, own consent) or a 15-year-old
    (no adult treatment requirements); ``empty`` keeps only what every assessment must have."""
    doc = copy.deepcopy(FULL_ASSESSMENT)
    doc["consent"] = {"status": consent, "recorded_at": doc["consent"]["recorded_at"]}
    if child:
        doc["subject"]["date_of_birth"] = "2011-06-01"
        doc.pop("treatment_requirements")
        doc["consent"]["gillick_competent"] = True
    else:
        doc.pop("youth_requirements")
    if empty:
        doc = {k: doc[k] for k in ("local_reference", "subject", "case_links", "context", "consent")}
    return doc


def decide(engine: EmbeddedRegoEngine, doc: dict[str, Any], agency_type: str, purpose: str) -> Decision:
    return engine.decide(
        build_input(
            agency_type=agency_type,
            agency_code=CODE_OF[agency_type],
            purpose=purpose,
            date_of_birth=date.fromisoformat(doc["subject"]["date_of_birth"]),
            on=ON,
            consent=doc["consent"],
            now=NOW,
        )
    )


def disclose(
    engine: EmbeddedRegoEngine, doc: dict[str, Any], agency_type: str, purpose: str, **meta: Any
) -> tuple[dict[str, Any], Decision]:
    decision = decide(engine, doc, agency_type, purpose)
    assert decision.allowed, decision.deny_reason
    values: dict[str, Any] = {
        "disclosure_id": str(uuid.uuid4()),
        "recipient_agency_code": CODE_OF[agency_type],
        "recipient_agency_type": agency_type,
        "purpose": purpose,
        "obligations": decision.obligations,
        "withheld_count": len(decision.withheld),
        "withheld": tuple((w.field, w.rule) for w in decision.withheld),
        "subject_minor": doc["subject"]["date_of_birth"] > "2008-11-21",
    }
    values.update(meta)
    projection = project(doc, decision.released, released=decision.released)
    bundle = render_document(projection, make_meta(**values), LABELS)
    check_document(bundle)
    return bundle, decision


def composition(bundle: dict[str, Any]) -> dict[str, Any]:
    return bundle["entry"][0]["resource"]


def withheld_sections(bundle: dict[str, Any]) -> set[str]:
    out = set()
    for section in composition(bundle).get("section", []):
        if "emptyReason" in section:
            assert section["emptyReason"]["coding"] == [
                {"system": t.LIST_EMPTY_REASON_SYSTEM, "code": "withheld", "display": "Information Withheld"}
            ]
            assert "entry" not in section and "section" not in section
            assert "Withheld" in section["text"]["div"]
            out.add(section["code"]["coding"][0]["code"])
    return out


def released_nothing_from(decision: Decision) -> set[str]:
    """The test's own reading of the decision: areas none of whose fields were released."""
    released = set(decision.released)
    return {s.code for s in SECTIONS if not any(fid in released for fid, _ in s.fields)}


# --- withheld need areas --------------------------------------------------------------------------


@pytest.mark.parametrize("child", [False, True], ids=["adult", "child"])
@pytest.mark.parametrize("consent", ["given", "declined"])
@pytest.mark.parametrize(("agency_type", "purpose"), PAIRS)
def test_withheld_sections_are_exactly_the_areas_the_decision_released_nothing_from(
    engine, agency_type, purpose, consent, child
):
    doc = person(child=child, consent=consent)
    decision = decide(engine, doc, agency_type, purpose)
    if not decision.allowed:
        return  # no document at all (a YOT and an adult, probation and a child, a declined referral)
    full, _ = disclose(engine, doc, agency_type, purpose)
    empty, _ = disclose(engine, person(child=child, consent=consent, empty=True), agency_type, purpose)
    expected = released_nothing_from(decision)
    assert withheld_sections(full) == expected
    # Generated from the decision, never from the content: nothing recorded, the same withheld sections.
    assert withheld_sections(empty) == expected
    if agency_type in ("police", "cps"):
        assert "clinical" in expected and "third-party" in expected


def test_police_can_tell_withheld_risk_from_no_risk_recorded(engine):
    """A released area with nothing recorded is absent; a withheld one is present and says so."""
    doc = person(empty=True)
    police, _ = disclose(engine, doc, "police", "custody")
    codes = {s["code"]["coding"][0]["code"] for s in composition(police)["section"]}
    assert "risk" not in codes  # released to custody, nothing recorded
    assert "clinical" in withheld_sections(police)


# --- one document per disclosure ------------------------------------------------------------------


def test_no_identifier_or_resource_id_is_shared_across_recipients_or_versions(engine):
    doc = person()
    bundles = [
        disclose(engine, doc, "police", "charging", assessment_version=1)[0],
        disclose(engine, doc, "health", "health-referral", assessment_version=1)[0],
        disclose(engine, doc, "police", "charging", assessment_version=2)[0],
        disclose(engine, doc, "health", "health-referral", assessment_version=2)[0],
    ]
    identifiers = [b["identifier"]["value"] for b in bundles]
    assert len(set(identifiers)) == len(bundles)
    seen: set[str] = set()
    for bundle in bundles:
        ids = {e["fullUrl"] for e in bundle["entry"]} | {"urn:uuid:" + e["resource"]["id"] for e in bundle["entry"]}
        assert not ids & seen
        seen |= ids
        # The assessment's identity is the same in every one of them.
        assert composition(bundle)["identifier"] == {
            "system": t.ASSESSMENT_ID_SYSTEM,
            "value": make_meta().assessment_id,
        }
    assert len({b["identifier"]["value"] for b in bundles} | seen) == len(bundles) + len(seen)


def test_version_2_is_amended_and_replaces_version_1(engine):
    doc = person()
    one = composition(disclose(engine, doc, "court", "sentencing", assessment_version=1)[0])
    two = composition(disclose(engine, doc, "court", "sentencing", assessment_version=2)[0])
    assert one["status"] == "final" and "relatesTo" not in one
    assert two["status"] == "amended"
    assessment_id = make_meta().assessment_id
    assert two["relatesTo"] == [
        {
            "code": "replaces",
            "targetIdentifier": {"system": t.ASSESSMENT_VERSION_SYSTEM, "value": f"{assessment_id}/1"},
        }
    ]


# --- consent --------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["declined", "withdrawn"])
def test_a_refusal_is_an_active_consent_that_denies(engine, status):
    bundle, _ = disclose(engine, person(consent=status), "police", "custody")
    (consent,) = resources_of(bundle, "Consent")
    assert consent["status"] == "active"
    assert consent["provision"] == {"type": "deny"}
    # Who decided is the field consent.given_by, never released to the police: no performer, not even the
    # person (naming them only when nobody else decided would say when somebody else did).
    assert "performer" not in consent


def test_consent_given_carries_the_scope_the_person_gave(engine):
    doc = person()
    doc["consent"]["limited_to_agencies"] = ["POL-NE", "CPS-NE"]
    doc["consent"]["limited_to_purposes"] = ["charging"]
    bundle, _ = disclose(engine, doc, "police", "charging")
    (consent,) = resources_of(bundle, "Consent")
    assert consent["status"] == "active"
    provision = consent["provision"]
    assert provision["type"] == "permit"
    assert [a["reference"]["identifier"]["value"] for a in provision["actor"]] == ["POL-NE", "CPS-NE"]
    assert {a["role"]["coding"][0]["code"] for a in provision["actor"]} == {"IRCP"}
    assert provision["purpose"] == [{"system": t.PURPOSE_OF_USE_SYSTEM, "code": "charging"}]


def test_who_decided_for_a_child_is_not_told_to_the_police(engine):
    doc = person(child=True)
    doc["consent"]["gillick_competent"] = False
    doc["consent"]["given_by"] = {"name": "Pat Smith", "relationship": "Mother"}
    police, decision = disclose(engine, doc, "police", "custody")
    assert "consent.given_by" not in decision.released
    (consent,) = resources_of(police, "Consent")
    assert "performer" not in consent  # the person, or their mother: either would say whether they could decide
    assert not resources_of(police, "RelatedPerson")


def test_an_adults_own_consent_names_the_person_where_who_decided_is_released(engine):
    bundle, decision = disclose(engine, person(), "health", "health-referral")
    assert "consent.given_by" in decision.released
    (consent,) = resources_of(bundle, "Consent")
    patient = resources_of(bundle, "Patient")[0]
    assert consent["performer"] == [{"reference": "urn:uuid:" + patient["id"]}]
    assert not resources_of(bundle, "RelatedPerson")


#: Who decided for the person, each string a canary.
DECIDER = {"name": "QXDECIDERNAMEZ", "relationship": "QXDECIDERRELATIONSHIPZ"}


def test_consent_given_by_another_leaves_no_trace_where_consent_given_by_is_withheld(engine):
    """Defect: for an adult, the Consent named the person as performer unless the policy had found the
    consent given by another ("consent-by-another-for-adult"), when it named nobody: a police officer
    could tell from the missing performer that someone else (a parent, an attorney) had decided, which
    is family and capacity information the decision withheld. Now, wherever consent.given_by is withheld,
    the Consent of a person whose consent someone else gave is byte for byte the Consent of a person who
    gave their own, names no performer, and the document holds no RelatedPerson."""
    checked: set[tuple[str, str, bool]] = set()
    for child in (False, True):
        for agency_type, purpose in PAIRS:
            own = person(child=child)
            other = person(child=child)
            other["consent"]["given_by"] = dict(DECIDER)
            own_decision = decide(engine, own, agency_type, purpose)
            other_decision = decide(engine, other, agency_type, purpose)
            if not (own_decision.allowed and other_decision.allowed):
                continue
            if "consent.given_by" in other_decision.released:
                continue  # health: who decided is released (the next test)
            consents = []
            for doc in (own, other):
                bundle, decision = disclose(engine, doc, agency_type, purpose, disclosure_id=str(uuid.UUID(int=17)))
                assert "consent.given_by" not in decision.released
                raw = document_bytes(bundle)
                for trace in (b"RelatedPerson", b"QXDECIDER"):
                    assert trace not in raw, (agency_type, purpose, child, trace)
                (consent,) = resources_of(bundle, "Consent")
                assert "performer" not in consent, (agency_type, purpose, child)
                consents.append(consent)
            assert consents[0] == consents[1], (agency_type, purpose, child)
            if not child:
                # The case the defect was in: the policy found consent given by another for an adult.
                assert "consent-by-another-for-adult" in {w.rule for w in other_decision.withheld}
            checked.add((agency_type, purpose, child))
    criminal_justice = {pair for pair in PAIRS if pair[0] != "health"}
    assert checked == {(a, p, False) for a, p in criminal_justice if a != "yot"} | {
        (a, p, True) for a, p in criminal_justice if a != "probation"
    }


def test_the_person_who_decided_is_the_performer_for_health_where_consent_given_by_is_released(engine):
    child = person(child=True)
    child["consent"]["given_by"] = dict(DECIDER)
    bundle, decision = disclose(engine, child, "health", "health-referral")
    assert "consent.given_by" in decision.released
    (consent,) = resources_of(bundle, "Consent")
    (related,) = resources_of(bundle, "RelatedPerson")
    assert consent["performer"] == [{"reference": "urn:uuid:" + related["id"]}]
    assert related["name"] == [{"text": DECIDER["name"]}]


def test_the_person_who_decided_for_a_child_is_the_performer_where_released():
    projection = project(FULL_ASSESSMENT, ["consent.status", "consent.given_by"])
    bundle = render_document(projection, make_meta(subject_minor=True), LABELS)
    check_document(bundle)
    (consent,) = resources_of(bundle, "Consent")
    (related,) = resources_of(bundle, "RelatedPerson")
    assert consent["performer"] == [{"reference": "urn:uuid:" + related["id"]}]
    assert related["name"] == [{"text": "Pat Smith"}]
    assert {c["code"] for c in related["meta"]["security"]} == set(LABELS["consent.given_by"])


def test_consent_not_possible_is_no_directive():
    doc = copy.deepcopy(FULL_ASSESSMENT)
    doc["consent"] = {"status": "not-possible", "recorded_at": doc["consent"]["recorded_at"]}
    bundle = render_document(project(doc, ["consent.status"]), make_meta(), LABELS)
    (consent,) = resources_of(bundle, "Consent")
    assert consent["status"] == "inactive" and "provision" not in consent


# --- times, minors --------------------------------------------------------------------------------


def test_every_clinical_resource_carries_the_assessment_time(engine):
    bundle, _ = disclose(engine, person(), "health", "health-referral")
    when = {
        "Observation": lambda r: r["effectiveDateTime"],
        "RiskAssessment": lambda r: r["occurrenceDateTime"],
        "Condition": lambda r: r["recordedDate"],
        "ClinicalImpression": lambda r: (r["date"], r["effectiveDateTime"]),
        "Flag": lambda r: r["period"]["start"],
    }
    seen = set()
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] in when:
            value = when[resource["resourceType"]](resource)
            assert value in (ASSESSED_AT, (ASSESSED_AT, ASSESSED_AT)), resource["resourceType"]
            seen.add(resource["resourceType"])
    assert seen == set(when)


def test_a_minor_is_labelled_adol_and_an_adult_is_not(engine):
    child, _ = disclose(engine, person(child=True), "police", "custody")
    adult, _ = disclose(engine, person(), "police", "custody")
    adol = {"system": t.ACT_CODE_SYSTEM, "code": "ADOL", "display": "adolescent information sensitivity"}
    assert adol in child["meta"]["security"]
    assert adol not in adult["meta"]["security"]
    assert composition(child)["confidentiality"] == "V"


def test_adult_treatment_requirements_are_not_applicable_to_a_child(engine):
    bundle, decision = disclose(engine, person(child=True), "court", "sentencing")
    assert "treatment.youth_requirements" in decision.released
    (section,) = [s for s in composition(bundle)["section"] if s["code"]["coding"][0]["code"] == "treatment"]
    assert "not applicable" in section["text"]["div"]
    observations = {o["code"]["coding"][0]["code"]: o for o in resources_of(bundle, "Observation")}
    na = observations["treatment-requirement-suitability"]
    assert na["dataAbsentReason"]["coding"][0]["code"] == "not-applicable"
    assert {"reference": "urn:uuid:" + na["id"]} in section["entry"]
    assert "youth-requirement-suitability" in observations
    # Even with nothing recorded, the court reads "not applicable" rather than nothing.
    empty, _ = disclose(engine, person(child=True, empty=True), "court", "sentencing")
    (section,) = [s for s in composition(empty)["section"] if s["code"]["coding"][0]["code"] == "treatment"]
    assert "not applicable" in section["text"]["div"]


def test_every_rendered_document_reads_as_r4b(engine):
    """The whole matrix once more through the Bundle model with its entries typed (HAPI's first step)."""
    for agency_type, purpose in PAIRS:
        for child in (False, True):
            if not decide(engine, person(child=child), agency_type, purpose).allowed:
                continue
            bundle, _ = disclose(engine, person(child=child), agency_type, purpose)
            parsed = Bundle.model_validate(bundle)
            assert parsed.entry[0].resource.__resource_type__ == "Composition"


# --- organisations and profiles -------------------------------------------------------------------


def test_an_nhs_publisher_is_named_by_its_ods_code_and_others_by_the_local_code():
    with_ods = render_document(released({}), make_meta(publisher_ods_code="RX4A1"), LABELS)
    check_document(with_ods)
    (org,) = resources_of(with_ods, "Organization")
    assert org["identifier"] == [
        {"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "RX4A1"},
        {"system": t.AGENCY_CODE_SYSTEM, "value": make_meta().publisher_code},
    ]
    (org,) = resources_of(render_document(released({}), make_meta(), LABELS), "Organization")
    assert org["identifier"] == [{"system": t.AGENCY_CODE_SYSTEM, "value": make_meta().publisher_code}]
    for bad in ("rx4", "R4", "RX4A12", "RX-4"):
        with pytest.raises(ValueError, match="publisher_ods_code"):
            render_document(released({}), make_meta(publisher_ods_code=bad), LABELS)


UK_CORE = {
    "Patient",
    "Organization",
    "Observation",
    "Flag",
    "Condition",
    "ServiceRequest",
    "Consent",
}


def test_resources_claim_uk_core_exactly_where_they_conform(engine):
    doc = person(child=True)
    doc["consent"]["given_by"] = {"name": "Pat Smith", "relationship": "Mother"}
    bundle, _ = disclose(engine, doc, "yot", "sentencing")
    health, _ = disclose(engine, person(), "health", "health-referral")
    seen = set()
    for entry in bundle["entry"] + health["entry"]:
        resource = entry["resource"]
        rtype = resource["resourceType"]
        profiles = resource.get("meta", {}).get("profile")
        if rtype in UK_CORE:
            assert profiles == [f"https://fhir.hl7.org.uk/StructureDefinition/UKCore-{rtype}"]
            seen.add(rtype)
        else:
            # No UK Core profile (ClinicalImpression, RiskAssessment) or one it cannot meet (Composition's
            # section codes, RelatedPerson's free-text relationship): docs/fhir-profiles.md says why.
            assert profiles is None, rtype
    assert seen == UK_CORE
    # What UK Core's slices require: the NHS number under its fixed system, with a value.
    (patient,) = resources_of(health, "Patient")
    nhs = [i for i in patient["identifier"] if i["system"] == t.NHS_NUMBER_SYSTEM]
    assert nhs == [
        {"use": "official", "system": t.NHS_NUMBER_SYSTEM, "value": FULL_ASSESSMENT["subject"]["nhs_number"]}
    ]

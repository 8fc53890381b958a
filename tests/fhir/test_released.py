"""A field is released only if the decision released it: the renderer says something about a field
(its content, "nothing recorded", who decided a consent, "not applicable" beside it) only from the
decision's released set, never from the field's absence among the withheld.

Defect (defence in depth): the renderer read "not withheld" as "released". The policy engine withholds
every catalogue field that no rule decides, and start-up refuses a policy revision stored under another
field catalogue, so a decision always decides every field today; but a decision that left a field
undecided (a new catalogue field, an engine bug, a remote OPA returning part of a decision) made the
document say that the person consented themselves, or that nothing was recorded in an area the
recipient was never given. Each decision below leaves fields undecided (neither released nor withheld),
projected by the disclosure path's own :func:`gateway.disclosure.projection.project`; each document must
be what a decision withholding those fields gives.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from gateway.disclosure.projection import project
from gateway.fhir import Projection, render_document, render_document_bytes
from gateway.fhir import terminology as t
from gateway.fhir.sections import SECTIONS
from gateway.fhir.template import DocumentTemplates
from tests.fhir.fixtures import AUDIENCE, CATALOGUE, FULL_ASSESSMENT, LABELS, check_document, make_meta, resources_of

ALL = tuple(CATALOGUE.ids)
GIVEN_BY = "consent.given_by"


def adult(**changes: Any) -> dict[str, Any]:
    """FULL_ASSESSMENT as an adult who gave their own consent (nobody decided for them)."""
    doc = copy.deepcopy(FULL_ASSESSMENT)
    doc["consent"] = {k: v for k, v in doc["consent"].items() if k != "given_by"}
    doc.update(changes)
    return doc


def disclose(doc: dict[str, Any], released: tuple[str, ...], withheld: tuple[tuple[str, str], ...] = (), **meta: Any):
    """The document the disclosure path renders for a decision releasing ``released`` and withholding
    ``withheld`` (field, rule): projected by the path's own projection, checked as the other tests do."""
    projection = project(doc, CATALOGUE, released, AUDIENCE)
    bundle = render_document(projection, make_meta(withheld=withheld, withheld_count=len(withheld), **meta), LABELS)
    check_document(bundle)
    return bundle


def without(*fields: str) -> tuple[str, ...]:
    return tuple(fid for fid in ALL if fid not in fields)


def withheld_by(rule: str, *fields: str) -> tuple[tuple[str, str], ...]:
    return tuple((fid, rule) for fid in fields)


def consent_of(bundle: dict[str, Any]) -> dict[str, Any]:
    (consent,) = resources_of(bundle, "Consent")
    return consent


def sections(bundle: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["code"]["coding"][0]["code"]: s for s in bundle["entry"][0]["resource"].get("section", [])}


def is_withheld(section: dict[str, Any]) -> bool:
    return section.get("emptyReason", {}).get("coding", [{}])[0].get("code") == "withheld"


def withheld_count(bundle: dict[str, Any]) -> int:
    ext = {e["url"]: e for e in bundle["entry"][0]["resource"]["extension"]}[t.DISCLOSURE_EXTENSION]
    return next(e["valueUnsignedInt"] for e in ext["extension"] if e["url"] == "withheldCount")


# --- who decided a consent -------------------------------------------------------------------------


def test_an_undecided_given_by_names_no_performer():
    """Before: ``consent.given_by`` not withheld, so "released and empty": the Patient as performer (the
    person decided for themselves), though the decision never released who decided."""
    undecided = disclose(adult(), without(GIVEN_BY))
    assert "performer" not in consent_of(undecided)
    assert not resources_of(undecided, "RelatedPerson")
    # The Consent a decision withholding the field gives, byte for byte.
    withheld = disclose(adult(), without(GIVEN_BY), withheld_by("r", GIVEN_BY))
    assert consent_of(undecided) == consent_of(withheld)
    # Released and empty still says the person decided for themselves (the check can fail).
    released = disclose(adult(), ALL)
    patient = resources_of(released, "Patient")[0]
    assert consent_of(released)["performer"] == [{"reference": "urn:uuid:" + patient["id"]}]


def test_an_undecided_given_by_hides_a_child_s_decider_as_a_withheld_one_does():
    child = copy.deepcopy(FULL_ASSESSMENT)  # given_by: the mother
    undecided = disclose(child, without(GIVEN_BY), subject_minor=True)
    assert "performer" not in consent_of(undecided)
    assert not resources_of(undecided, "RelatedPerson")
    assert b"Pat Smith" not in render_document_bytes(
        project(child, CATALOGUE, without(GIVEN_BY), AUDIENCE), make_meta(subject_minor=True), LABELS
    )


# --- need areas ------------------------------------------------------------------------------------


@pytest.mark.parametrize("section", SECTIONS, ids=[s.code for s in SECTIONS])
def test_an_area_whose_fields_are_undecided_is_withheld_not_absent(section):
    """Before: an area none of whose fields the decision released, nor withheld, was left out of the
    document as "released, nothing recorded" (or rendered as "not applicable"): a statement about an
    area the recipient was never given. Now it is the withheld section a decision withholding its fields
    gives, whether or not the person has anything recorded there."""
    fields = tuple(fid for fid, _ in section.fields)
    for doc in (adult(), adult(**{k: None for k in ("risk", "diagnoses", "referrals", "engagement")})):
        undecided = disclose(doc, without(*fields))
        withheld = disclose(doc, without(*fields), withheld_by("r", *fields))
        assert is_withheld(sections(undecided)[section.code])
        assert sections(undecided) == sections(withheld)
        if section.code == "consent":  # and no content from it: no Consent at all
            assert not resources_of(undecided, "Consent")


def test_an_undecided_field_beside_an_inapplicable_one_is_not_said_released():
    """Before: a child's adult treatment requirements withheld as not applicable, the youth requirements
    undecided: the section said "not applicable" beside a youth field taken for released (and nothing
    recorded). Now nothing in the area was released, so the area is withheld."""
    fields = ("treatment.requirements", "treatment.youth_requirements")
    child = adult()
    undecided = disclose(
        child,
        without(*fields),
        withheld_by("treatment-requirements-adults-only", "treatment.requirements"),
        subject_minor=True,
    )
    section = sections(undecided)["treatment"]
    assert is_withheld(section)
    assert "not applicable" not in section["text"]["div"]
    # Released, the youth requirements keep the "not applicable" line beside them (the check can fail).
    released = disclose(
        child,
        without("treatment.requirements"),
        withheld_by("treatment-requirements-adults-only", "treatment.requirements"),
        subject_minor=True,
    )
    assert "not applicable" in sections(released)["treatment"]["text"]["div"]


def test_an_undecided_field_in_a_released_area_says_nothing():
    bundle = disclose(adult(), without("risk.safeguarding"))
    section = sections(bundle)["risk"]
    assert not is_withheld(section)
    assert "Safeguarding" not in section["text"]["div"]
    assert not [f for f in resources_of(bundle, "Flag") if f["code"]["coding"][0]["code"] == "safeguarding-concerns"]


def test_undecided_fields_are_counted_as_withheld():
    released = without("risk.assessment", "risk.safeguarding", "clinical.detail")
    bundle = disclose(adult(), released, withheld_by("r", "clinical.detail"))
    assert withheld_count(bundle) == 3
    assert withheld_count(disclose(adult(), without("clinical.detail"), withheld_by("r", "clinical.detail"))) == 1


# --- what the renderer refuses -----------------------------------------------------------------------


def test_a_value_for_a_field_the_decision_did_not_release_is_refused():
    """Never content from an undecided field: a projection that holds one was not made from this
    decision, and the caller must deny rather than send it."""
    with pytest.raises(ValueError, match="did not release"):
        render_document(Projection({"clinical.detail": "x"}, released=()), make_meta(), LABELS)
    with pytest.raises(ValueError, match="did not release"):
        render_document(
            Projection({"clinical.detail": "x"}, released=["clinical.detail"]),
            make_meta(withheld=(("clinical.detail", "r"),), withheld_count=1),
            LABELS,
        )
    with pytest.raises(ValueError, match="did not release"):
        DocumentTemplates().render(Projection({"clinical.detail": "x"}, released=()), make_meta(), LABELS)


def test_a_mapping_that_does_not_say_what_was_released_is_refused():
    projection = project(adult(), CATALOGUE, ALL, AUDIENCE)
    for plain in (dict(projection), {**projection}, {}):
        with pytest.raises(ValueError, match="does not say which fields"):
            render_document(plain, make_meta(), LABELS)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="does not say which fields"):
            DocumentTemplates().render(plain, make_meta(), LABELS)  # type: ignore[arg-type]


def test_a_field_released_and_withheld_is_withheld():
    both = disclose(adult(), ALL, withheld_by("r", GIVEN_BY))
    assert "performer" not in consent_of(both)
    risk = ("risk.assessment", "risk.safeguarding")
    values = project(adult(), CATALOGUE, without(*risk), AUDIENCE)
    meta = make_meta(withheld=withheld_by("r", *risk), withheld_count=2)
    bundle = render_document(Projection(values, released=ALL), meta, LABELS)
    assert is_withheld(sections(bundle)["risk"])


def test_the_projection_keeps_what_was_released_through_a_copy():
    projection = project(adult(), CATALOGUE, without(GIVEN_BY), AUDIENCE)
    for copied in (copy.copy(projection), copy.deepcopy(projection)):
        assert isinstance(copied, Projection)
        assert copied.released == projection.released and dict(copied) == dict(projection)
    assert GIVEN_BY not in projection.released and "consent.status" in projection.released
    assert list(projection.released) == [fid for fid in ALL if fid != GIVEN_BY]  # the catalogue's order


# --- the document kept per content and decision ----------------------------------------------------


def test_documents_kept_per_decision_tell_undecided_from_released_and_empty():
    """The projections of "given_by released, empty" and "given_by undecided" hold the same values: the
    rendering kept for one must not be served for the other."""
    templates = DocumentTemplates()
    meta = make_meta()
    documents = []
    for released in (ALL, without(GIVEN_BY), ALL):
        projection = project(adult(), CATALOGUE, released, AUDIENCE)
        served = templates.render(projection, meta, LABELS)
        assert served == render_document_bytes(projection, meta, LABELS)
        documents.append(served)
    assert documents[0] == documents[2] != documents[1]
    assert "performer" in consent_of(json.loads(documents[0]))
    assert "performer" not in consent_of(json.loads(documents[1]))


def test_what_a_projection_says_was_released_cannot_be_changed_after_it_is_made():
    projection = Projection({"identity.name": "Ada"}, released=["identity.name"])
    with pytest.raises(AttributeError):
        projection.released = ("identity.name", "clinical.diagnoses")  # type: ignore[misc]
    assert projection.released == ("identity.name",)

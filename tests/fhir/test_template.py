"""Documents filled in from a rendering kept per content and decision: byte for byte what a full
rendering of the same disclosure writes, and a full rendering wherever a stand-in could be confused."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from gateway.fhir import Projection, render_document_bytes
from gateway.fhir.template import DocumentTemplates
from tests.fhir.fixtures import CATALOGUE, FULL_ASSESSMENT, LABELS, example_assessments, make_meta, project


def _disclosures(count: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    start = datetime(2026, 11, 26, 12, 30, 15, 250000, tzinfo=UTC)
    return [
        {
            "disclosure_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "timestamp": start + timedelta(seconds=rng.randrange(10**6), microseconds=rng.randrange(10**6)),
        }
        for _ in range(count)
    ]


def _projections() -> list[Projection]:
    """Random subsets, each twice: released by a decision that released every field (nothing else
    recorded), and by one that released the subset alone (the rest undecided): the same values, so the
    same projection bytes, and documents that differ (withheld sections, the Consent's performer)."""
    rng = random.Random(20261206)
    ids = list(CATALOGUE.ids)
    samples = [rng.sample(ids, rng.randint(0, len(ids))) for _ in range(25)]
    subsets = [project(FULL_ASSESSMENT)] + [
        project(FULL_ASSESSMENT, sample, released=released) for sample in samples for released in (None, sample)
    ]
    return subsets + [project(a) for a in example_assessments().values()]


def _without_values_of(projection: Projection, withheld: tuple[tuple[str, str], ...]) -> Projection:
    """``projection`` with no value for a withheld field (a value for one is refused); its released set
    as it was, so a field both released and withheld is rendered (and kept) as withheld."""
    ids = {fid for fid, _ in withheld}
    return Projection({k: v for k, v in projection.items() if k not in ids}, released=projection.released)


def test_every_disclosure_gets_the_bytes_a_full_rendering_writes():
    templates = DocumentTemplates()
    metas = [
        {},
        {"assessment_version": 1},
        {"withheld_count": 1, "withheld": (("clinical.diagnoses", "stage-charging"),)},
        {"subject_minor": True, "publisher_ods_code": "RX4"},
    ]
    for index, decided in enumerate(_projections()):
        for overrides in metas:
            projection = _without_values_of(decided, overrides.get("withheld", ()))
            for disclosure in _disclosures(3, index):
                meta = make_meta(**overrides, **disclosure)
                assert templates.render(projection, meta, LABELS) == render_document_bytes(projection, meta, LABELS)
    # Kept and filled in, not rendered each time: one rendering per projection and decision.
    assert 0 < len(templates._items) <= len(_projections()) * len(metas)
    assert all(template is not None for template in templates._items.values())


def test_a_projection_that_holds_the_stand_in_time_is_rendered_in_full():
    projection = project(FULL_ASSESSMENT)
    projection["vulnerability.summary"] = "Seen at 0001-01-01T00:00:00.000Z, not a real time."
    templates = DocumentTemplates()
    for disclosure in _disclosures(2, 7):
        meta = make_meta(**disclosure)
        rendered = templates.render(projection, meta, LABELS)
        assert rendered == render_document_bytes(projection, meta, LABELS)
        assert b"0001-01-01T00:00:00.000Z" in rendered
    assert list(templates._items.values()) == [None]


def test_what_a_full_rendering_refuses_is_refused():
    templates = DocumentTemplates()
    projection = project(FULL_ASSESSMENT)
    templates.render(projection, make_meta(), LABELS)  # kept
    with pytest.raises(ValueError, match="badly formed"):
        templates.render(projection, make_meta(disclosure_id="not-a-uuid"), LABELS)
    with pytest.raises(ValueError, match="timezone-aware"):
        templates.render(projection, make_meta(timestamp=datetime(2026, 11, 26, 12, 0)), LABELS)
    with pytest.raises(ValueError, match="does not know"):
        templates.render({**projection, "no.such_field": "x"}, make_meta(), LABELS)
    unlabelled = {fid: labels for fid, labels in LABELS.items() if fid != "vulnerability.summary"}
    with pytest.raises(ValueError, match="no sensitivity labels"):
        templates.render(projection, make_meta(), unlabelled)


def test_the_oldest_rendering_goes_first_when_full():
    templates = DocumentTemplates(size=2)
    projection = project(FULL_ASSESSMENT)
    for code in ("POL-NE", "CPS-NE", "PROB-NE"):
        templates.render(projection, make_meta(recipient_agency_code=code), LABELS)
    assert len(templates._items) == 2

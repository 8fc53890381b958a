"""Build up, never strip down: a field that is not in the projection leaves no trace in the bytes.

Every free-text leaf of every field carries a unique canary. A withheld field's canaries must appear
nowhere; a released field's canaries must all appear (so the first check cannot pass vacuously).
"""

from __future__ import annotations

import random

import pytest

from gateway.fhir import Projection, document_bytes, render_document
from tests.fhir.fixtures import CATALOGUE, LABELS, canaried_projection, canary_prefix, make_meta, released

FIELD_INDEX = {field_id: index for index, field_id in enumerate(CATALOGUE.ids)}


def render_bytes(projection):
    """The document for ``projection``, as a decision that released every field projects it."""
    if not isinstance(projection, Projection):
        projection = released(projection)
    return document_bytes(render_document(projection, make_meta(), LABELS))


def assert_released_only(raw: bytes, released, canaries):
    text = raw.decode("utf-8")
    for field_id in CATALOGUE.ids:
        if field_id in released:
            missing = [c for c in canaries[field_id] if c not in text]
            assert not missing, f"released field {field_id} lost {missing}"
        else:
            prefix = canary_prefix(FIELD_INDEX[field_id])
            assert prefix not in text, f"withheld field {field_id} leaked into the document"


def test_every_canary_appears_when_everything_is_released():
    projection, canaries = canaried_projection()
    assert_released_only(render_bytes(projection), set(projection), canaries)


@pytest.mark.parametrize("withheld", CATALOGUE.ids)
def test_withheld_field_leaves_no_trace(withheld):
    projection, canaries = canaried_projection()
    del projection[withheld]
    raw = render_bytes(projection)
    assert canary_prefix(FIELD_INDEX[withheld]).encode() not in raw
    assert_released_only(raw, set(projection), canaries)


def test_random_subsets_show_only_released_canaries():
    full, canaries = canaried_projection()
    rng = random.Random(115)
    ids = list(CATALOGUE.ids)
    for _ in range(200):
        released = set(rng.sample(ids, rng.randint(0, len(ids))))
        projection = {k: v for k, v in full.items() if k in released}
        assert_released_only(render_bytes(projection), released, canaries)


def test_single_field_documents_carry_only_that_field():
    full, canaries = canaried_projection()
    for field_id in CATALOGUE.ids:
        assert_released_only(render_bytes({field_id: full[field_id]}), {field_id}, canaries)

"""Searchset Bundles splice the document bytes unchanged, and never give a total."""

from __future__ import annotations

import hashlib
import json

import pytest
from fhir.resources.R4B.bundle import Bundle

from gateway.fhir import document_bytes, render_document, searchset_bytes
from tests.fhir.fixtures import FULL_ASSESSMENT, LABELS, make_meta, project


def documents():
    one = render_document(project(FULL_ASSESSMENT), make_meta(), LABELS)
    two = render_document(
        project(FULL_ASSESSMENT, ["identity.nhs_number", "vulnerability.summary"]),
        make_meta(
            bundle_id="second", disclosure_id="6ba7b810-9dad-11d1-80b4-00c04fd430c8", publisher_name="Gwasanaeth Ŵ"
        ),
        LABELS,
    )
    return [document_bytes(one), document_bytes(two)]


def test_searchset_validates_and_embeds_documents_byte_for_byte():
    docs = documents()
    self_url = "https://gw.example.org/fhir/Bundle?patient.identifier=https://fhir.nhs.uk/Id/nhs-number|9000000009"
    raw = searchset_bytes(docs, self_url)
    parsed = json.loads(raw)
    Bundle.model_validate(parsed)
    assert parsed["type"] == "searchset"
    assert "total" not in parsed
    assert parsed["link"] == [{"relation": "self", "url": self_url}]
    assert len(parsed["entry"]) == 2
    position = 0
    for doc, entry in zip(docs, parsed["entry"], strict=True):
        assert entry["search"] == {"mode": "match"}
        assert document_bytes(entry["resource"]) == doc
        found = raw.find(doc, position)
        assert found > 0, "document bytes must be spliced unchanged"
        assert hashlib.sha256(raw[found : found + len(doc)]).digest() == hashlib.sha256(doc).digest()
        position = found + len(doc)


def test_empty_searchset_has_no_entry_and_no_total():
    raw = searchset_bytes([], "https://gw.example.org/fhir/Bundle?patient.identifier=x|y")
    parsed = json.loads(raw)
    Bundle.model_validate(parsed)
    assert "entry" not in parsed and "total" not in parsed


def test_full_urls_with_base():
    docs = documents()
    parsed = json.loads(searchset_bytes(docs, "https://gw/fhir/Bundle", base_url="https://gw/fhir/"))
    Bundle.model_validate(parsed)
    assert [e["fullUrl"] for e in parsed["entry"]] == ["https://gw/fhir/Bundle/" + json.loads(d)["id"] for d in docs]


def test_self_url_is_json_escaped():
    url = 'https://gw/fhir/Bundle?x="quoted"\\Ŵ'
    assert json.loads(searchset_bytes([], url))["link"][0]["url"] == url


@pytest.mark.parametrize("bad", [b"not json", b"[1,2]", b'{"resourceType":"Patient"}', b'{"a":1'])
def test_non_bundles_are_refused(bad):
    with pytest.raises(ValueError):
        searchset_bytes([bad], "https://gw/fhir/Bundle")


def test_bundle_ids_given_by_the_builder_give_the_same_bytes_unparsed():
    """The disclosure service names each document's id (it built them): the same searchset, no re-parse."""
    from gateway.fhir.searchset import searchset_bytes

    documents = [b'{"resourceType":"Bundle","id":"a-1","type":"document"}', b'{"resourceType":"Bundle","id":"b-2"}']
    url = "https://gw.example/fhir/Bundle"
    assert searchset_bytes(documents, url, bundle_ids=["a-1", "b-2"]) == searchset_bytes(documents, url)
    import pytest

    with pytest.raises(ValueError):
        searchset_bytes(documents, url, bundle_ids=["a-1"])

"""The reference clients' terminal outline of a pulled document: released areas listed, withheld areas named."""

from __future__ import annotations

from adapters.agency_client.outline import document_outline

WITHHELD = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/list-empty-reason", "code": "withheld"}]}


def test_released_areas_are_listed_and_withheld_areas_named_apart() -> None:
    document = {
        "id": "b-1",
        "entry": [
            {
                "resource": {
                    "resourceType": "Composition",
                    "title": "L&D assessment summary",
                    "section": [
                        {"title": "Identity", "entry": [{"reference": "urn:uuid:1"}]},
                        {"title": "Diagnoses", "emptyReason": WITHHELD},
                        {"title": "Communication needs", "entry": [{"reference": "urn:uuid:2"}]},
                        {"title": "Clinical detail", "emptyReason": WITHHELD},
                    ],
                }
            }
        ],
    }
    assert document_outline(document) == [
        "Document b-1: L&D assessment summary",
        "  - Identity",
        "  - Communication needs",
        "  withheld from you: Diagnoses, Clinical detail",
    ]


def test_nothing_withheld_says_nothing_about_withholding() -> None:
    document = {"id": "b-2", "entry": [{"resource": {"title": "T", "section": [{"title": "Identity"}]}}]}
    assert document_outline(document) == ["Document b-2: T", "  - Identity"]

"""What a pulled FHIR document holds, as lines for a person at a terminal: its title, the need areas it
carries, and the areas the policy withholds from this recipient (named, never listed as content)."""

from __future__ import annotations

from typing import Any


def document_outline(document: dict[str, Any]) -> list[str]:
    composition = document["entry"][0]["resource"]
    sections = composition.get("section", [])
    lines = [f"Document {document['id']}: {composition.get('title', '')}"]
    lines += [f"  - {s.get('title')}" for s in sections if "emptyReason" not in s]
    # A withheld area is a section with emptyReason withheld: the decision, not the person's content.
    withheld = [str(s.get("title")) for s in sections if "emptyReason" in s]
    if withheld:
        lines.append(f"  withheld from you: {', '.join(withheld)}")
    return lines

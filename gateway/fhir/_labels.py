"""The document's security labels: the policy's obligations, then the sensitivity of what was released."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from gateway.fhir import terminology as t

if TYPE_CHECKING:
    from gateway.fhir._meta import DocumentMeta


def security_labels(
    meta: DocumentMeta, projection: Mapping[str, Any], labels: Mapping[str, Sequence[str]]
) -> tuple[list[dict[str, Any]], str | None]:
    """``Bundle.meta.security`` and the Composition's confidentiality code."""
    codings: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    confidentiality: str | None = None
    for obligation in meta.obligations:
        coding = t.obligation_coding(obligation)
        if coding["system"] == t.CONFIDENTIALITY_SYSTEM:
            code = coding["code"]
            if confidentiality is None or (
                t.CONFIDENTIALITY_ORDER.index(code) > t.CONFIDENTIALITY_ORDER.index(confidentiality)
            ):
                confidentiality = code
        key = (coding["system"], coding["code"])
        if key not in seen:
            seen.add(key)
            codings.append(coding)
    # Only the most restrictive confidentiality code stays (two would contradict each other), and it
    # comes first whatever order the policy listed the obligations in.
    codings = [
        *(c for c in codings if c["system"] == t.CONFIDENTIALITY_SYSTEM and c["code"] == confidentiality),
        *(c for c in codings if c["system"] != t.CONFIDENTIALITY_SYSTEM),
    ]
    sensitivity = sorted({code for fid in projection for code in labels[fid]})
    codings.extend(t.sensitivity_coding(code) for code in sensitivity)
    if meta.subject_minor:
        # v3-ActCode ADOL (InformationSensitivityPolicy): the subject is a minor on the day of disclosure.
        codings.append(dict(t.ADOLESCENT_CODING))
    return codings, confidentiality

"""Lawful overrides without consent: what an L&D practitioner records, and how the hot path reads it.

An override names one assessment, a basis (:data:`BASES`, emergency sharing among them), a reason,
recipient agency codes, an expiry (:func:`max_duration`: 72 hours for an emergency) and the practitioner
who recorded it. The policy (policies/disclosure.rego) decides what it releases;
this package only validates, stores and reads the records.
"""

from gateway.overrides.store import OverrideRecord, facts_for_assessment, record_override
from gateway.overrides.validation import (
    BASES,
    MAX_DURATION,
    MAX_DURATION_BY_BASIS,
    OverrideRequest,
    max_duration,
    validate_override,
)

__all__ = [
    "BASES",
    "MAX_DURATION",
    "MAX_DURATION_BY_BASIS",
    "OverrideRecord",
    "OverrideRequest",
    "facts_for_assessment",
    "max_duration",
    "record_override",
    "validate_override",
]

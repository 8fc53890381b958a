"""Lawful overrides without consent: what an L&D practitioner records, and how the hot path reads it.

An override names one assessment, a basis (:data:`BASES`), a reason, recipient agency codes, an expiry
and the practitioner who recorded it. The policy (policies/disclosure.rego) decides what it releases;
this package only validates, stores and reads the records.
"""

from gateway.overrides.store import OverrideRecord, facts_for_assessment, record_override
from gateway.overrides.validation import BASES, MAX_DURATION, OverrideRequest, validate_override

__all__ = [
    "BASES",
    "MAX_DURATION",
    "OverrideRecord",
    "OverrideRequest",
    "facts_for_assessment",
    "record_override",
    "validate_override",
]

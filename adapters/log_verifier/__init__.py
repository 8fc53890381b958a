"""An offline verifier of the gateway's disclosure log, for auditors without access to the gateway.

It needs only an export (``ld-gateway audit export``: entries and checkpoints) and the log's public
key, and shares no code with the gateway: the RFC 9162 and C2SP checks here are written again from
the specifications, so a bug in the gateway cannot vouch for itself.
"""

from adapters.log_verifier.export import ExportProblem, ExportReport, verify_export
from adapters.log_verifier.merkle import VerificationError, verify_consistency, verify_inclusion
from adapters.log_verifier.note import Checkpoint, LogKey, open_checkpoint

__all__ = [
    "Checkpoint",
    "ExportProblem",
    "ExportReport",
    "LogKey",
    "VerificationError",
    "open_checkpoint",
    "verify_consistency",
    "verify_export",
    "verify_inclusion",
]

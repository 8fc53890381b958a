"""Disclosure receipts: what the log signs for the recipient of each response.

A receipt is a compact JWS (RFC 7515) signed with the log's Ed25519 key (``alg`` ``Ed25519``, the
fully-specified name of RFC 9864; ``kid`` the log key's C2SP key id in hex; ``typ``
``disclosure-receipt+jws``). Its payload names the log entry the response was recorded as:

    {"iss": <log origin>, "disclosure_id", "leaf_index", "leaf_hash" (hex), "body_sha256" (hex),
     "event", "outcome", "client_id", "iat"}

``body_sha256`` is the SHA-256 of the exact bytes of the document (for a released entry; in a
searchset, the document's bytes as spliced into ``entry[].resource``) or of the whole response (a
refusal). The recipient can prove what it received; with an inclusion proof of ``leaf_index`` against a
signed checkpoint, it can prove the log holds that entry. Responses carry one receipt per disclosure id,
comma-separated in ``X-Disclosure-Receipt`` in the order of ``X-Disclosure-Id``.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from gateway.audit.c2sp_note import NoteSigner

RECEIPT_ALG = "Ed25519"
RECEIPT_TYPE = "disclosure-receipt+jws"
HEADER = "X-Disclosure-Receipt"


class ReceiptSigner:
    def __init__(self, signer: NoteSigner) -> None:
        self.origin = signer.name
        self.kid = signer.verifier.key_id.hex()
        self._private = signer.private
        # The protected header is the same for every receipt: encoded once, as a JWS library writes it
        # (compact JSON, ASCII), and signed with the payload by the Ed25519 key itself (RFC 7515 section
        # 7.1; RFC 8037 section 3.1: the signature is over "header.payload"). A JWS library spent
        # more on its own bookkeeping than the signature costs, once per log entry answered.
        header = {"alg": RECEIPT_ALG, "kid": self.kid, "typ": RECEIPT_TYPE}
        self._header_segment = _b64url(json.dumps(header, separators=(",", ":")).encode("ascii"))

    def sign(
        self,
        *,
        disclosure_id: str,
        leaf_index: int,
        leaf_hash: str,
        body_sha256: str | None,
        event: str,
        outcome: str,
        client_id: str | None,
        issued_at: datetime,
    ) -> str:
        claims: dict[str, Any] = {
            "iss": self.origin,
            "disclosure_id": disclosure_id,
            "leaf_index": leaf_index,
            "leaf_hash": leaf_hash,
            "body_sha256": body_sha256,
            "event": event,
            "outcome": outcome,
            "client_id": client_id,
            "iat": int(issued_at.timestamp()),
        }
        payload = json.dumps(claims, sort_keys=True, separators=(",", ":")).encode()
        signing_input = self._header_segment + b"." + _b64url(payload)
        return (signing_input + b"." + _b64url(self._private.sign(signing_input))).decode("ascii")


def _b64url(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")

"""Checking the gateway's disclosure receipts, and that the log holds them (docs/audit.md).

A response names its log entries in ``X-Disclosure-Id`` and carries one receipt per entry, in the same
order, in ``X-Disclosure-Receipt``: a compact JWS signed with the log's Ed25519 key (``alg`` Ed25519).
:func:`verify_response` checks each signature and that each receipt's ``body_sha256`` is the hash of
what arrived: the whole body for a read or a refusal, each document's exact bytes for a search.
:func:`verify_included` then checks an inclusion proof of the receipt's entry against a checkpoint
signed by the same log, so the agency can show the gateway's own log records what it was sent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import httpx
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import OKPKey

from adapters.log_verifier.merkle import VerificationError, verify_inclusion
from adapters.log_verifier.note import Checkpoint, LogKey, open_checkpoint

RECEIPT_ALG = "Ed25519"


class ReceiptError(Exception):
    pass


def _documents(response: httpx.Response) -> list[bytes]:
    body = response.json()
    if body.get("type") != "searchset":
        return [response.content]
    # The gateway splices each document's exact (compact JSON) bytes; re-serialising gives them back.
    return [
        json.dumps(entry["resource"], separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        for entry in body.get("entry", [])
    ]


def verify_receipt(receipt: str, log_jwk: dict[str, Any]) -> dict[str, Any]:
    try:
        token = jws.deserialize_compact(receipt, OKPKey.import_key(log_jwk), algorithms=[RECEIPT_ALG])
    except (JoseError, ValueError) as exc:
        raise ReceiptError(f"receipt signature does not verify: {exc}") from None
    if token.headers().get("typ") != "disclosure-receipt+jws":
        raise ReceiptError("not a disclosure receipt")
    return dict(json.loads(token.payload))


def verify_response(response: httpx.Response, log_jwk: dict[str, Any]) -> list[dict[str, Any]]:
    """The verified receipt claims of every entry the response names; ReceiptError otherwise."""
    ids = [i for i in response.headers.get("x-disclosure-id", "").split(",") if i]
    receipts = [r for r in response.headers.get("x-disclosure-receipt", "").split(",") if r]
    if not ids or len(ids) != len(receipts):
        raise ReceiptError(f"{len(ids)} disclosure ids but {len(receipts)} receipts")
    bodies = _documents(response) if response.status_code == 200 else [response.content] * len(ids)
    if len(bodies) != len(ids):
        raise ReceiptError(f"{len(bodies)} documents but {len(ids)} receipts")
    claims = []
    for disclosure_id, receipt, body in zip(ids, receipts, bodies, strict=True):
        claim = verify_receipt(receipt, log_jwk)
        if claim.get("disclosure_id") != disclosure_id:
            raise ReceiptError(f"receipt is for {claim.get('disclosure_id')}, not {disclosure_id}")
        digest = hashlib.sha256(body).hexdigest()
        if not hmac.compare_digest(digest, str(claim.get("body_sha256"))):
            raise ReceiptError(f"what arrived for {disclosure_id} is not what the receipt covers")
        claims.append(claim)
    return claims


def verify_included(claims: dict[str, Any], proof: dict[str, Any], log_vkey: str) -> Checkpoint:
    """Check ``GET /audit/proofs/inclusion/{id}``'s answer proves the receipt's entry is in the log."""
    key = LogKey.parse(log_vkey)
    try:
        checkpoint = open_checkpoint(proof["checkpoint"], key)
        leaf = base64.b64decode(proof["leaf_hash"])
        if proof["leaf_index"] != claims["leaf_index"] or leaf.hex() != claims["leaf_hash"]:
            raise ReceiptError("the proof is for another entry than the receipt")
        path = [base64.b64decode(p) for p in proof["proof"]]
        verify_inclusion(claims["leaf_index"], checkpoint.size, leaf, path, checkpoint.root)
    except (VerificationError, KeyError, ValueError) as exc:
        raise ReceiptError(f"inclusion does not verify: {exc}") from None
    return checkpoint

"""A DPoP proof's replay claim, made in the request's own write transaction (RFC 9449 section 11.1).

:func:`gateway.auth.rfc9449.verify_proof` claims the proof's ``jti`` last, through a
:class:`~gateway.auth.rfc7523.ReplayCache`. On the disclosure hot path that claim would be a write
transaction of its own, before the one that logs the disclosure. :class:`DeferredReplay` stands in for
the cache during verification and only records the claim; the disclosure service then makes it inside
the transaction that writes the log entry (DESIGN.md: one short write per pull). The guarantee is the
same: of two requests with one proof, exactly one commits; the other's transaction rolls back with
:class:`ProofReplayed`, and it is answered as any replayed proof is (401, logged).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from gateway.auth.rfc7523 import ReplayCache


class ProofReplayed(Exception):
    """The deferred claim lost: this DPoP proof was used before. Nothing of the request was kept."""


@dataclass
class DeferredReplay:
    """A :class:`ReplayCache` that records claims, to be made later by :meth:`claim_in`."""

    store: ReplayCache
    claims: list[tuple[str, str, float]] = field(default_factory=list)

    def claim(self, client_id: str, jti: str, expires_at: float) -> bool:
        self.claims.append((client_id, jti, expires_at))
        return True

    def claim_in(self, session: Session) -> None:
        """Make the recorded claims in ``session``'s transaction; :class:`ProofReplayed` if any loses."""
        claim_in = getattr(self.store, "claim_in", None)
        for client_id, jti, expires_at in self.claims:
            won = (
                claim_in(session, client_id, jti, expires_at)
                if claim_in is not None
                else self.store.claim(client_id, jti, expires_at)  # a store of its own (tests' in-memory)
            )
            if not won:
                raise ProofReplayed

    def settle(self) -> None:
        """After the transaction committed: the claims are made (a later transaction of the same request
        must not make them again), and the store's housekeeping runs outside any write transaction."""
        self.claims.clear()
        purge = getattr(self.store, "purge_if_due", None)
        if purge is not None:
            purge()

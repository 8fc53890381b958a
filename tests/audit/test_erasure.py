"""Crypto-shredding a person leaves the disclosure log, its tree and its checkpoints verifiable."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, update

from gateway.audit import checkpoints, log
from gateway.audit.log_key import log_signer
from gateway.audit.verify_log import verify_log
from gateway.db.models import Subject

NHS = "9449305552"
SEARCH = f"/fhir/Bundle?patient.identifier=https://fhir.nhs.uk/Id/nhs-number|{NHS}"


def test_shredding_the_subject_key_leaves_the_log_verifiable(gateway):
    auth = gateway.auth("POL-NE", "charging")
    pulled = gateway.http.get(SEARCH, auth=auth)
    assert pulled.status_code == 200
    disclosure_id = pulled.headers["x-disclosure-id"]
    signer = log_signer(gateway.settings)
    with gateway.sessions.begin() as session:
        checkpoints.checkpoint_if_due(session, signer, force=True)
    with gateway.sessions() as session:
        before = verify_log(session, signer.verifier)
        entries = [r.entry for r in log.iter_rows(session)]
    assert before.ok, before.failure
    # No personal data in the log: neither the NHS number nor the person's name is in any entry.
    assert not any(NHS in e or "Hewitt" in e or "Daniel" in e for e in entries)

    with gateway.sessions.begin() as session:
        (subject_id,) = session.execute(select(Subject.id)).scalars().all()
        session.execute(
            update(Subject).where(Subject.id == subject_id).values(wrapped_key=None, erased_at=datetime.now(UTC))
        )

    with gateway.sessions() as session:
        after = verify_log(session, signer.verifier)
    assert after.ok, after.failure
    assert (after.root, after.entries) == (before.root, before.entries)
    proof = gateway.http.get(f"/audit/proofs/inclusion/{disclosure_id}", auth=auth)
    assert proof.status_code == 200

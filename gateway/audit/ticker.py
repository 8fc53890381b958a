"""The background thread of a serving process that signs due checkpoints and feeds the witness."""

from __future__ import annotations

import logging
import threading

from sqlalchemy.orm import Session, sessionmaker

from gateway.audit import checkpoints, witness
from gateway.audit.c2sp_note import NoteSigner
from gateway.db import unit_of_work

logger = logging.getLogger("gateway.audit")


class CheckpointTicker:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        signer: NoteSigner,
        tick: float,
        witness_: witness.Witness | None = None,
    ) -> None:
        self.sessions, self.signer, self.tick, self.witness = sessions, signer, tick, witness_
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> None:
        made = unit_of_work.run(self.sessions, lambda tx: checkpoints.checkpoint_if_due(tx, self.signer))
        target = self.witness
        if made is not None and target is not None:
            # A read: the witness may be a remote service, and no write lock is held while it answers.
            unit_of_work.read(self.sessions, lambda tx: witness.export_latest(tx, target))

    def _loop(self) -> None:
        while not self._stop.wait(self.tick):
            try:
                self.run_once()
            except Exception as exc:
                # Named by type only; a refused checkpoint is an alarm for the operators.
                logger.error("checkpoint failed", extra={"fields": {"error": exc.__class__.__name__}})

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="checkpoint-ticker", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

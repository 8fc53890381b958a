"""Handing checkpoints to a witness the IG team controls, so a rewritten log cannot go unnoticed.

Two witnesses: a directory (``GATEWAY_WITNESS_DIR``: each checkpoint written once as
``checkpoint.<size>``, and ``checkpoint`` replaced atomically by the newest; mount storage the gateway
cannot rewrite), and an HTTPS endpoint speaking C2SP tlog-witness ``add-checkpoint``
(``GATEWAY_WITNESS_URL``): the body is ``old <size>``, the consistency proof from that size (base64
lines), a blank line and the signed checkpoint; a 409 answer names the size the witness holds, and
the gateway retries once from there.
"""

from __future__ import annotations

import base64
import os
import tempfile
from pathlib import Path
from typing import Protocol

import httpx
from sqlalchemy.orm import Session

from gateway.audit import checkpoints, tree
from gateway.audit.c2sp_note import Checkpoint
from gateway.config import Settings


class WitnessError(RuntimeError):
    pass


class Witness(Protocol):
    def known_size(self) -> int: ...

    def add(self, old_size: int, proof: list[bytes], note: str) -> int:
        """Submit; returns the size the witness now holds (which may differ on conflict)."""
        ...


class DirectoryWitness:
    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def known_size(self) -> int:
        latest = self.directory / "checkpoint"
        if not latest.exists():
            return 0
        text = latest.read_text(encoding="utf-8")
        return Checkpoint.parse(text.split("\n\n", 1)[0] + "\n").size

    def add(self, old_size: int, proof: list[bytes], note: str) -> int:
        self.directory.mkdir(parents=True, exist_ok=True)
        size = Checkpoint.parse(note.split("\n\n", 1)[0] + "\n").size
        held = self.known_size()
        if held > size:
            raise WitnessError(f"witness directory holds a checkpoint of {held} entries, newer than {size}")
        numbered = self.directory / f"checkpoint.{size}"
        if not numbered.exists():
            numbered.write_text(note, encoding="utf-8")
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".checkpoint.")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(note)
        os.replace(tmp, self.directory / "checkpoint")
        return size


class HttpWitness:
    def __init__(self, url: str, client: httpx.Client | None = None) -> None:
        self.url = url
        self.client = client or httpx.Client(timeout=10.0)
        self._size = 0

    def known_size(self) -> int:
        return self._size

    def add(self, old_size: int, proof: list[bytes], note: str) -> int:
        lines = [f"old {old_size}", *(base64.b64encode(p).decode() for p in proof), "", note]
        response = self.client.post(self.url, content="\n".join(lines).encode("utf-8"))
        if response.status_code == 409 and response.text.strip().isdigit():
            self._size = int(response.text.strip())
            return self._size
        if response.status_code != 200:
            raise WitnessError(f"witness answered {response.status_code}")
        self._size = Checkpoint.parse(note.split("\n\n", 1)[0] + "\n").size
        return self._size


def witness_from(settings: Settings) -> Witness | None:
    """The configured witness: GATEWAY_WITNESS_DIR, else GATEWAY_WITNESS_URL, else none."""
    if settings.witness_dir is not None:
        return DirectoryWitness(settings.witness_dir)
    if settings.witness_url:
        return HttpWitness(settings.witness_url)
    return None


def export_latest(session: Session, witness: Witness) -> int | None:
    """Send the newest checkpoint to ``witness`` with a proof from what it holds; its size, or None."""
    latest = checkpoints.latest(session)
    if latest is None:
        return None
    for _ in range(2):  # once, and once more from the size a conflicting witness names
        old = witness.known_size()
        if old == latest.tree_size:
            return old
        if old > latest.tree_size:
            raise WitnessError(f"witness holds {old} entries, more than the log's newest checkpoint")
        proof = tree.consistency_proof(session, old, latest.tree_size)
        held = witness.add(old, proof, latest.note)
        if held == latest.tree_size:
            return held
    raise WitnessError("witness did not accept the checkpoint")

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
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from sqlalchemy.orm import Session

from gateway.audit import checkpoints, tree
from gateway.audit.c2sp_note import Checkpoint
from gateway.audit.rfc9162 import ProofError, verify_consistency
from gateway.config import Settings

if TYPE_CHECKING:
    import httpx


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
        self.directory.mkdir(parents=True, mode=0o700, exist_ok=True)
        offered = Checkpoint.parse(note.split("\n\n", 1)[0] + "\n")
        size = offered.size
        latest = self.directory / "checkpoint"
        held = (
            Checkpoint.parse(latest.read_text(encoding="utf-8").split("\n\n", 1)[0] + "\n") if latest.exists() else None
        )
        if held is not None and held.size > size:
            raise WitnessError(f"witness directory holds a checkpoint of {held.size} entries, newer than {size}")
        if held is not None and held.size > 0:
            # As a C2SP witness does: accept only a checkpoint that extends the one held (RFC 9162 2.1.4).
            if old_size != held.size:
                raise WitnessError(f"proof is from {old_size} entries, the witness holds {held.size}")
            try:
                verify_consistency(held.size, size, held.root, offered.root, proof)
            except ProofError as exc:
                raise WitnessError(f"checkpoint of {size} entries does not extend the one held: {exc}") from None
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
        import httpx  # here, not at the top: only a gateway with a remote witness needs an HTTP client

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
    """The configured witness: a directory (GATEWAY_WITNESS_DIR, by default GATEWAY_DATA_DIR/witness),
    else GATEWAY_WITNESS_URL; none only when turned off."""
    directory = settings.resolved_witness_dir
    if directory is not None:
        return DirectoryWitness(directory)
    if settings.witness_url:
        return HttpWitness(settings.witness_url)
    return None


#: Said wherever the log is checked without a witness (``audit verify``, the IG integrity page, start-up).
NO_WITNESS = (
    "No witness is configured (GATEWAY_WITNESS_DIR=off): a rollback of the log (a restored older copy of "
    "the database, a truncation to an earlier checkpoint, entries rewritten and re-signed) cannot be detected."
)


@dataclass(frozen=True)
class WitnessStatus:
    kind: str  # directory | url | off
    where: str | None
    rollback_detectable: bool
    notes: tuple[str, ...] = ()  # the checkpoints a directory witness holds (a URL witness keeps its own)

    @property
    def newest(self) -> int:
        return max((_size(n) for n in self.notes), default=0)

    def summary(self) -> str:
        if self.kind == "off":
            return NO_WITNESS
        if self.kind == "url":
            return (
                f"Checkpoints are handed to the witness at {self.where}, which refuses any that does not extend "
                "what it saw; this check does not consult it."
            )
        held = f"newest covers {self.newest} entries" if self.notes else "none yet"
        return f"Witness directory {self.where}: {len(self.notes)} checkpoints held ({held})."


def status(settings: Settings) -> WitnessStatus:
    directory = settings.resolved_witness_dir
    if directory is not None:
        return WitnessStatus("directory", str(directory), True, tuple(_notes(directory)))
    if settings.witness_url:
        return WitnessStatus("url", settings.witness_url, True)
    return WitnessStatus("off", None, False)


def _notes(directory: Path) -> list[str]:
    """Every checkpoint the directory holds: each numbered one, and the newest (``checkpoint``), which is
    kept even if the numbered files are pruned."""
    if not directory.is_dir():
        return []
    paths = sorted(directory.glob("checkpoint.*"))
    if (directory / "checkpoint").is_file():
        paths.append(directory / "checkpoint")
    notes = dict.fromkeys(p.read_text(encoding="utf-8") for p in paths)
    return list(notes)


def _size(note: str) -> int:
    return Checkpoint.parse(note.split("\n\n", 1)[0] + "\n").size


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

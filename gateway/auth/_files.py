"""Writing key files: created with mode 0600, never replacing an existing file."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from gateway.auth.errors import KeyFileError


def write_secret_file(path: Path, data: bytes) -> None:
    """Create ``path`` with mode 0600 and write ``data``; refuse to replace an existing file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyFileError(f"{path} already exists; refusing to overwrite a key file") from None
    try:
        os.fchmod(fd, 0o600)
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        path.unlink(missing_ok=True)  # created here and never finished: half a secret is only a liability
        raise
    os.close(fd)


def load_or_create_secret(path: Path, size: int = 32) -> bytes:
    """The random secret in ``path``, created (mode 0600) when absent; safe when processes race."""
    path = Path(path)
    if not path.exists():
        with contextlib.suppress(KeyFileError):  # another process created it first: use theirs
            write_secret_file(path, os.urandom(size))
    data = path.read_bytes()
    if len(data) < size:
        raise KeyFileError(f"{path} holds {len(data)} bytes; at least {size} are required")
    return data

"""Reading a policy directory: the one reader that the engines, the Rego test runner and the store share.

:func:`read_policy` reads each file once, as bytes, and everything else comes from those bytes: the
revision (gateway/policy/revision.py) is the hash of exactly them, the modules an engine parses are
them decoded, ``data.json`` is them parsed, and the store keeps them. So a revision always names what
was loaded, and what is stored under it is what decided, with no second look at the directory.

An edit while the directory is being read would still load a mix of two policies that never existed
together. Each file is ``stat``-ed before anything is read and again after everything is, and the
listing taken again: a file written, replaced, added or removed in between changes its inode, size,
mtime or ctime (which no process can set back), and the load is refused
(:class:`PolicyLoadError`, "changed while it was being loaded").
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.policy.revision import DATA_FILE, policy_modules, rego_test_modules, revision_of


class PolicyLoadError(Exception):
    """The policy directory cannot be loaded: the message says which file and what is wrong."""


@dataclass(frozen=True, slots=True)
class PolicySource:
    """A policy directory as read once: its bytes, and what an engine, the test runner and the store need.

    ``files`` is what the revision covers (each production module and ``data.json``, as relative path
    and bytes, sorted); ``tests`` the ``*_test.rego`` modules, when they were asked for (never part of
    the revision). ``data`` is ``data.json`` with the catalogue ids added as ``data.gateway.catalogue``;
    ``modules`` the production modules decoded (bytes as read: no newline translation).
    """

    directory: Path
    catalogue_ids: tuple[str, ...]
    files: tuple[tuple[str, bytes], ...]
    revision: str
    data: Mapping[str, Any] = field(repr=False)
    modules: tuple[tuple[str, str], ...] = field(repr=False)
    tests: tuple[tuple[str, str], ...] = field(default=(), repr=False)

    def texts(self) -> dict[str, str]:
        """Each file the revision covers, decoded, by relative path: what the store keeps."""
        return {rel: content.decode("utf-8") for rel, content in self.files}

    def for_catalogue(self, catalogue_ids: Sequence[str]) -> PolicySource:
        """The same bytes under another field catalogue (a new revision and data), without reading again."""
        if tuple(catalogue_ids) == self.catalogue_ids:
            return self
        return policy_source(self.directory, self.files, catalogue_ids, tests=self.tests)


def read_policy(directory: Path, catalogue_ids: Sequence[str], *, with_tests: bool = False) -> PolicySource:
    """Read ``directory`` once (the Rego unit tests too ``with_tests``); see the module docstring."""
    directory = Path(directory)
    if not directory.is_dir():
        raise PolicyLoadError(f"{directory}: policy directory not found")
    listing = _listing(directory, with_tests)
    before = _stats(listing)
    contents = {path: _read(path) for path in listing}
    if _listing(directory, with_tests) != listing or _stats(listing) != before:
        raise PolicyLoadError(f"{directory}: the policy changed while it was being loaded")
    tests = tuple(
        (_relative(path, directory), _decode(path, content))
        for path, content in contents.items()
        if path.name.endswith("_test.rego")
    )
    files = tuple(
        sorted(
            (_relative(path, directory), content)
            for path, content in contents.items()
            if not path.name.endswith("_test.rego")
        )
    )
    return policy_source(directory, files, catalogue_ids, tests=tests)


def as_source(policy: Path | PolicySource, catalogue_ids: Sequence[str]) -> PolicySource:
    """``policy`` as read once, for an engine: a directory is read here; a source already read is taken
    as it is (under ``catalogue_ids``, which only re-derives its revision and data if they differ: a
    gateway refuses that for the policy it serves, gateway/policy/loader.py)."""
    if isinstance(policy, PolicySource):
        return policy.for_catalogue(catalogue_ids)
    return read_policy(Path(policy), catalogue_ids)


def compute_revision(policy_dir: Path, catalogue_ids: Sequence[str]) -> str:
    """The revision of the policy in ``policy_dir`` (gateway/policy/revision.py)."""
    return read_policy(policy_dir, catalogue_ids).revision


def policy_source(
    directory: Path,
    files: Sequence[tuple[str, bytes]],
    catalogue_ids: Sequence[str],
    *,
    tests: Sequence[tuple[str, str]] = (),
) -> PolicySource:
    """A :class:`PolicySource` from bytes already read (``directory`` names them in errors)."""
    directory = Path(directory)
    ids = tuple(catalogue_ids)
    by_name = dict(files)
    data_file = directory / DATA_FILE
    if DATA_FILE not in by_name:
        raise PolicyLoadError(f"{data_file}: policy data file is missing")
    data = _policy_data(data_file, by_name[DATA_FILE], ids)
    modules = tuple((rel, _decode(directory / rel, content)) for rel, content in sorted(files) if rel.endswith(".rego"))
    if not modules:
        raise PolicyLoadError(f"{directory}: no Rego modules (*.rego) found")
    return PolicySource(
        directory=directory,
        catalogue_ids=ids,
        files=tuple(sorted(files)),
        revision=revision_of(files, ids),
        data=data,
        modules=modules,
        tests=tuple(tests),
    )


def _listing(directory: Path, with_tests: bool) -> tuple[Path, ...]:
    """Every file a load reads, in a stable order: production modules, data.json, then tests."""
    paths = [*policy_modules(directory)]
    data_file = directory / DATA_FILE
    if data_file.is_file():
        paths.append(data_file)
    if with_tests:
        paths.extend(rego_test_modules(directory))
    return tuple(paths)


def _stats(paths: Sequence[Path]) -> tuple[tuple[int, int, int, int] | None, ...]:
    return tuple(_stat(path) for path in paths)


def _stat(path: Path) -> tuple[int, int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None  # gone: differs from the stat taken before, when it was listed
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise PolicyLoadError(f"{path}: cannot read policy file: {exc}") from exc


def _relative(path: Path, directory: Path) -> str:
    return path.relative_to(directory).as_posix()


def _decode(path: Path, content: bytes) -> str:
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PolicyLoadError(f"{path}: cannot read policy module: {exc}") from exc


def _policy_data(path: Path, content: bytes, catalogue_ids: tuple[str, ...]) -> dict[str, Any]:
    """``data.json`` with the catalogue ids added as ``data.gateway.catalogue``."""
    try:
        data = json.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PolicyLoadError(f"{path}: cannot read policy data: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("gateway"), dict):
        raise PolicyLoadError(f'{path}: policy data must be an object with a "gateway" object')
    if "catalogue" in data["gateway"]:
        raise PolicyLoadError(f"{path}: gateway.catalogue comes from the field catalogue; remove it here")
    if "disclosure" in data["gateway"]:
        raise PolicyLoadError(f"{path}: gateway.disclosure is the policy package; data may not use it")
    ids = list(catalogue_ids)
    if not ids or len(ids) != len(set(ids)) or not all(isinstance(i, str) and i for i in ids):
        raise PolicyLoadError("the field catalogue must be a non-empty list of distinct field ids")
    data["gateway"]["catalogue"] = ids
    return data

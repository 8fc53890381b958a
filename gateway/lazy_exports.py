"""A package's re-exported names loaded on first use (PEP 562's module ``__getattr__``).

Every ``ld-gateway`` command imports its package's ``cli`` module, and with it the package's
``__init__``; a package whose public names live in heavy modules (the authorization server, the Rego
engine) lists where each name lives instead, so a command pays only for what it uses.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(namespace: dict[str, Any], homes: Mapping[str, str]) -> Callable[[str], Any]:
    """The module ``__getattr__`` for the package whose ``globals()`` is ``namespace``: a name in
    ``homes`` is imported from the module named there and kept, so it is looked up once."""

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {namespace['__name__']!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(home), name)
        namespace[name] = value
        return value

    return __getattr__

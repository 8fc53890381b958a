"""Reading a parsed FHIR document with a record of what was read.

Every element of an inbound document is either read by the mapping or refused: a :class:`Node` marks
each element it hands out, and :func:`unread` afterwards names every element nobody read, so a value
the supplier meant to share is never silently dropped.

:class:`Reading` is the state of one mapping: the elements read, the problems found, the document's
resources by reference, and the canonical assessment being built.
"""

from __future__ import annotations

from typing import Any

from gateway.issue import Issue


class Node:
    """A JSON value and its FHIRPath-like expression; reading a key marks it (and all below it) read."""

    __slots__ = ("expr", "used", "value")

    def __init__(self, value: Any, expr: str, used: set[str]) -> None:
        self.value = value
        self.expr = expr
        self.used = used

    def mark(self) -> None:
        """This element and everything below it count as read."""
        self.used.add(self.expr)

    def has(self, key: str) -> bool:
        return isinstance(self.value, dict) and key in self.value

    def get(self, key: str) -> Any:
        """The value under ``key`` without marking it read (to choose how to read it)."""
        return self.value.get(key) if isinstance(self.value, dict) else None

    def raw(self, key: str) -> Any:
        """The value under ``key`` (None when absent), marked read with everything below it."""
        if not self.has(key):
            return None
        self.used.add(f"{self.expr}.{key}")
        return self.value[key]

    def ignore(self, *keys: str) -> None:
        """Elements the gateway reads and deliberately does not use (display text, times it derives)."""
        for key in keys:
            self.raw(key)

    def child(self, key: str) -> Node | None:
        if not self.has(key) or not isinstance(self.value[key], dict):
            return None
        return Node(self.value[key], f"{self.expr}.{key}", self.used)

    def items(self, key: str) -> list[Node]:
        value = self.get(key)
        if not isinstance(value, list):
            return []
        return [Node(v, f"{self.expr}.{key}[{i}]", self.used) for i, v in enumerate(value)]

    def concept(self) -> tuple[str | None, str | None]:
        """(system, code) of this CodeableConcept's first coding. Its ``text`` and the coding's ``display``
        are read (display only); a second coding stays unread, so it is refused."""
        self.raw("text")
        codings = self.items("coding")
        if not codings:
            return None, None
        first = codings[0]
        first.ignore("display", "version", "userSelected")
        return _str(first.raw("system")), _str(first.raw("code"))

    def coding(self, key: str) -> tuple[str | None, str | None]:
        """(system, code) of the CodeableConcept at ``key``; (None, None) when absent."""
        concept = self.child(key)
        if concept is None:
            return None, None
        return concept.concept()

    def text(self, key: str) -> str | None:
        value = self.raw(key)
        return value if isinstance(value, str) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def unread(value: Any, expr: str, used: set[str], out: list[str]) -> bool:
    """Collect the highest unread elements into ``out``; True when nothing in ``value`` was read."""
    if expr in used:
        return False
    if isinstance(value, dict):
        children = [(f"{expr}.{k}", v) for k, v in value.items()]
    elif isinstance(value, list):
        children = [(f"{expr}[{i}]", v) for i, v in enumerate(value)]
    else:
        return True
    results = [(e, unread(v, e, used, out)) for e, v in children]
    if children and all(nothing for _, nothing in results):
        return True
    out.extend(e for e, nothing in results if nothing)
    return False


class Reading:
    """One mapping in progress: what was read, what is wrong, what the document holds."""

    def __init__(self, bundle: dict[str, Any]) -> None:
        self.used: set[str] = set()
        self.root = Node(bundle, "Bundle", self.used)
        self.problems: list[Issue] = []
        #: Resources by every name a reference may use: the entry's ``fullUrl`` and ``Type/id``.
        self.resources: dict[str, Node] = {}
        #: The canonical assessment being built.
        self.doc: dict[str, Any] = {}
        #: Canonical path (``subject.nhs_number``) -> the element it came from, to locate later problems.
        self.origins: dict[str, str] = {}
        #: Codes already read, per resource type (each finding is given once).
        self.seen: dict[str, set[str]] = {}
        #: Flag code -> where it is; checked against the values once everything is read.
        self.flags: dict[str, str] = {}
        #: Capacity answers (an Observation) that belong in ``consent``.
        self.capacity: dict[str, Any] = {}
        #: Agency code of the Composition's author Organization.
        self.author_code: str | None = None
        self.author_at = "Bundle.entry.resource.ofType(Organization).identifier"

    def problem(self, code: str, diagnostics: str, expression: str) -> None:
        self.problems.append(Issue(code, diagnostics, expression))

    def put(
        self, target: dict[str, Any], key: str, value: Any, origin: Node | str | None = None, path: str = ""
    ) -> None:
        """Set ``target[key]`` when ``value`` is not None, remembering where (``origin``) the canonical
        ``path`` came from."""
        if value is None:
            return
        target[key] = value
        if origin is not None:
            self.origins[path] = origin if isinstance(origin, str) else origin.expr

    def resolve(self, reference: Node | None, want: tuple[str, ...]) -> Node | None:
        """The resource a Reference points at, which must be one of ``want`` in this document; a problem
        (and None) otherwise. ``display`` is read and ignored."""
        if reference is None:
            return None
        reference.ignore("display", "type")
        target = reference.raw("reference")
        found = self.resources.get(target) if isinstance(target, str) else None
        if found is None or found.get("resourceType") not in want:
            self.problem("invalid", f"must reference the document's {' or '.join(want)}", f"{reference.expr}.reference")
            return None
        return found

    def subject(self, resource: Node, key: str = "subject") -> None:
        """The resource is about the document's Patient (when it says whom it is about)."""
        self.resolve(resource.child(key), ("Patient",))

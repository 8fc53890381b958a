"""Help texts in the words a user types: ``--nhs-number NHS_NUMBER`` and ``ASSESSMENT_ID``, never the
parser's own labels (``<str>``, ``<list[str]>``, ``<bool>`` beside a flag, ``{assessment_id}``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperArgument, TyperGroup

if TYPE_CHECKING:
    # typer runs on its own copy of click (typer._click), not on the `click` package: its commands,
    # parameters and contexts are these classes.
    from typer._click import Command, Context, Parameter


class _PlainArgument(TyperArgument):
    def _usage_display_name(self) -> str:
        name = self.display_name_raw
        name = name if self.required else f"[{name}]"
        return name + ("..." if self.nargs != 1 else "")

    def display_type_rich(self, ctx: Context) -> str | None:
        return None  # the name column already says what to type


def _metavar(param: Parameter) -> str | None:
    if param.metavar is not None:
        return param.metavar
    if getattr(param, "is_flag", False):
        return ""
    described = getattr(param, "type_descriptor", None)  # typer's own parameters
    choices = getattr(described, "choices", None) or getattr(getattr(param, "type", None), "choices", None)
    if choices:
        return "|".join(str(getattr(c, "value", c)) for c in choices)
    if getattr(described, "annotation", None) is int:
        return "N"
    if described is not None and getattr(described, "is_path", False):
        return {"file": "FILE", "directory": "DIR"}.get(described.path_type, "PATH")
    if isinstance(param, TyperArgument):
        return (param.name or "value").upper()
    longest = max((o for o in param.opts if o.startswith("--")), key=len, default=param.name or "value")
    return longest.lstrip("-").replace("-", "_").upper()


def plain_help(command: Command) -> None:
    """Give every parameter under ``command`` a plain metavar (its name in capitals, N for a number,
    nothing for a flag), unless the code chose one."""
    help_option = command.get_help_option(typer.Context(command))  # made once, then cached by click
    if help_option is not None:
        help_option.metavar = ""
    for param in command.params:
        param.metavar = _metavar(param)
        if isinstance(param, TyperArgument):
            param.__class__ = _PlainArgument
    for sub in getattr(command, "commands", {}).values():
        plain_help(sub)


class PlainHelpGroup(TyperGroup):
    """The root ``ld-gateway`` group: typer builds every subcommand before this, so one walk covers all."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        plain_help(self)

    def make_context(
        self, info_name: str | None, args: list[str], parent: Context | None = None, **extra: Any
    ) -> Context:
        # typer adds --install-completion and --show-completion after construction.
        for param in self.params:
            param.metavar = _metavar(param)
        return super().make_context(info_name, args, parent, **extra)

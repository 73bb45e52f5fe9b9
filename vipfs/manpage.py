"""`vipfs man`: the manual page, written from the argparse parser so it cannot drift from it.

Owns: walking the whole command-line parser (every command, nested ones too, with their
options: `commands`), and rendering it as a man(7) page.
Imports: `vipfs` (the version) and `vipfs.cli` (the parser), when it runs.

There is no hand-written copy to keep in step: `vipfs man | man -l -` reads it, and a package
can install `vipfs man > vipfs.1`. The page has no date, so the same parser gives the same page.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from vipfs import __version__


@dataclass(frozen=True, slots=True)
class Command:
    """One (sub)command: its words after `vipfs`, one-line help, parser and own actions."""

    path: tuple[str, ...]
    help: str
    parser: argparse.ArgumentParser

    @property
    def options(self) -> list[argparse.Action]:
        return [a for a in shown(self.parser) if a.option_strings]

    @property
    def positionals(self) -> list[argparse.Action]:
        return [a for a in shown(self.parser) if not a.option_strings]

    @property
    def subcommands(self) -> list[str]:
        return [name for a in _subparsers(self.parser) for name in a.choices]


def shown(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """The actions `--help` shows (not the hidden ones, not the subcommand table)."""
    return [
        a
        for a in parser._actions  # argparse's own list; there is no public one
        if a.help is not argparse.SUPPRESS and not isinstance(a, argparse._SubParsersAction)
    ]


def _subparsers(parser: argparse.ArgumentParser) -> list[argparse._SubParsersAction[Any]]:
    return [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]


def commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = (), help_text: str = ""
) -> Iterator[Command]:
    """`parser` and every command under it, depth first; each lazily configured one is loaded
    (the command table imports a command's module only when it runs)."""
    load = getattr(parser, "load", None)
    if callable(load):
        load()
    yield Command(path, help_text or parser.description or "", parser)
    for action in _subparsers(parser):
        helps = {c.dest: c.help or "" for c in action._choices_actions}
        for name, sub in action.choices.items():
            yield from commands(sub, (*path, name), helps.get(name, ""))


def value_name(action: argparse.Action) -> str:
    """What follows an option in the usage (`SECONDS`), or "" for a flag."""
    if action.nargs == 0:
        return ""
    if action.metavar is not None:
        return str(action.metavar)
    if action.choices is not None:
        return "{" + ",".join(str(c) for c in action.choices) + "}"
    return action.dest.upper()


def _roff(text: str) -> str:
    """Text safe in a man page: backslashes and hyphens escaped, no line read as a request."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\n".join("\\&" + line if line[:1] in ".'" else line for line in text.splitlines())


def _help(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    """The help as `--help` prints it (`%(default)s` and the like filled in)."""
    return parser._get_formatter()._expand_help(action) if action.help else ""


def _entry(parser: argparse.ArgumentParser, action: argparse.Action) -> list[str]:
    if action.option_strings:
        value = value_name(action)
        names = ", ".join(
            f"\\fB{_roff(o)}\\fR" + (f" \\fI{_roff(value)}\\fR" if value else "")
            for o in action.option_strings
        )
    else:
        names = f"\\fI{_roff(str(action.metavar or action.dest))}\\fR"
    return [".TP", names, _roff(_help(parser, action))]


def render(parser: argparse.ArgumentParser) -> str:
    """The whole manual page (roff) for `parser` and its commands."""
    top, *subs = commands(parser)
    lines = [
        f'.TH VIPFS 1 "" "vipfs {__version__}" "User Commands"',
        ".SH NAME",
        f"vipfs \\- {_roff(top.help)}",
        ".SH SYNOPSIS",
        "\\fBvipfs\\fR \\fICOMMAND\\fR [\\fIOPTIONS\\fR]",
        ".br",
        "\\fBvipfs\\fR \\fISOURCE\\fR \\fIMOUNTPOINT\\fR \\fB\\-o\\fR \\fIOPTIONS\\fR "
        "(as mount.vipfs, from mount(8) and fstab)",
        ".SH OPTIONS",
    ]
    for action in top.options:
        lines += _entry(parser, action)
    lines.append(".SH COMMANDS")
    for command in subs:
        usage = command.parser.format_usage().removeprefix("usage: ").strip()
        lines += [f'.SS "{" ".join(command.path)}"', _roff(command.help), ".PP"]
        lines.append(_roff(" ".join(usage.split())))  # one line whatever $COLUMNS: roff fills
        for action in shown(command.parser):
            lines += _entry(command.parser, action)
    lines += [
        ".SH FILES",
        "\\fIMOUNTPOINT\\fR/.vipfs/status.json: the upload queue and rate\\-limit budget of a"
        " mount (what \\fBvipfs status\\fR reads).",
        ".SH SEE ALSO",
        "fusermount3(1), mount.fuse3(8), fstab(5)",
    ]
    return "\n".join(lines) + "\n"


def configure(parser: argparse.ArgumentParser) -> None:
    del parser  # no options: the page is the whole parser


def run(args: argparse.Namespace) -> int:
    del args
    from vipfs.cli import build_parser

    print(render(build_parser()), end="")
    return 0

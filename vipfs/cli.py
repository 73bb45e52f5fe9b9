"""The `vipfs` command: one subcommand per module, imported only when needed.

Owns: the table of commands, the dispatch to them and how a parser reports a mistake (two
lines: a short usage and the error, with "did you mean" for a typo). Imports: `vipfs` (the
version) and, lazily, the one command module that argv names.

Each command module exposes `configure(parser)` to declare its options and `run(args) -> int`.
A command's module is imported only when argparse hands that command its arguments, so
`vipfs --help` lists the table without importing anything, and `vipfs emulator` starts on a
machine without pyfuse3. This file stays a table rather than a second home for every option.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import itertools
import sys
from collections.abc import Sequence
from typing import Any, NoReturn, Protocol, cast

from vipfs import __version__

# (name, module, one-line help). Order is the order `vipfs --help` shows.
COMMANDS: list[tuple[str, str, str]] = [
    ("mount", "vipfs.mount", "mount an XVS account as a directory"),
    ("umount", "vipfs.umount", "unmount a vipfs mount once its uploads are done"),
    ("status", "vipfs.status", "show a mount's upload queue, failures and rate-limit budget"),
    ("events", "vipfs.eventscmd", "print a mount's events (queued, uploaded, ready, ...) as JSON"),
    ("clone", "vipfs.clone", "copy a file on the host (file/clone), no bytes moved"),
    ("url-upload", "vipfs.urlupload", "let the host fetch a URL into a folder (upload/url)"),
    ("mirror", "vipfs.mirrorcmd", "mirror sync: give every member of a mirror what it lacks"),
    ("links", "vipfs.links", "print the links of files: txt, csv, json, bbcode, html, md"),
    ("config", "vipfs.config_check", "check the config: files, remotes, API URL, key (masked)"),
    ("demo", "vipfs.demo", "mount an emulated account with sample content"),
    ("emulator", "vipfs.emulator.cli", "run an XVS host emulator on 127.0.0.1"),
    ("man", "vipfs.manpage", "print the manual page (roff): vipfs man | man -l -"),
    ("completion", "vipfs.completion", "print a completion script: vipfs completion bash"),
]


class CommandModule(Protocol):
    def configure(self, parser: argparse.ArgumentParser) -> None: ...
    def run(self, args: argparse.Namespace) -> int: ...


def is_mount_helper_call(argv: Sequence[str]) -> bool:
    """`vipfs SOURCE MOUNTPOINT -o ...`: how fuse3's mount.fuse3 runs us for `-t fuse.vipfs`."""
    names = {name for name, _, _ in COMMANDS}
    return len(argv) >= 2 and argv[0] not in names and not argv[0].startswith("-")


class _Parser(argparse.ArgumentParser):
    """A parser that says what went wrong in two lines: no prefix abbreviations (a typo is not
    another option), a short usage line (not every option), and "did you mean" for a typo.

    Unknown arguments are refused by the parser they were given to, so the usage line shown is
    that subcommand's."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        if args is not None and self._subparsers is None:  # a leaf: every argument is its own
            known = {flag for action in self._actions for flag in action.option_strings}
            for arg in itertools.takewhile(lambda arg: arg != "--", args):
                if arg.startswith("--") and arg.partition("=")[0] not in known:
                    self.error(self._unrecognized([arg]))  # before "mountpoint is required"
        namespace, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(self._unrecognized(extras))
        return namespace, extras

    def _unrecognized(self, extras: list[str]) -> str:
        option = next((arg.partition("=")[0] for arg in extras if arg.startswith("-")), None)
        if option is None:
            return f"unrecognized arguments: {' '.join(extras)}"
        known = [flag for action in self._actions for flag in action.option_strings]
        close = difflib.get_close_matches(option, known, n=1, cutoff=0.75)  # a typo, not a guess
        return f"unrecognized option {option}" + (f"; did you mean {close[0]}?" if close else "")

    def short_usage(self) -> str:
        """`usage: vipfs mount [options] [remote] mountpoint`: the positionals, options as one."""
        formatter = self._get_formatter()
        formatter.add_usage(None, self._get_positional_actions(), [], prefix="")
        positionals = formatter.format_help().strip().removeprefix(self.prog)
        return f"usage: {self.prog} [options]{positionals}"

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.short_usage()}\n{self.prog}: error: {message}\n")


class _Command(_Parser):
    """A subcommand's parser that imports and configures its module on first use.

    argparse's subparsers action calls `parse_known_args` on the chosen subcommand only, so
    that call is the one place where a command's module must exist.
    """

    def __init__(self, *args: Any, module: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._module_name = module
        self._loaded = not module

    def load(self) -> None:
        if not self._loaded:
            self._loaded = True
            module = cast(CommandModule, importlib.import_module(self._module_name))
            module.configure(self)
            self.set_defaults(_run=module.run)

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        self.load()
        return super().parse_known_args(args, namespace)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="vipfs",
        description="Mount an XVideoSharing (vipstream.cc) account as a Linux filesystem.",
    )
    parser.add_argument("--version", action="version", version=f"vipfs {__version__}")
    sub = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=_Command
    )  # not `required`: `vipfs` alone lists the commands, `vipfs --verison` gets "did you mean"
    for name, module_name, help_text in COMMANDS:
        sub.add_parser(name, help=help_text, description=help_text, module=module_name)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if is_mount_helper_call(argv):
        from vipfs import mount_helper

        return mount_helper.main(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:  # what a new user types first: the commands, not an error
        parser.print_help()
        return 2
    try:
        return int(args._run(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

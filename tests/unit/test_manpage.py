"""The man page and the bash completion come from the parser: neither can miss a command or
an option of it (the oracle here is argparse itself, walked independently of `manpage`)."""

from __future__ import annotations

import argparse
import shutil
import subprocess
from collections.abc import Iterator

import pytest

from vipfs import cli, completion, manpage


def walk(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], list[str]]]:
    """Each command path with its option strings, as argparse holds them."""
    if isinstance(parser, cli._Command):
        parser.load()
    options = [
        o for a in parser._actions if a.help is not argparse.SUPPRESS for o in a.option_strings
    ]
    yield path, options
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from walk(sub, (*path, name))


COMMANDS = list(walk(cli.build_parser()))


def test_the_walk_sees_every_command_of_the_table_and_nested_ones() -> None:
    paths = [path for path, _ in COMMANDS]
    assert [p[0] for p in paths if len(p) == 1] == [name for name, _, _ in cli.COMMANDS]
    assert ("config", "check") in paths  # a command under a command
    assert ("man",) in paths and ("completion",) in paths


def sections(page: str) -> dict[tuple[str, ...], str]:
    """The man page cut at each `.SS "command"` (the top: what precedes COMMANDS), its roff
    escapes of hyphens undone."""
    top, rest = page.replace("\\-", "-").split("\n.SH COMMANDS\n", 1)
    found = {(): top}
    for part in rest.split('.SS "')[1:]:
        title, _, body = part.partition('"\n')
        found[tuple(title.split())] = body
    return found


def test_the_man_page_has_every_command_and_each_of_its_options() -> None:
    page = manpage.render(cli.build_parser())
    cut = sections(page)
    for path, options in COMMANDS:
        assert path in cut, f"no section for {' '.join(path)}"
        for option in options:
            assert f"\\fB{option}\\fR" in cut[path], f"{option} of {' '.join(path)}"
    assert page.startswith(".TH VIPFS 1 ")
    assert page == manpage.render(cli.build_parser())  # no date: the same parser, the same page


def test_man_text_never_reads_as_a_roff_request() -> None:
    parser = argparse.ArgumentParser(prog="x", description="top")
    parser.add_argument("--dots", help=".starts with a dot \\ and a backslash")
    page = manpage.render(parser)
    assert "\n\\&.starts with a dot \\e and a backslash\n" in page
    assert "\n.starts" not in page


BASH = shutil.which("bash")


def complete(script: str, words: list[list[str]]) -> list[list[str]]:
    """What bash offers (COMPREPLY) for each word list, the last word being completed."""
    lines = [script]
    for ws in words:
        quoted = " ".join("'" + w.replace("'", "'\\''") + "'" for w in ws)
        lines += [
            f"COMP_WORDS=({quoted}); COMP_CWORD={len(ws) - 1}; _vipfs",
            'printf "%s\\n" "${COMPREPLY[*]}"',
        ]
    assert BASH is not None
    out = subprocess.run(
        [BASH, "--norc", "-c", "\n".join(lines)], capture_output=True, text=True, check=True
    ).stdout
    return [line.split() for line in out.splitlines()]


@pytest.mark.skipif(BASH is None, reason="needs bash")
def test_bash_completion_offers_every_command_and_each_of_its_options() -> None:
    script = completion.bash(cli.build_parser())
    asked = [["vipfs", *path, "-"] for path, _ in COMMANDS]
    for (path, options), offered in zip(COMMANDS, complete(script, asked), strict=True):
        assert sorted(offered) == sorted(options), " ".join(path)
    top = [name for name, _, _ in cli.COMMANDS]
    assert complete(script, [["vipfs", ""], ["vipfs", "config", ""]]) == [top, ["check"]]


@pytest.mark.skipif(BASH is None, reason="needs bash")
def test_bash_completion_skips_option_values_and_offers_fixed_choices() -> None:
    script = completion.bash(cli.build_parser())
    assert complete(
        script,
        [
            ["vipfs", "mount", "--transfers", "3", "--for"],  # `3` is a value, not a command
            ["vipfs", "completion", ""],
            ["vipfs", "emulator", "--invalid-key-status", ""],
            ["vipfs", "mount", "--transfers", ""],  # any number: nothing offered
        ],
    ) == [["--foreground"], ["bash"], ["400", "403"], []]


def test_the_commands_print_the_page_and_the_script(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["man"]) == 0
    assert capsys.readouterr().out == manpage.render(cli.build_parser())
    assert cli.main(["completion", "bash"]) == 0
    assert capsys.readouterr().out == completion.bash(cli.build_parser())

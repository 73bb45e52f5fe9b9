"""The conventions of docs/SEMANTICS.md's examples: parsing, matching, setups, the shell.

If these were wrong, the document test could pass while comparing nothing, so each convention
is pinned here on small made-up documents.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.semdoc import DEFAULT_SETUP, DocError, Setup, Shell, matches, parse, shown

SAMPLE = """\
# Title

## First

Some prose.

<!-- prelude -->
```sh
greet() { echo "hi $1"; }
```

```console
$ echo one
one
$ printf 'a\\nb\\n'
a
b
```

## Second

<!-- setup: direct_link=off trash=off -->
```console
$ ls \\
  -d /
/
```

```text
$ not an example
```
"""


def test_parse_finds_blocks_sections_setups_and_prelude() -> None:
    doc = parse(SAMPLE)
    assert doc.sections == ["First", "Second"]
    assert [b.section for b in doc.blocks] == ["First", "Second"]
    first, second = doc.blocks
    assert [(c.text, c.expected) for c in first.commands] == [
        ("echo one", ("one",)),
        ("printf 'a\\nb\\n'", ("a", "b")),
    ]
    assert first.commands[0].line == 13
    assert first.setup == DEFAULT_SETUP
    assert second.setup.label() == "direct_link=off trash=off"
    assert second.commands[0].text == "ls \\\n  -d /"
    assert second.commands[0].expected == ("/",)
    assert doc.prelude == 'greet() { echo "hi $1"; }\n'


def test_a_setup_comment_applies_only_to_the_next_block() -> None:
    doc = parse(
        "## S\n<!-- setup: delete=on -->\n\n```console\n$ true\n```\n\n```console\n$ true\n```\n"
    )
    assert [b.setup.label() for b in doc.blocks] == ["delete=on", "default"]


@pytest.mark.parametrize(
    ("spec", "why"),
    [
        ("colour=blue", "bad setup item"),
        ("delete=yes", "on or off"),
        ("content=x", "demo"),
        ("op_timeout=soon", "seconds"),
        ("embed_url=embed.example/{code}", "http"),
        ("embed_url=https://embed.example/e/", "URL with"),
    ],
)
def test_bad_setups_are_refused(spec: str, why: str) -> None:
    with pytest.raises(DocError, match=why):
        Setup.parse(spec, 3)


def test_setups_become_emulator_and_mount_arguments() -> None:
    setup = Setup.parse("direct_link=off delete=on trash=off sync_uploads=on", 1)
    args = setup.emulator_args()
    assert "--seed-demo" in args
    assert args[args.index("--enable") + 1] == "delete,clone"
    assert "direct_link" in args[args.index("--disable") + 1].split(",")
    assert {"--no-trash", "--sync-uploads"} <= set(setup.mount_args())
    mount = Setup.parse("op_timeout=2.5", 1).mount_args()
    assert mount[mount.index("--op-timeout") + 1] == "2.5"
    embed = Setup.parse("embed_url=https://e.example/{code}", 1).mount_args()
    assert embed[embed.index("--embed-url") + 1] == "https://e.example/{code}"
    assert "--embed-url" not in DEFAULT_SETUP.mount_args()
    assert "--seed-demo" not in Setup.parse("content=empty", 1).emulator_args()
    assert Setup.parse("env=other", 1) != DEFAULT_SETUP
    quiet, polled = DEFAULT_SETUP.mount_args(), Setup.parse("host_polls=on", 1).mount_args()
    assert quiet[quiet.index("--encoding-poll") + 1] == "0"  # statuses stay put by default
    assert polled[polled.index("--takedown-poll") + 1] == "0.3"


def test_a_console_block_must_start_with_a_command() -> None:
    with pytest.raises(DocError, match="starts with"):
        parse("```console\noutput first\n```\n")
    with pytest.raises(DocError, match="unclosed"):
        parse("```console\n$ true\n")


@pytest.mark.parametrize(
    ("expected", "actual", "ok"),
    [
        (["a", "b"], ["a", "b"], True),
        (["a", "b"], ["a", "b  "], True),  # trailing spaces do not count
        (["a"], ["a", "b"], False),
        (["a", "b"], ["a"], False),
        ([], [], True),
        ([], ["x"], False),
        (["..."], [], True),
        (["..."], ["x", "y"], True),
        (["a", "...", "z"], ["a", "z"], True),
        (["a", "...", "z"], ["a", "m", "n", "z"], True),
        (["a", "...", "z"], ["a", "m", "n"], False),
        (["size ... bytes"], ["size 12 bytes"], True),
        (["size ... bytes"], ["size 12 kB"], False),
        (["x.y"], ["xzy"], False),  # the rest is literal, not a regex
        (["...: 0 failed"], ["/mnt: 0 failed"], True),
    ],
)
def test_matching(expected: list[str], actual: list[str], ok: bool) -> None:
    assert matches(expected, actual) is ok


def test_a_failed_command_shows_its_exit_status() -> None:
    assert shown("out\n", 0) == ["out"]
    assert shown("", 2) == ["[exit 2]"]
    assert shown("no newline", 1) == ["no newline", "[exit 1]"]


def test_the_shell_keeps_state_and_separates_outputs(tmp_path: Path) -> None:
    shell = Shell(tmp_path, {"PATH": "/usr/bin:/bin"}, prelude="greet() { echo hi $1; }\n")
    try:
        assert shell.run("greet you") == ("hi you\n", 0)
        assert shell.run("cd /; X=5") == ("", 0)
        assert shell.run("pwd; echo $X") == ("/\n5\n", 0)
        assert shell.run("printf partial") == ("partial", 0)
        assert shell.run("echo err >&2; false") == ("err\n", 1)
        assert shell.run("cat") == ("", 0)  # stdin is /dev/null, not the script
        with pytest.raises(TimeoutError):
            shell.run("sleep 5", timeout=0.2)
    finally:
        shell.close()

"""The executable examples of docs/SEMANTICS.md: parsing, output matching, a persistent shell.

The document's own "How the examples run" section is the user-facing description of these
conventions; this module is their one implementation, used by `test_semantics_doc.py`.

* An example is a fenced block opened by ```` ```console ````. A line starting with `$ ` is a
  command (a trailing `\\` continues it on the next line); the lines up to the next command are
  its expected output, stdout and stderr together.
* A command that exits non-zero prints a last line `[exit N]` (the shell adds it), so a refusal
  in the document always says how it ended.
* In expected output, a line that is exactly `...` stands for any number of lines (none too);
  `...` inside a line stands for any text on that line. Trailing spaces are ignored.
* `<!-- setup: key=value ... -->` on the line before a block picks the environment it runs in
  (see `Setup`); blocks with the same setup share one mount, in document order.
* A ```` ```sh ```` block after `<!-- prelude -->` runs first in every shell, unchecked.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import select
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

ELLIPSIS = "..."
SETUP = re.compile(r"<!--\s*setup:(?P<spec>.*?)-->")
PRELUDE = "<!-- prelude -->"

# What a setup may say, and the default of each key (the document's stated set-up).
SETUP_DEFAULTS: Mapping[str, str] = {
    "content": "demo",  # demo: `vipfs emulator --seed-demo`; empty: a new account
    "direct_link": "on",
    "delete": "off",  # file/delete
    "folder_delete": "off",
    "clone": "on",
    "url_uploads": "off",
    "trash": "on",  # off: vipfs mount --no-trash
    "sync_uploads": "off",  # on: vipfs mount --sync-uploads
    "op_timeout": "25",  # seconds: vipfs mount --op-timeout
    "embed_url": "",  # a template: vipfs mount --embed-url (empty: none)
    "on_event": "off",  # on: vipfs mount --on-event HOOK (below)
    # off: --encoding-poll 0 --takedown-poll 0, so statuses stay put; on: both every 0.3 s
    "host_polls": "off",
    "env": "main",  # a name, to get a separate mount with otherwise equal settings
}
# The examples' `--on-event` hook: each event's VIPFS_* variables, sorted, into the file
# "$MNT.SEQ" beside the mount point (written whole, then renamed: a reader never sees half).
HOOK = (
    'env | grep ^VIPFS_ | sort > "$VIPFS_MOUNT.new"'
    ' && mv "$VIPFS_MOUNT.new" "$VIPFS_MOUNT.$VIPFS_SEQ"'
)
EMULATOR_FEATURES = ("direct_link", "delete", "folder_delete", "clone", "url_uploads")


class DocError(Exception):
    """The document breaks its own conventions (a test failure, not a crash)."""


@dataclass(frozen=True, slots=True)
class Setup:
    """The environment a block runs in: emulator switches and mount options, by name."""

    values: tuple[tuple[str, str], ...]

    @classmethod
    def parse(cls, spec: str, line: int) -> Setup:
        values = dict(SETUP_DEFAULTS)
        for word in spec.split():
            key, sep, value = word.partition("=")
            if not sep or key not in SETUP_DEFAULTS:
                raise DocError(f"line {line}: bad setup item {word!r}; keys: {list(values)}")
            if key == "op_timeout":
                if not value.replace(".", "", 1).isdigit():
                    raise DocError(f"line {line}: op_timeout takes seconds, not {value!r}")
            elif key == "embed_url":
                if not value.startswith(("http://", "https://")) or "{code}" not in value:
                    raise DocError(f"line {line}: embed_url takes an http(s) URL with {{code}}")
            elif key not in ("content", "env") and value not in ("on", "off"):
                raise DocError(f"line {line}: {key} takes on or off, not {value!r}")
            values[key] = value
        if values["content"] not in ("demo", "empty"):
            raise DocError(f"line {line}: content is demo or empty")
        return cls(tuple(sorted(values.items())))

    def get(self, key: str) -> str:
        return dict(self.values)[key]

    def emulator_args(self) -> list[str]:
        args = ["--encode-seconds", "86400"]  # uploads stay "encoding": a stable status
        if self.get("content") == "demo":
            args.append("--seed-demo")
        on = [f for f in EMULATOR_FEATURES if self.get(f) == "on"]
        off = [f for f in EMULATOR_FEATURES if self.get(f) == "off"]
        if on:
            args += ["--enable", ",".join(on)]
        if off:
            args += ["--disable", ",".join(off)]
        return args

    def mount_args(self) -> list[str]:
        args = ["--write-back", "2", "--op-timeout", self.get("op_timeout")]
        if self.get("trash") == "off":
            args.append("--no-trash")
        if self.get("sync_uploads") == "on":
            args.append("--sync-uploads")
        if self.get("embed_url"):
            args += ["--embed-url", self.get("embed_url")]
        if self.get("on_event") == "on":
            args += ["--on-event", HOOK]
        every = "0.3" if self.get("host_polls") == "on" else "0"
        return [*args, "--encoding-poll", every, "--takedown-poll", every]

    def label(self) -> str:
        changed = [f"{k}={v}" for k, v in self.values if SETUP_DEFAULTS[k] != v]
        return " ".join(changed) or "default"


DEFAULT_SETUP = Setup.parse("", 0)


@dataclass(frozen=True, slots=True)
class Command:
    line: int  # 1-based line of the `$ ` in the document
    text: str
    expected: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Block:
    line: int  # line of the opening fence
    section: str  # the `## ` heading it sits under
    setup: Setup
    commands: tuple[Command, ...]


@dataclass(slots=True)
class Doc:
    blocks: list[Block] = field(default_factory=list)
    sections: list[str] = field(default_factory=list)
    prelude: str = ""


def parse(text: str) -> Doc:
    """Every example block of the document, with the setup and section it belongs to."""
    doc = Doc()
    lines = text.splitlines()
    section = ""
    previous = ""  # the last non-blank line before the current one
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("## "):
            section = line[3:].strip()
            doc.sections.append(section)
        if line.startswith("```"):
            fence_line = i + 1
            lang = line[3:].strip()
            body: list[str] = []
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                body.append(lines[i])
                i += 1
            if i == len(lines):
                raise DocError(f"line {fence_line}: unclosed code block")
            if lang == "console":
                match = SETUP.fullmatch(previous.strip())
                setup = Setup.parse(match["spec"], fence_line - 1) if match else DEFAULT_SETUP
                commands = _commands(body, fence_line + 1)
                doc.blocks.append(Block(fence_line, section, setup, commands))
            elif previous.strip() == PRELUDE:
                doc.prelude += "\n".join(body) + "\n"
            previous = line
            i += 1
            continue
        if line.strip():
            previous = line
        i += 1
    return doc


def _commands(body: list[str], first_line: int) -> tuple[Command, ...]:
    commands: list[Command] = []
    i = 0
    if body and not body[0].startswith("$ "):
        raise DocError(f"line {first_line}: a console block starts with a `$ ` command")
    while i < len(body):
        start = i
        text = body[i][2:]
        while text.endswith("\\") and i + 1 < len(body):
            i += 1
            text = text + "\n" + body[i]  # bash joins the lines itself
        i += 1
        expected: list[str] = []
        while i < len(body) and not body[i].startswith("$ "):
            expected.append(body[i])
            i += 1
        commands.append(Command(first_line + start, text, tuple(expected)))
    return tuple(commands)


def _line_pattern(expected: str) -> re.Pattern[str]:
    parts = [re.escape(p) for p in expected.rstrip().split(ELLIPSIS)]
    return re.compile(".*?".join(parts), re.S)


def matches(expected: tuple[str, ...] | list[str], actual: list[str]) -> bool:
    """Whether `actual` lines fit the `expected` lines with their `...` wildcards."""
    want = list(expected)
    got = [line.rstrip() for line in actual]

    def fit(w: int, g: int) -> bool:
        if w == len(want):
            return g == len(got)
        if want[w].strip() == ELLIPSIS:
            return any(fit(w + 1, k) for k in range(g, len(got) + 1))
        return (
            g < len(got)
            and _line_pattern(want[w]).fullmatch(got[g]) is not None
            and fit(w + 1, g + 1)
        )

    return fit(0, 0)


class Shell:
    """One bash for one environment: state (cwd, variables, functions) lasts across commands.

    Each command runs with stdin from /dev/null, its stderr merged into stdout, and a marker
    line printed after it carrying its exit status, so outputs never run into each other.
    """

    def __init__(self, cwd: Path, env: Mapping[str, str], prelude: str = "") -> None:
        self.marker = "__semdoc_" + secrets.token_hex(8)
        self.process = subprocess.Popen(
            ["bash", "--norc", "--noprofile"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=dict(env),
            start_new_session=True,  # so a hung example can be killed with all its children
        )
        self._buffer = b""
        if prelude:
            out, status = self.run(prelude, timeout=30)
            if status != 0:
                raise DocError(f"the prelude failed ({status}): {out}")

    def run(self, command: str, timeout: float = 60) -> tuple[str, int]:
        """(output, exit status) of one command."""
        assert self.process.stdin is not None and self.process.stdout is not None
        script = (
            f"{{\n{command}\n}} </dev/null 2>&1\n"
            f"__rc=$?; printf '\\n%s %d\\n' {self.marker} \"$__rc\"\n"
        )
        self.process.stdin.write(script.encode())
        self.process.stdin.flush()
        fd = self.process.stdout.fileno()
        tail = re.compile(rb"\n" + self.marker.encode() + rb" (\d+)\n")
        deadline = time.monotonic() + timeout
        while True:
            found = tail.search(self._buffer)
            if found:
                out = self._buffer[: found.start()]
                self._buffer = self._buffer[found.end() :]
                return out.decode(errors="replace"), int(found[1])
            left = deadline - time.monotonic()
            if left <= 0:
                self.close()
                raise TimeoutError(f"no answer after {timeout:g} s: {command!r}")
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise DocError(f"the shell ended during {command!r}: {self._buffer!r}")
                self._buffer += chunk

    def close(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                pipe.close()


def shown(output: str, status: int) -> list[str]:
    """The lines a command's result is compared as: its output, then `[exit N]` if it failed."""
    lines = output.splitlines()
    if status != 0:
        lines.append(f"[exit {status}]")
    return lines

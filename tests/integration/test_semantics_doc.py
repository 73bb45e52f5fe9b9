"""docs/SEMANTICS.md cannot drift from the code: every example in it runs against a real mount.

Each distinct setup of the document gets its own emulator and `vipfs mount` (started the first
time a block needs it) and one shell; blocks run in document order. A mismatch does not stop
the run: every failing command is reported with a diff of what the document says against what
the shell printed. The structural tests (enough examples, one in every section) need no mount.
"""

from __future__ import annotations

import difflib
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.conftest import Emulator, Mount, unmount, wait_for
from tests.integration.semdoc import Block, Doc, DocError, Setup, Shell, matches, parse, shown

DOC = Path(__file__).resolve().parents[2] / "docs" / "SEMANTICS.md"
MIN_EXAMPLES = 100  # commands (121 now); raise it as the document grows, never lower it quietly


@pytest.fixture(scope="module")
def doc() -> Doc:
    return parse(DOC.read_text())


def test_doc_has_enough_examples(doc: Doc) -> None:
    commands = sum(len(b.commands) for b in doc.blocks)
    assert commands >= MIN_EXAMPLES, f"only {commands} example commands in {DOC.name}"


def test_every_section_has_an_example(doc: Doc) -> None:
    tested = {b.section for b in doc.blocks}
    untested = [s for s in doc.sections if s not in tested]
    assert not untested, f"sections of {DOC.name} without an example: {untested}"


def test_doc_uses_more_than_one_setup(doc: Doc) -> None:
    """The host-dependent answers (no direct_link, delete, --no-trash) are shown, not told."""
    labels = {b.setup.label() for b in doc.blocks}
    assert {"default", "direct_link=off", "delete=on folder_delete=on"} <= labels, labels


@dataclass
class _Env:
    emulator: Emulator
    mount: Mount
    shell: Shell


@pytest.fixture
def environments(
    tmp_path: Path,
    start_emulator: Callable[..., Emulator],
    start_mount: Callable[..., Mount],
    doc: Doc,
) -> Iterator[Callable[[Setup], _Env]]:
    made: dict[Setup, _Env] = {}
    mirrors: list[Mount] = []

    def get(setup: Setup) -> _Env:
        if setup in made:
            return made[setup]
        n = len(made)
        emu = start_emulator(*setup.emulator_args())
        own = tmp_path / f"env{n}"
        own.mkdir()
        log = own / "mount.log"
        extra: dict[str, str] = {}
        if setup.get("mirror") == "on":
            mount, extra["EMU2"] = _mirror(own, emu, start_emulator(*setup.emulator_args()), setup)
            mirrors.append(mount)
        else:
            mount = start_mount(
                emu, "--cache-dir", str(own / "cache"), "--log-file", str(log),
                *setup.mount_args(),
            )  # fmt: skip
        env = {
            "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "HOME": os.environ.get("HOME", str(tmp_path)),
            "LC_ALL": "C.UTF-8",
            "TZ": "UTC",
            "MNT": str(mount.path),
            "EMU": emu.base,
            "VIPFS_LOG": str(log),
            "VIPFS_PID": str(mount.pid),
            "TMP": str(own),
            **extra,
        }
        made[setup] = _Env(emu, mount, Shell(mount.path, env, doc.prelude))
        return made[setup]

    yield get
    for env in made.values():
        env.shell.close()
    for mount in mirrors:  # ours to stop: start_mount did not start them
        unmount(mount.path)
        mount.process.wait(30)


def _mirror(own: Path, vip: Emulator, wish: Emulator, setup: Setup) -> tuple[Mount, str]:
    """`vipfs mount all` of a mirror over `vip` and `wish` (a config file of its own; the
    state and cache of each member under `own`, as XDG directories, since members never
    share one), once it is mounted; and wish's base URL for `$EMU2`."""
    config = own / "config.toml"
    config.write_text(setup.mirror_config((vip.url, vip.key_file), (wish.url, wish.key_file)))
    mnt = own / "mnt"
    mnt.mkdir()
    log = own / "mount.log"
    env = {
        **os.environ,
        "VIPFS_CONFIG": str(config),
        "XDG_STATE_HOME": str(own / "state"),
        "XDG_CACHE_HOME": str(own / "cache"),
    }
    command = [
        sys.executable, "-m", "vipfs", "mount", "all", str(mnt), "-f",
        "--log-file", str(log), *setup.mount_args(),
    ]  # fmt: skip
    with open(own / "mount.stderr", "w") as stderr:
        process = subprocess.Popen(command, stderr=stderr, text=True, env=env)
    wait_for("the mirror to mount", lambda: os.path.ismount(mnt) or process.poll() is not None)
    assert process.poll() is None, (own / "mount.stderr").read_text()
    return Mount(mnt, process, log, command), wish.base


def _run_block(block: Block, env: _Env, failures: list[str]) -> None:
    env.shell.run('cd "$MNT"')
    for command in block.commands:
        try:
            output, status = env.shell.run(command.text)
        except (TimeoutError, DocError) as exc:
            failures.append(f"{DOC.name}:{command.line}: $ {command.text}\n  {exc}")
            return
        got = shown(output, status)
        if not matches(command.expected, got):
            diff = "\n".join(
                difflib.unified_diff(
                    list(command.expected), got, "documented", "actual", lineterm="", n=2
                )
            )
            failures.append(
                f"{DOC.name}:{command.line} ({block.setup.label()}): $ {command.text}\n{diff}"
            )


@pytest.mark.fuse
def test_every_example_runs_as_documented(doc: Doc, environments: Callable[[Setup], _Env]) -> None:
    failures: list[str] = []
    for block in doc.blocks:
        _run_block(block, environments(block.setup), failures)
    assert not failures, f"{len(failures)} example(s) differ:\n\n" + "\n\n".join(failures)

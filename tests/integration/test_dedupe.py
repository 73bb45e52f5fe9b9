"""Copies without bytes (issue 12, item 6), on a real mount against the emulator.

A file copied in whose bytes vipfs already uploaded costs one `file/clone` and no upload; the
clone reads back the same bytes under its own name and title. `--dedupe off`, or a host with
`file/clone` disabled, uploads it as any other file.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.conftest import Emulator, Mount, drained, sh, wait_for

pytestmark = pytest.mark.fuse

DATA = os.urandom(64 * 1024)


def _copy_in(mount: Mount, src: Path, rel: str) -> None:
    target = mount.path / rel
    target.parent.mkdir(exist_ok=True)
    shutil.copyfile(src, target)
    wait_for(f"{rel} on the host", lambda: drained(mount.path))


def _code(path: Path) -> str:
    out = sh("getfattr", "--only-values", "-n", "user.vipfs.code", path)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_a_second_copy_is_one_clone_and_reads_back_the_same(
    emulator: Emulator, start_mount: Callable[..., Mount], tmp_path: Path
) -> None:
    mount = start_mount(emulator, "--write-back", "0.2")
    src = tmp_path / "clip.mp4"
    src.write_bytes(DATA)
    _copy_in(mount, src, "Clips/first.mp4")
    emulator.reset_calls()
    _copy_in(mount, src, "Other/second copy.mp4")

    calls = emulator.calls()
    assert calls.get("upload", 0) == 0 and calls.get("upload/server", 0) == 0
    assert calls.get("file/clone") == 1
    second = mount.path / "Other" / "second copy.mp4"
    first_code, second_code = _code(mount.path / "Clips" / "first.mp4"), _code(second)
    assert first_code != second_code
    held = {f["code"]: f for f in emulator.live_files()}
    assert held[second_code]["title"] == "second copy"
    assert held[second_code]["fld_id"] == emulator.folders()["Other"]
    assert second.read_bytes() == DATA
    assert "cloned as" in mount.log()


@pytest.mark.parametrize("how", ["--dedupe off", "clone disabled"])
def test_without_clone_every_copy_is_uploaded(
    start_emulator: Callable[..., Emulator],
    start_mount: Callable[..., Mount],
    tmp_path: Path,
    how: str,
) -> None:
    if how == "--dedupe off":
        emu, extra = start_emulator(), ["--dedupe", "off"]
    else:
        emu, extra = start_emulator("--disable", "clone"), []
    mount = start_mount(emu, "--write-back", "0.2", *extra)
    src = tmp_path / "clip.mp4"
    src.write_bytes(DATA)
    _copy_in(mount, src, "first.mp4")
    emu.reset_calls()
    _copy_in(mount, src, "second.mp4")
    _copy_in(mount, src, "third.mp4")
    calls = emu.calls()
    assert calls.get("upload") == 2
    assert calls.get("file/clone", 0) == (1 if how == "clone disabled" else 0)  # asked once
    titles = sorted(f["title"] for f in emu.live_files() if f["title"] in {"second", "third"})
    assert titles == ["second", "third"]


def test_lost_clone_answers_make_no_second_copy(
    emulator: Emulator, start_mount: Callable[..., Mount], tmp_path: Path
) -> None:
    """Answers cut short (the host did the clone, vipfs cannot know): the retry's title proof
    finds each clone, so the host holds every copy exactly once, and none is uploaded."""
    mount = start_mount(emulator, "--write-back", "0.2")
    src = tmp_path / "clip.mp4"
    src.write_bytes(DATA)
    _copy_in(mount, src, "first.mp4")
    names = [f"copy {i:02d}" for i in range(20)]  # 0.7**20: some clone loses its answer
    (mount.path / "Copies").mkdir()
    emulator.reset_calls()
    emulator.switch(truncated=0.3)
    try:
        for name in names:
            shutil.copyfile(src, mount.path / "Copies" / f"{name}.mp4")
        wait_for("the clones", lambda: drained(mount.path), timeout=240)
    finally:
        emulator.switch(truncated=0.0)
    calls = emulator.calls()
    assert calls.get("upload", 0) == 0, calls
    titles = sorted(f["title"] for f in emulator.live_files() if f["title"].startswith("copy "))
    assert titles == names  # each exactly once
    assert "stored by an earlier attempt" in mount.log(), f"no lost clone answer met: {calls}"


def test_a_source_under_a_dmca_notice_is_never_cloned(
    emulator: Emulator, start_mount: Callable[..., Mount], tmp_path: Path
) -> None:
    mount = start_mount(emulator, "--write-back", "0.2", "--takedown-poll", "0.3")
    src = tmp_path / "clip.mp4"
    src.write_bytes(DATA)
    _copy_in(mount, src, "noticed.mp4")
    noticed = mount.path / "noticed.mp4"
    emulator.control("POST", "/_emu/file", {"code": _code(noticed), "dmca": True})
    wait_for(
        "the DMCA notice",
        lambda: sh(
            "getfattr", "--only-values", "-n", "user.vipfs.status", noticed
        ).stdout.startswith("dmca:"),
    )
    emulator.reset_calls()
    _copy_in(mount, src, "again.mp4")
    calls = emulator.calls()
    assert calls.get("upload") == 1 and calls.get("file/clone", 0) == 0, calls

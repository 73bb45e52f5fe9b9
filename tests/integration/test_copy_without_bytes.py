"""Copy without bytes on a real mount (issue 12, item 6): a file whose sha256 matches one the
mount uploaded becomes one `file/clone` on the host, no upload; `--dedupe off` uploads it.

The emulator counts what reached it (`/_emu/calls`: `upload` is a POST to the node,
`file/clone` the API call), so "no second upload" is what the host saw, not what vipfs says.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.conftest import Emulator, Mount, drained, sh, wait_for

pytestmark = pytest.mark.fuse

StartMount = Callable[..., Mount]
StartEmulator = Callable[..., Emulator]


def code_of(path: Path) -> str:
    out = sh("getfattr", "--only-values", "-n", "user.vipfs.code", path)
    return out.stdout if out.returncode == 0 else ""


@pytest.mark.parametrize("dedupe", ["default", "clone", "off"])
def test_same_bytes_under_another_name_are_a_clone_not_an_upload(
    start_emulator: StartEmulator, start_mount: StartMount, tmp_path: Path, dedupe: str
) -> None:
    emu = start_emulator("--enable", "direct_link,clone")
    extra = [] if dedupe == "default" else ["--dedupe", dedupe]
    mount = start_mount(emu, "--write-back", "0.2", *extra)
    clips, other = mount.path / "Clips", mount.path / "Other"
    clips.mkdir()
    other.mkdir()
    src = tmp_path / "src"
    src.mkdir()
    (src / "first.mp4").write_bytes(os.urandom(60_000))
    assert sh("cp", src / "first.mp4", clips).returncode == 0
    first = wait_for("the first upload", lambda: code_of(clips / "first.mp4"))
    wait_for("an empty queue", lambda: drained(mount.path))
    emu.reset_calls()

    # the same bytes under other names: rsync (a temp name, then a rename) into the same
    # folder, cp into another one
    (src / "second.mp4").write_bytes((src / "first.mp4").read_bytes())
    done = sh("rsync", "-a", src / "second.mp4", f"{clips}/")
    assert done.returncode == 0, done.stderr
    assert sh("cp", src / "first.mp4", other / "third.mp4").returncode == 0
    second = wait_for("the second copy", lambda: code_of(clips / "second.mp4"))
    third = wait_for("the third copy", lambda: code_of(other / "third.mp4"))
    wait_for("an empty queue", lambda: drained(mount.path))

    calls = emu.calls()
    if dedupe == "off":
        assert (calls.get("upload", 0), calls.get("file/clone", 0)) == (2, 0), calls
    else:
        assert (calls.get("upload", 0), calls.get("file/clone", 0)) == (0, 2), calls
    assert len({first, second, third}) == 3  # three files on the host, each its own code
    assert sorted(os.listdir(clips)) == ["first.mp4", "second.mp4"]
    assert os.listdir(other) == ["third.mp4"]
    sizes = sh("stat", "-c", "%s", clips / "first.mp4", clips / "second.mp4", other / "third.mp4")
    assert sizes.stdout.split() == ["60000"] * 3
    live = {f["code"]: f for f in emu.live_files()}
    assert set(live) == {first, second, third}, live
    assert len({f["sha256"] for f in live.values()}) == 1  # the same bytes, stored once or thrice
    folders = emu.folders()
    assert int(live[second]["fld_id"]) == folders["Clips"]
    assert int(live[third]["fld_id"]) == folders["Other"]
    assert all("vipfs-" not in f["title"] for f in live.values())

"""mkdir, cp -a, mv, rm and rmdir on a real mount, on a host with delete and on one without.

Without `file/delete`/`folder/delete` nothing may be lost: removed entries move into the
server folder `vipfs-trash`. Every step is checked on the host as well as through the mount.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.conftest import Emulator, Mount, sh, wait_for
from tests.integration.trees import make_tree, snapshot

pytestmark = pytest.mark.fuse

StartMount = Callable[..., Mount]
StartEmulator = Callable[..., Emulator]

TRASH = "vipfs-trash"
FEATURES = {"delete": "direct_link,delete,folder_delete", "trash": "direct_link"}


def code_of(path: Path) -> str:
    return os.getxattr(path, "user.vipfs.code").decode()


def host_file(emu: Emulator, code: str) -> dict[str, object]:
    found = [f for f in emu.files() if f["code"] == code]
    assert len(found) == 1, f"{code}: {len(found)} files on the host"
    return found[0]


def settled(emu: Emulator, count: int, mnt: Path | None = None) -> bool:
    """`count` files on the host, every one with its final title (no upload token left), and,
    given the mount, none of its uploads still running (the host holds a file as soon as the
    node stored it, a moment before the mount has recorded its code)."""
    live = emu.live_files()
    if len(live) != count or any("vipfs-" in f["title"] for f in live):
        return False
    return mnt is None or drained(mnt)


def drained(mnt: Path) -> bool:
    """None of the mount's uploads still running: the host holds a file as soon as the node
    stored it, a moment before the mount has recorded its code."""
    queue = json.loads((mnt / ".vipfs/status.json").read_text())["queue"]
    return not (queue["queued"] or queue["uploading"] or queue["retrying"])


def trash_ids(emu: Emulator) -> dict[int, str]:
    return {i: p for p, i in emu.folders().items() if p == TRASH or p.startswith(TRASH + "/")}


def assert_removed_file(emu: Emulator, code: str, host: str) -> None:
    held = host_file(emu, code)
    if host == "delete":
        assert held["deleted"], f"{code} still on the host"
    else:
        assert not held["deleted"] and int(str(held["fld_id"])) in trash_ids(emu), held


def assert_removed_folder(emu: Emulator, fld_id: int, host: str) -> None:
    folders = emu.folders()
    if host == "delete":
        assert fld_id not in folders.values()
    else:
        assert fld_id in trash_ids(emu), f"folder {fld_id} is not in the trash: {folders}"


@pytest.mark.parametrize("host", ["delete", "trash"])
def test_mkdir_cp_mv_rm_rmdir(
    start_emulator: StartEmulator, start_mount: StartMount, tmp_path: Path, host: str
) -> None:
    emu = start_emulator("--enable", FEATURES[host])
    src = tmp_path / "src"
    make_tree(src, (("", 2), ("album", 3), ("album/disc 2", 2)))
    mount = start_mount(emu, "--write-back", "0.2")
    m = mount.path
    gamma = m / "Alpha/Beta/Gamma"

    assert sh("mkdir", "-p", gamma).returncode == 0
    assert {"Alpha", "Alpha/Beta", "Alpha/Beta/Gamma"} <= set(emu.folders())
    assert sh("mkdir", m / "x").returncode == 0  # one character: padded for the host
    assert "x＼" in emu.folders() and (m / "x").is_dir()
    refused = sh("mkdir", m / "tab\there")  # no title can carry a control character
    assert refused.returncode != 0 and "Invalid argument" in refused.stderr

    assert sh("cp", "-a", src / "clip 000.mp4", m / "Alpha").returncode == 0
    assert sh("cp", "-a", src / "album", m / "Alpha/Beta").returncode == 0
    assert snapshot(m / "Alpha/Beta/album") == snapshot(src / "album")
    wait_for("6 uploads", lambda: settled(emu, 6, m))
    assert snapshot(m / "Alpha/Beta/album") == snapshot(src / "album")  # and after the upload
    folders = emu.folders()

    # mv of a file across folders, with a new name: one file/edit, no upload
    code = code_of(m / "Alpha/clip 000.mp4")
    emu.reset_calls()
    assert sh("mv", m / "Alpha/clip 000.mp4", gamma / "uno.mp4").returncode == 0
    assert not (m / "Alpha/clip 000.mp4").exists() and code_of(gamma / "uno.mp4") == code
    calls = emu.calls()
    assert calls.get("file/edit") == 1 and "upload" not in calls, calls
    held = host_file(emu, code)
    assert held["title"] == "uno" and int(str(held["fld_id"])) == folders["Alpha/Beta/Gamma"]
    assert sh("stat", "-c", "%s %Y", gamma / "uno.mp4").stdout == sh(
        "stat", "-c", "%s %Y", src / "clip 000.mp4").stdout  # fmt: skip

    # mv of a folder across folders, with a new name: the same folder, moved
    album = folders["Alpha/Beta/album"]
    assert sh("mv", m / "Alpha/Beta/album", m / "Moved").returncode == 0
    folders = emu.folders()
    assert folders["Moved"] == album and "Moved/disc 2" in folders
    assert "Alpha/Beta/album" not in folders
    assert snapshot(m / "Moved") == snapshot(src / "album")

    # a folder cannot go under itself (the API would accept the cycle; mv and the kernel refuse
    # it before vipfs sees it, which the host's folders confirm)
    cycle = sh("mv", m / "Alpha", gamma / "inside")
    assert cycle.returncode != 0 and "subdirectory of itself" in cycle.stderr
    with pytest.raises(OSError) as refused:
        os.rename(m / "Alpha", gamma / "inside")
    assert refused.value.errno == errno.EINVAL
    assert emu.folders()["Alpha/Beta/Gamma"] == folders["Alpha/Beta/Gamma"]

    # a rename onto an existing name replaces it; the old file is deleted or trashed
    assert sh("cp", "-a", src / "take_001_final.mp4", m / "Alpha/take.mp4").returncode == 0
    wait_for("the 7th upload", lambda: settled(emu, 7, m))
    take = code_of(m / "Alpha/take.mp4")
    assert sh("mv", m / "Alpha/take.mp4", gamma / "uno.mp4").returncode == 0
    assert os.listdir(gamma) == ["uno.mp4"] and code_of(gamma / "uno.mp4") == take
    assert_removed_file(emu, code, host)

    # rm of a file; rmdir of a non-empty folder refused; rm -r; rmdir of an empty one
    victim = code_of(m / "Moved/scene.002.v2.mp4")
    assert sh("rm", m / "Moved/scene.002.v2.mp4").returncode == 0
    assert "scene.002.v2.mp4" not in os.listdir(m / "Moved")
    assert_removed_file(emu, victim, host)
    full = sh("rmdir", m / "Moved")
    assert full.returncode != 0 and "Directory not empty" in full.stderr
    inner = [code_of(m / "Moved/disc 2" / n) for n in os.listdir(m / "Moved/disc 2")]
    assert sh("rm", "-r", m / "Moved").returncode == 0
    assert "Moved" not in os.listdir(m)
    for c in inner:
        assert_removed_file(emu, c, host)
    assert_removed_folder(emu, album, host)
    assert sh("mkdir", m / "Empty").returncode == 0
    empty = emu.folders()["Empty"]
    assert sh("rmdir", m / "Empty").returncode == 0 and "Empty" not in os.listdir(m)
    assert_removed_folder(emu, empty, host)
    if host == "trash":
        assert not [f for f in emu.files() if f["deleted"]]  # nothing was ever lost


def test_no_trash_refuses_rm_and_rmdir(
    start_emulator: StartEmulator, start_mount: StartMount, tmp_path: Path
) -> None:
    emu = start_emulator("--enable", "direct_link")  # no file/delete, no folder/delete
    clip = tmp_path / "keep.mp4"
    clip.write_bytes(os.urandom(20_000))
    mount = start_mount(emu, "--write-back", "0.2", "--no-trash")
    for folder in ("Keep", "Spare"):
        assert sh("mkdir", mount.path / folder).returncode == 0
    assert sh("cp", "-a", clip, mount.path / "Keep").returncode == 0
    wait_for("the upload", lambda: settled(emu, 1, mount.path))
    for tool, path in (("rm", "Keep/keep.mp4"), ("rmdir", "Spare")):
        refused = sh(tool, mount.path / path)
        assert refused.returncode != 0 and "Operation not permitted" in refused.stderr, tool
    assert os.listdir(mount.path / "Keep") == ["keep.mp4"] and (mount.path / "Spare").is_dir()
    assert settled(emu, 1) and TRASH not in emu.folders()


def test_overwrite_replaces_and_an_in_place_change_is_refused(
    emulator: Emulator, start_mount: StartMount, tmp_path: Path
) -> None:
    v1, v2 = tmp_path / "v1.mp4", tmp_path / "v2.mp4"
    v1.write_bytes(os.urandom(30_000))
    v2.write_bytes(os.urandom(20_000))
    mount = start_mount(emulator, "--write-back", "0.2")
    clip = mount.path / "clip.mp4"
    assert sh("cp", v1, clip).returncode == 0
    wait_for("the first version", lambda: settled(emulator, 1, mount.path))
    old = code_of(clip)
    assert sh("cp", v2, clip).returncode == 0  # open(O_TRUNC) of an uploaded file: a new version
    new_sha = hashlib.sha256(v2.read_bytes()).hexdigest()
    wait_for("the second version", lambda: [
        f for f in emulator.live_files()
        if f["sha256"] == new_sha and f["title"] == "clip" and int(f["fld_id"]) == 0])  # fmt: skip
    wait_for("the mount to record it", lambda: drained(mount.path))  # the title rides the POST
    assert code_of(clip) != old and sh("cmp", clip, v2).returncode == 0
    assert_removed_file(emulator, old, "trash")  # this host has no file/delete
    poke = sh("dd", "if=/dev/zero", f"of={clip}", "bs=1", "count=1", "seek=10", "conv=notrunc",
              "status=none")  # fmt: skip
    assert poke.returncode != 0 and "Operation not permitted" in poke.stderr
    assert sh("cmp", clip, v2).returncode == 0


@pytest.mark.parametrize("temp", ["movie.mp4.part", ".movie.mp4.Xy12Ab"])  # browser, rsync
def test_a_temp_name_is_held_until_renamed(
    emulator: Emulator, start_mount: StartMount, tmp_path: Path, temp: str
) -> None:
    movie = tmp_path / "movie.mp4"
    movie.write_bytes(os.urandom(30_000))
    mount = start_mount(emulator, "--write-back", "0.2")
    assert sh("cp", movie, mount.path / temp).returncode == 0
    time.sleep(1.5)  # many write-back periods: a normal name would be uploading by now
    assert emulator.live_files() == []
    assert sh("mv", mount.path / temp, mount.path / "movie.mp4").returncode == 0
    wait_for("the renamed file's upload", lambda: settled(emulator, 1))
    assert [f["title"] for f in emulator.files()] == ["movie"]
    assert sh("cmp", mount.path / "movie.mp4", movie).returncode == 0


def test_mkdir_with_lost_answers_never_makes_two_folders(
    emulator: Emulator, start_mount: StartMount
) -> None:
    """folder/create is not idempotent: after a lost answer the folder may exist all the same.
    A user retries a failed mkdir; the host must end with each folder once, all visible."""
    mount = start_mount(emulator)
    names = [f"dir {i:02d}" for i in range(10)]
    assert os.listdir(mount.path) == []
    emulator.switch(truncated=0.5)
    try:
        for name in names:
            for _ in range(8):
                if sh("mkdir", "-p", mount.path / name).returncode == 0:
                    break
    finally:
        emulator.switch(truncated=0.0)
    on_host = sorted(f["name"] for f in emulator.api("folder/list", fld_id=0)["folders"])
    assert on_host == names
    assert sorted(os.listdir(mount.path)) == [*names]

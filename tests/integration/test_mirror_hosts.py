"""Issue 13 "Done when": a member that refuses a file, and `kill -9` of a mirror mid-upload.

A host with a small `--max-upload-mb` refuses the big file for good ("file is too big"): the
others hold it, the small file reaches all three, and `user.vipfs.status` and `vipfs status`
name the refusal and the member. A mirror killed with SIGKILL while a slow member is still
uploading (the fast two already hold everything: a slow member holds nobody back), or just
after the copy closed (where the fan-out to the members happens), then mounted
again, ends with every file exactly once on every member.
"""

from __future__ import annotations

import os
import re
import signal
from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest

from tests.integration.conftest import Mount, sh, unmount, vipfs, wait_for
from tests.integration.mirrors import (
    Rig,
    assert_each_once,
    by_sha,
    holdings,
    holds_all,
    mirror_rig,
    names_under,
    shas,
    write_tree,
    xattr,
)

pytestmark = pytest.mark.fuse
__all__ = ["mirror_rig"]

BuildRig = Callable[..., Rig]


def test_a_member_refusing_a_file_does_not_hold_back_the_others(
    mirror_rig: BuildRig, tmp_path: Path
) -> None:
    rig = mirror_rig(vip=(), wish=(), lulu=("--max-upload-mb", "1"))
    src = tmp_path / "src"
    expected = write_tree(src, {"big one.mp4": 1_600_000, "small one.mp4": 4000})
    mount = rig.mount()
    m = mount.path
    done = sh("cp", "-a", src / "big one.mp4", src / "small one.mp4", m, timeout=120)
    assert done.returncode == 0, done.stderr
    big = m / "big one.mp4"
    wait_for(
        "lulu's refusal of the big file",
        lambda: xattr(big, "user.vipfs.lulu.status").startswith("failed"),
        timeout=120,
    )
    wait_for("the others' uploads", lambda: rig.settled(mount, failed_ok=("lulu",)), 180)
    assert_each_once(rig, expected, ("vip", "wish"))
    small = expected["small one.mp4"]
    on_lulu = holdings(rig.hosts["lulu"].up)
    assert shas(on_lulu) == Counter([small]), on_lulu  # once, and never the big one
    assert by_sha(on_lulu)[small] == by_sha(holdings(rig.hosts["vip"].up))[small]
    # the status names the refusal and the member, on the file and in `vipfs status`
    lulu = xattr(big, "user.vipfs.lulu.status")
    assert "too big" in lulu, lulu
    plain = xattr(big, "user.vipfs.status")
    assert not plain.startswith(("failed", "missing")), plain  # vip's own: it holds it
    assert "; failed on lulu: " in plain and "too big" in plain, plain
    small_status = xattr(m / "small one.mp4", "user.vipfs.status")
    assert not re.search(r"(failed|missing|queued) on lulu", small_status), small_status
    for name in ("vip", "wish"):
        own = xattr(big, f"user.vipfs.{name}.status")
        assert not own.startswith(("failed", "missing", "queued")), (name, own)
        assert xattr(big, f"user.vipfs.{name}.code"), name
    said = vipfs("status", m)
    assert said.returncode == 0, said.stderr
    assert "lulu" in said.stdout and "too big" in said.stdout, said.stdout
    for name in ("vip", "wish", "lulu"):  # a block per member
        assert re.search(rf"\b{name}\b", said.stdout), (name, said.stdout)
    assert names_under(m) == ["big one.mp4", "small one.mp4"]


@pytest.mark.parametrize("when", ["mid-upload", "after-close"])
def test_kill_9_mid_upload_then_remount_leaves_each_file_once(
    mirror_rig: BuildRig, tmp_path: Path, when: str
) -> None:
    # the node reads its first 64 kB chunk at full speed (the file part starts in it), then
    # trickles: ~7 s a file on wish
    rig = mirror_rig(vip=(), wish=("--node-bytes-per-sec", "20000"), lulu=())
    src = tmp_path / "src"
    sizes = {f"batch/clip {i}.mp4": 200_000 + 1000 * i for i in range(3)}
    expected = write_tree(src, sizes | {"solo.mp4": 210_000})
    mount = rig.mount()
    m = mount.path
    done = sh("cp", "-a", src / "batch", src / "solo.mp4", m, timeout=120)
    assert done.returncode == 0, done.stderr
    if when == "mid-upload":  # the slow member holds nobody back; kill while it sends
        for name in ("vip", "lulu"):
            wait_for(f"{name} to hold all", partial(holds_all, rig, expected, name), 120)
        wait_for("an upload to the slow member", lambda: _uploading(rig, mount, "wish"), 120)
        assert not holds_all(rig, expected, "wish")  # ~28 s of sending at 20 kB/s
    else:  # every close has reached the mount (the kernel sends release after cp returns)
        wait_for("the closes", lambda: not _rows(rig, mount, "writing"), 60)
    mount.process.send_signal(signal.SIGKILL)
    mount.process.wait(30)
    unmount(m)
    assert not os.path.ismount(m)
    rig.hosts["wish"].up.switch(node_bytes_per_sec=0.0)
    again = rig.mount(mountpoint=m)
    wait_for("every member's uploads after the remount", lambda: rig.settled(again), 300)
    for name in rig.hosts:
        assert holds_all(rig, expected, name), name
    assert_each_once(rig, expected, tuple(rig.hosts))
    assert names_under(m) == names_under(src)


def _uploading(rig: Rig, mount: Mount, member: str) -> bool:
    queue = rig.status(mount)["members"][member].get("queue") or {}
    return bool(queue.get("uploading"))


def _rows(rig: Rig, mount: Mount, state: str) -> list[object]:
    """Every member's queue rows in `state`."""
    members = rig.status(mount)["members"].values()
    return [row for member in members for row in (member.get("queue") or {}).get(state, [])]

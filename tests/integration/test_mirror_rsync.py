"""Issue 13 "Done when": `rsync -a` into a mirror of three hosts, with one of them away.

The mirror `all` has three members, each its own emulator, account and port. A tree whose
names need the titles encoding goes in with `rsync -a`: every host ends with every file exactly
once (counted by sha256 at `/_emu/files`), in the same folder and under the same title on all
of them, and a second `rsync -a` sends nothing. With one host stopped during the rsync, the
other two finish on their own; the stopped host, started again on its port with its data,
catches up from the mirror's journal: its folders, its files, and a rename and a mkdir done
while it was away, in the order they were done (`mkdir P; mv P Q; mkdir P` ends with both).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest

from tests.integration.conftest import sh, wait_for
from tests.integration.mirrors import (
    Rig,
    assert_each_once,
    by_sha,
    folder_paths,
    holdings,
    holds_all,
    mirror_rig,
    names_under,
    write_tree,
    xattr,
)

pytestmark = pytest.mark.fuse
__all__ = ["mirror_rig"]

BuildRig = Callable[..., Rig]
MEMBERS = ("vip", "wish", "lulu")

# names that need the titles encoding: markup, entities, hash, underscores, dots, spaces, and
# a one-character folder (hosts want two)
TREE = {
    "top clip.mp4": 3000,
    "hash #1 & Co.mp4": 2500,
    "Tom &amp; Jerry &lt;3.mp4": 2000,
    'video <4> "one".mkv': 1800,
    "x_y.z/in under_score.v2.mp4": 2200,
    "x_y.z/  both  .mp4": 1500,
    "a/one letter.mp4": 2100,
    "a/b/deep (2021).webm": 2700,
}


def rsync(src: Path, dst: Path, *extra: str) -> str:
    done = sh("rsync", "-a", *extra, f"{src}/", f"{dst}/", timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def codes_of(name: str, rig: Rig) -> dict[str, str]:
    return {f["sha256"]: f["code"] for f in rig.hosts[name].up.live_files()}


def three_hosts(build: BuildRig) -> Rig:
    return build(**{name: () for name in MEMBERS})


def test_rsync_into_a_mirror_puts_each_file_once_on_each_host(
    mirror_rig: BuildRig, tmp_path: Path
) -> None:
    rig = three_hosts(mirror_rig)
    src = tmp_path / "src"
    expected = write_tree(src, TREE)
    mount = rig.mount()
    rsync(src, mount.path)
    assert names_under(mount.path) == names_under(src)
    wait_for("every member's uploads", lambda: rig.settled(mount), timeout=180)
    assert_each_once(rig, expected, MEMBERS)
    for name in MEMBERS:  # the folders too, by the same names on every host
        folders = sorted(folder_paths(rig.hosts[name].up).values())
        assert folders == sorted(folder_paths(rig.hosts["vip"].up).values()), name
        assert len(folders) == 1 + 3, (name, folders)  # root, x_y.z, a, a/b
    # each member's own code on the file, as that host lists it; the members on the root
    assert xattr(mount.path, "user.vipfs.members") == ",".join(MEMBERS)
    for name in MEMBERS:
        codes = codes_of(name, rig)
        for rel, digest in expected.items():
            assert xattr(mount.path / rel, f"user.vipfs.{name}.code") == codes[digest], rel
    assert (
        xattr(mount.path / "top clip.mp4", "user.vipfs.code")
        == codes_of("vip", rig)[expected["top clip.mp4"]]
    )
    # a second rsync finds everything in place: nothing transferred, nothing uploaded again
    again = rsync(src, mount.path, "-i", "--stats")
    assert re.search(r"^Number of regular files transferred: 0$", again, re.M), again
    assert not re.search(r"^[<>]f", again, re.M), again
    wait_for("every member's uploads", lambda: rig.settled(mount), timeout=60)
    assert_each_once(rig, expected, MEMBERS)
    assert names_under(mount.path) == names_under(src)


def test_a_host_away_during_the_rsync_catches_up_in_order(
    mirror_rig: BuildRig, tmp_path: Path
) -> None:
    rig = mirror_rig({"op_timeout": 5}, **{name: () for name in MEMBERS})  # EIO sooner
    away = rig.hosts["wish"]  # not the first member: the spool copy is written to vip's
    src = tmp_path / "src"
    expected = write_tree(src, TREE)
    mount = rig.mount()
    m = mount.path
    away.stop()
    rsync(src, m)
    assert names_under(m) == names_under(src)
    # the others finish without it
    for name in ("vip", "lulu"):
        wait_for(f"{name} to hold the tree", partial(holds_all, rig, expected, name), 180)
    assert_each_once(rig, expected, ("vip", "lulu"))
    # writes go on while it is away, journaled for it behind the rsync's mkdirs
    assert sh("mkdir", m / "P").returncode == 0
    moved = sh("mv", m / "P", m / "Q")
    assert moved.returncode == 0, moved.stderr
    assert sh("mkdir", m / "P").returncode == 0
    moved = sh("mv", m / "x_y.z", m / "x_y.z renamed")
    assert moved.returncode == 0, moved.stderr
    moved_sha = expected["top clip.mp4"]
    old_title = by_sha(holdings(rig.hosts["vip"].up))[moved_sha][1]
    renamed = sh("mv", m / "top clip.mp4", m / "top clip moved.mp4")  # not on wish at all yet
    assert renamed.returncode == 0, renamed.stderr
    journal = rig.status(mount)["journal"]
    assert journal.get("wish", 0) > 0 and not journal.get("vip") and not journal.get("lulu")
    # back on the same port with the same data: it catches up
    away.start()
    wait_for("the journal replayed and wish's uploads", lambda: rig.settled(mount), 300)
    assert_each_once(rig, expected, MEMBERS)
    # the same folders on every host (stored names: through the encoding): had wish replayed
    # out of order, `mkdir P` twice then `mv P Q` would leave it without a P
    first = sorted(folder_paths(rig.hosts["vip"].up).values())
    assert len(first) == 6, first  # root, P, Q, a, a/b, x_y.z renamed
    for name in MEMBERS:
        assert sorted(folder_paths(rig.hosts[name].up).values()) == first, name
    top = {k for k in TREE if "/" not in k} - {"top clip.mp4"} | {"top clip moved.mp4"}
    assert sorted(p for p in names_under(m) if "/" not in p) == sorted(
        ["P", "Q", "a", "x_y.z renamed", *top]
    )
    titles = {by_sha(holdings(h.up))[moved_sha][1] for h in rig.hosts.values()}
    assert len(titles) == 1 and old_title not in titles, (old_title, titles)

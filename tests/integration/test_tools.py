"""Issue 11's "Done when": the tools people point at a mount, driven for real.

rsync with `--delete` and `-c`, an editor's swap-file pattern, empty files, the xattrs right
after an upload, `ls -a`/`ls -la` and `ffprobe` of the demo clips (the demo under tmux with one
Ctrl-C is test_demo.py's). Everything is checked on the emulator (its files and call counts)
as well as through the mount.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.conftest import Emulator, Mount, drained, sh, unmount, wait_for
from tests.integration.trees import make_tree

pytestmark = pytest.mark.fuse

StartMount = Callable[..., Mount]
StartEmulator = Callable[..., Emulator]

TRASH = "vipfs-trash"
LAYOUT = (("", 3), ("album", 2))
HOSTS = {"delete": "direct_link,delete,folder_delete", "no-delete": "direct_link"}


def rsync(*argv: str | Path) -> tuple[int, str]:
    out = sh("rsync", *argv, timeout=300)
    return out.returncode, out.stdout + out.stderr


def settle(mount: Mount, emu: Emulator) -> None:
    """The queue is empty and no host file still carries an upload token in its title."""
    wait_for(
        "the queue to drain",
        lambda: drained(mount.path) and not any("vipfs-" in f["title"] for f in emu.live_files()),
        timeout=120,
    )


def trash_folders(emu: Emulator) -> set[int]:
    return {i for p, i in emu.folders().items() if p == TRASH or p.startswith(TRASH + "/")}


def uploads(emu: Emulator) -> int:
    """Upload POSTs the node has received."""
    return emu.calls().get("upload", 0)


# -- item 1: rsync --delete into the root ------------------------------------------------------
@pytest.mark.parametrize("host", sorted(HOSTS))
def test_rsync_delete_into_the_root_exits_0_and_settles(
    start_emulator: StartEmulator, start_mount: StartMount, tmp_path: Path, host: str
) -> None:
    emu = start_emulator("--enable", HOSTS[host])
    mount = start_mount(emu, "--write-back", "0.2")
    src = tmp_path / "src"
    make_tree(src, LAYOUT)

    code, said = rsync("-av", "--delete", f"{src}/", f"{mount.path}/")
    assert code == 0, said
    settle(mount, emu)

    gone = sorted(p for p in src.iterdir() if p.is_file())[0]
    gone_size = gone.stat().st_size
    gone.unlink()
    code, said = rsync("-av", "--delete", f"{src}/", f"{mount.path}/")
    assert code == 0, said
    assert not (mount.path / gone.name).exists()
    settle(mount, emu)

    # settled: a further run exits 0 and has nothing left to delete (not .vipfs, not the trash)
    code, said = rsync("-av", "--delete", "--itemize-changes", f"{src}/", f"{mount.path}/")
    assert code == 0, said
    assert "deleting" not in said, said

    live = emu.live_files()
    assert len(live) == sum(1 for p in src.rglob("*") if p.is_file()) + (host == "no-delete")
    if host == "no-delete":  # nothing lost: the removed file waits in the trash, name and size
        assert [f for f in live if int(f["fld_id"]) in trash_folders(emu)], live
        kept = [
            Path(d) / n
            for d, _, names in os.walk(mount.path / TRASH)
            for n in names
            if gone.stem in n
        ]
        assert [p.stat().st_size for p in kept] == [gone_size], (kept, os.listdir(mount.path))


def test_rm_in_the_trash_without_delete_is_eperm_and_keeps_the_file(
    start_emulator: StartEmulator, start_mount: StartMount, tmp_path: Path
) -> None:
    emu = start_emulator("--enable", HOSTS["no-delete"])
    mount = start_mount(emu, "--write-back", "0.2")
    (mount.path / "doomed.mp4").write_bytes(b"d" * 5000)
    settle(mount, emu)
    assert sh("rm", mount.path / "doomed.mp4").returncode == 0  # into the trash
    wait_for("the trash folder", lambda: (mount.path / TRASH).is_dir(), timeout=30)
    entries = [Path(d) / n for d, _, names in os.walk(mount.path / TRASH) for n in names]
    assert len(entries) == 1, entries
    assert entries[0].name.startswith("doomed") and entries[0].stat().st_size == 5000

    emu.reset_calls()
    out = sh("rm", entries[0])
    assert out.returncode != 0 and "Operation not permitted" in out.stderr, out
    assert entries[0].exists()
    assert len(emu.live_files()) == 1
    assert not emu.calls().get("file/edit"), emu.calls()  # a refused rm costs no call


# -- items 1 and 7: .vipfs out of readdir, `.` and `..` in it ----------------------------------
def test_ls_a_hides_dot_vipfs_which_stays_reachable_by_name(
    emulator: Emulator, start_mount: StartMount
) -> None:
    mount = start_mount(emulator)
    listed = sh("ls", "-a", mount.path)
    assert listed.returncode == 0, listed.stderr
    assert ".vipfs" not in listed.stdout.split(), listed.stdout
    inside = sh("ls", mount.path / ".vipfs")
    assert inside.returncode == 0 and "status.json" in inside.stdout.split(), inside
    assert json.loads((mount.path / ".vipfs" / "status.json").read_text())


def test_ls_la_shows_dot_and_dot_dot(emulator: Emulator, start_mount: StartMount) -> None:
    mount = start_mount(emulator)
    (mount.path / "sub").mkdir()
    for folder in (mount.path, mount.path / "sub"):
        long = sh("env", "LC_ALL=C", "ls", "-la", folder)
        assert long.returncode == 0, long.stderr
        names = [line.split()[-1] for line in long.stdout.splitlines()[1:]]
        assert names[:2] == [".", ".."], long.stdout


# -- item 2: rsync -c on a host without direct_link --------------------------------------------
def test_rsync_checksum_twice_uploads_nothing_the_second_time(
    start_emulator: StartEmulator, start_mount: StartMount, tmp_path: Path
) -> None:
    emu = start_emulator()  # no direct_link: what the mount holds no more cannot be read back
    src = tmp_path / "src"
    make_tree(src, LAYOUT)
    count = sum(1 for p in src.rglob("*") if p.is_file())
    first = start_mount(emu, "--write-back", "0.2")
    code, said = rsync("-rc", f"{src}/", f"{first.path}/")
    assert code == 0, said
    settle(first, emu)
    unmount(first.path)
    first.process.wait(60)
    shutil.rmtree(tmp_path / "cache", ignore_errors=True)  # no local copy left to read from

    again = start_mount(emu, "--write-back", "0.2")
    emu.reset_calls()
    code, said = rsync("-rc", f"{src}/", f"{again.path}/")
    settle(again, emu)
    assert uploads(emu) == 0, (emu.calls(), code, said)
    live = emu.live_files()
    assert len(live) == count, live
    trash = trash_folders(emu)
    assert not [f for f in live if int(f["fld_id"]) in trash], live  # no copies in the trash


# -- item 3: an editor's swap file -------------------------------------------------------------
SWAP = """\
import os, subprocess, sys
path = sys.argv[1]
fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
os.write(fd, b"b0VIM 9.0" + b"\\0" * 4087)
os.fsync(fd)
os.write(fd, b"more")
os.fsync(fd)
subprocess.run(["rm", path], check=True)
os.close(fd)
"""


def test_swap_file_pattern_fsynced_then_removed_never_reaches_the_host(
    emulator: Emulator, start_mount: StartMount
) -> None:
    mount = start_mount(emulator, "--write-back", "0.2")
    emulator.reset_calls()
    out = sh(sys.executable, "-c", SWAP, mount.path / ".notes.mp4.swp")
    assert out.returncode == 0, out.stderr  # fsync of a held name succeeds, locally
    (mount.path / "after.mp4").write_bytes(b"a" * 3000)  # a write-back pass runs after it
    settle(mount, emulator)
    assert len(emulator.live_files()) == 1, emulator.live_files()  # after.mp4 alone
    assert uploads(emulator) == 1, emulator.calls()
    assert not (mount.path / ".notes.mp4.swp").exists()


# -- item 4: 0-byte files ----------------------------------------------------------------------
def test_empty_file_stays_local_and_says_why(emulator: Emulator, start_mount: StartMount) -> None:
    mount = start_mount(emulator, "--write-back", "0.2")
    emulator.reset_calls()
    empty = mount.path / "empty.mp4"
    assert sh("touch", empty).returncode == 0
    (mount.path / "full.mp4").write_bytes(b"f" * 3000)  # uploaded after the empty one's turn
    wait_for("full.mp4 on the host", lambda: emulator.live_files(), timeout=60)
    wait_for("full.mp4 settled", lambda: drained_but_empty(mount.path), timeout=60)
    assert len(emulator.live_files()) == 1, emulator.live_files()  # full.mp4 alone
    assert uploads(emulator) == 1, emulator.calls()
    status = sh("getfattr", "--only-values", "-n", "user.vipfs.status", empty)
    assert status.returncode == 0, status.stderr
    assert "empty" in status.stdout and "null filesize" not in status.stdout, status.stdout
    assert empty.stat().st_size == 0 and "empty.mp4" in os.listdir(mount.path)


def drained_but_empty(mnt: Path) -> bool:
    """Nothing queued or uploading; the empty file may sit in any row but `uploading`."""
    queue = json.loads((mnt / ".vipfs" / "status.json").read_text()).get("queue") or {}
    return not any(queue.get(k) for k in ("queued", "uploading", "retrying"))


# -- item 6: link and length right after an upload ---------------------------------------------
def test_link_and_length_appear_once_the_host_lists_the_upload(
    emulator: Emulator, start_mount: StartMount, tmp_path: Path
) -> None:
    # the link comes with the first listing of the folder that shows the file: the listing's
    # TTL decides when that is asked (a cached folder makes no call, issue 10), so a short one
    mount = start_mount(emulator, "--write-back", "0.2", "--dir-cache-time", "1")
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"c" * 20000)
    assert sh("cp", clip, mount.path / "clip.mp4").returncode == 0
    settle(mount, emulator)
    target = mount.path / "clip.mp4"

    def xattr(name: str) -> str:
        out = sh("getfattr", "--only-values", "-n", f"user.vipfs.{name}", target)
        return out.stdout.strip() if out.returncode == 0 else ""

    link = wait_for("user.vipfs.link", lambda: xattr("link"), timeout=30)
    code = emulator.live_files()[0]["code"]
    assert code in link, link

    def host_length() -> str:
        return str(emulator.api("file/info", file_code=code)[0]["file_length"])

    # the emulator must give an upload a length (once encoded, as real hosts do)
    wait_for("the host to list a length for the upload", lambda: host_length() != "0", timeout=30)
    wait_for("user.vipfs.length to be the host's", lambda: xattr("length") == host_length())


# -- item 9: the demo's clips are videos -------------------------------------------------------
def test_ffprobe_reads_every_demo_clip(
    start_emulator: StartEmulator, start_mount: StartMount
) -> None:
    assert shutil.which("ffprobe"), "ffprobe is not installed (apt-get install ffmpeg)"
    emu = start_emulator("--seed-demo", "--enable", "direct_link")
    mount = start_mount(emu)
    clips = [
        Path(d) / n
        for d, _, names in os.walk(mount.path)
        if not Path(d).is_relative_to(mount.path / ".vipfs")
        for n in names
        if os.getxattr(Path(d) / n, "user.vipfs.canplay") == b"1"  # "still encoding" is not
    ]
    assert len(clips) >= 10, clips
    for clip in clips:
        probe = sh(
            "ffprobe", "-v", "error", "-show_entries", "stream=codec_type:format=duration",
            "-of", "json", clip, timeout=60,
        )  # fmt: skip
        assert probe.returncode == 0, (clip, probe.stderr)
        found = json.loads(probe.stdout)
        assert "video" in [s["codec_type"] for s in found.get("streams", [])], (clip, found)
        assert float(found["format"]["duration"]) > 0, (clip, found)
        kind = sh("file", "-b", clip)
        assert "executable" not in kind.stdout, (clip, kind.stdout)


# -- item 8, the demo under tmux with one Ctrl-C: tests/integration/test_demo.py


# -- item 5: an rsync temp name left empty by `kill -9` ----------------------------------------
KILLED_WRITER = """\
import os, signal, sys
fd = os.open(sys.argv[1], os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600)
os.kill(os.getpid(), signal.SIGKILL)  # as `kill -9` of rsync right after it created its temp
"""


def test_empty_held_temp_name_of_a_killed_writer_goes_after_hold_idle(
    emulator: Emulator, start_mount: StartMount
) -> None:
    mount = start_mount(emulator, "--write-back", "0.2", "--hold-idle", "1")
    emulator.reset_calls()
    temp = mount.path / ".clip.mp4.Xa3kQ9"  # rsync's temp name pattern
    out = sh(sys.executable, "-c", KILLED_WRITER, temp)
    assert out.returncode == -signal.SIGKILL, out
    assert temp.name in os.listdir(mount.path)
    wait_for("the empty temp name to go", lambda: temp.name not in os.listdir(mount.path))
    # the kernel may still hold the name for one entry timeout (1 s): vipfs dropped it unasked
    wait_for("the kernel to forget the name", lambda: not temp.exists(), timeout=10)
    assert not emulator.live_files() and uploads(emulator) == 0, emulator.calls()


def test_vim_preserve_fsyncs_its_swap_file_and_only_the_file_is_uploaded(
    emulator: Emulator, start_mount: StartMount
) -> None:
    assert shutil.which("vim"), "vim is not installed"
    mount = start_mount(emulator, "--write-back", "0.2")
    emulator.reset_calls()
    clip = mount.path / "notes.mp4"
    # the swap file goes beside the file (directory=.); `:preserve` writes and fsyncs it
    out = sh(
        "vim", "-es", "-N", "-u", "NONE", "-i", "NONE", "-c", "set swapfile directory=.",
        "-c", "normal! ihello", "-c", "preserve", "-c", "wq", clip, timeout=60,
    )  # fmt: skip
    assert out.returncode == 0, (out.stdout, out.stderr, mount.log()[-1500:])
    settle(mount, emulator)
    assert clip.read_bytes() == b"hello\n"
    assert not [n for n in os.listdir(mount.path) if n.endswith(".swp")]
    assert len(emulator.live_files()) == 1, emulator.live_files()
    assert uploads(emulator) == 1, emulator.calls()

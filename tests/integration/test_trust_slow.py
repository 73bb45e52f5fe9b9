"""Issue 8, items 11, 12 and 15 on a real mount: bounded descriptors, slow hosts, looping folders.

Each test drives the mount with the tools a user runs (cat, cp, mv, ls, find, `vipfs status`,
getfattr) against the emulator's switches: `node_bytes_per_sec`/`slow_upload_names` (a node
that takes an upload at 1 byte/s), `link_bytes_per_sec`/`slow_link_codes` (direct links that send
1 byte/s) and `POST /_emu/folder` (a folder's parent written raw, so the host's tree loops).
"""

from __future__ import annotations

import base64
import errno
import hashlib
import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.conftest import Emulator, Mount, sh, vipfs, wait_for

pytestmark = pytest.mark.fuse

StartMount = Callable[..., Mount]

SLOW = ("--low-speed-limit", "1000", "--low-speed-time", "2")  # curl-like: <1000 B in 2 s aborts
BIG = 16 << 20  # more than loopback's socket buffers take from a node that does not read


def bounded(
    *argv: str | Path, mount: Mount, seconds: float = 30
) -> subprocess.CompletedProcess[bytes]:
    """Run a tool against the mount; a hang is a test failure that says so.

    A tool whose request vipfs has taken waits for the answer unkillably (FUSE), so on a hang
    the mount's process is killed too: that aborts the connection and frees the tool."""
    tool = subprocess.Popen([str(a) for a in argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = tool.communicate(timeout=seconds)
    except subprocess.TimeoutExpired:
        tool.kill()
        kill(mount)
        tool.communicate(timeout=30)
        raise AssertionError(f"{' '.join(map(str, argv))} hung for {seconds:.0f} s") from None
    return subprocess.CompletedProcess(tool.args, tool.returncode, out, err)


def release(tools: list[subprocess.Popen[bytes]], mount: Mount) -> None:
    """Kill tools still running; one stuck in a request vipfs took needs the mount killed."""
    for tool in tools:
        tool.kill()
    for tool in tools:
        try:
            tool.wait(5)
        except subprocess.TimeoutExpired:
            kill(mount)
            tool.wait(30)


def kill(mount: Mount) -> None:
    """End a hung mount: killing vipfs aborts its requests; the dead mount is then detached
    (the fixture's teardown skips it, as `ismount` is false for a dead FUSE mount)."""
    mount.process.kill()
    mount.process.wait(30)
    subprocess.run(["fusermount3", "-u", str(mount.path)], capture_output=True, timeout=30)


def fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def held(emulator: Emulator, **match: str) -> list[dict[str, object]]:
    """The host's live files whose fields equal `match` (title=..., sha256=...)."""
    return [f for f in emulator.live_files() if all(f[k] == v for k, v in match.items())]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# -- item 11: the read cache bounds its open descriptors --------------------------------------
def test_many_reads_under_a_128_descriptor_limit_then_a_write(
    emulator: Emulator, start_mount: StartMount, tmp_path: Path
) -> None:
    contents = {f"clip {i:03d}": i.to_bytes(2, "big") * 500 for i in range(300)}
    emulator.seed({
        "folders": [{"ref": "r", "name": "reads"}],
        "files": [{"title": t, "folder_ref": "r", "content_b64": b64(d)}
                  for t, d in contents.items()],
    })  # fmt: skip
    mount = start_mount(emulator, "--write-back", "0.2")
    limited = sh("prlimit", f"--pid={mount.pid}", "--nofile=128:128")
    assert limited.returncode == 0, limited.stderr
    folder = mount.path / "reads"
    names = sorted(os.listdir(folder))
    assert names == sorted(f"{t}.mp4" for t in contents)
    idle = fds(mount.pid)
    after: list[int] = []
    for batch in (names[:150], names[150:]):
        out = bounded("cat", *[folder / n for n in batch], mount=mount, seconds=120)
        assert out.returncode == 0, out.stderr.decode()[-400:]  # no EIO, no EMFILE
        assert out.stdout == b"".join(contents[n.removesuffix(".mp4")] for n in batch)
        after.append(fds(mount.pid))
    # 150 more distinct files read: the count has stopped growing with the files ever read,
    # and stays near idle (an LRU of some 64 descriptors at most, well under the limit)
    assert after[1] <= after[0] + 10, (idle, after)
    assert after[1] <= idle + 80, (idle, after)
    clip = tmp_path / "after reads.mp4"
    clip.write_bytes(os.urandom(100_000))
    copy = bounded("cp", clip, mount.path, mount=mount, seconds=60)
    assert copy.returncode == 0, copy.stderr.decode()
    sha = hashlib.sha256(clip.read_bytes()).hexdigest()
    wait_for("the write to reach the host", lambda: held(emulator, sha256=sha), timeout=30)
    assert fds(mount.pid) <= after[1] + 10, (idle, after, fds(mount.pid))
    assert mount.process.poll() is None


# -- item 12: slow servers hold no slot forever -----------------------------------------------
def status_line(mount: Mount, name: str) -> str:
    out = vipfs("status", mount.path, timeout=30)
    assert out.returncode == 0, out.stderr
    return "\n".join(line for line in out.stdout.splitlines() if name in line)


def status_xattr(path: Path) -> str:
    return sh("getfattr", "--only-values", "-n", "user.vipfs.status", path).stdout


TOO_SLOW = re.compile(r"retry.*too slow", re.IGNORECASE)


def test_slow_node_is_abandoned_retried_and_starves_no_other_upload(
    emulator: Emulator, start_mount: StartMount, tmp_path: Path
) -> None:
    slow, fast = tmp_path / "slow.mp4", tmp_path / "fast.mp4"
    slow.write_bytes(os.urandom(BIG))
    fast.write_bytes(os.urandom(200_000))
    emulator.switch(node_bytes_per_sec=1.0, slow_upload_names="slow")
    mount = start_mount(emulator, "--write-back", "0.2", "--transfers", "1", *SLOW)
    slow_in_mount = mount.path / "slow.mp4"
    assert bounded("cp", slow, mount.path, mount=mount).returncode == 0
    wait_for("the node to get slow.mp4", lambda: emulator.calls().get("upload", 0) >= 1)
    assert bounded("cp", fast, mount.path, mount=mount).returncode == 0
    # one transfer slot, held by a 1-byte/s node: only abandoning the attempt frees it
    wait_for("fast.mp4 to reach the host while the node holds slow.mp4",
             lambda: held(emulator, title="fast"), timeout=20)  # fmt: skip
    wait_for("`vipfs status` to say slow.mp4 is retried as too slow",
             lambda: TOO_SLOW.search(status_line(mount, "slow.mp4")), timeout=20)  # fmt: skip
    wait_for("user.vipfs.status to say slow.mp4 is too slow",
             lambda: TOO_SLOW.search(status_xattr(slow_in_mount)), timeout=20)  # fmt: skip
    assert [f["title"] for f in emulator.live_files()] == ["fast"]
    emulator.switch(node_bytes_per_sec=0.0)  # the node is fast again: the retry goes through
    wait_for("slow.mp4 to reach the host once the node is fast",
             lambda: held(emulator, title="slow"), timeout=60)  # fmt: skip
    stored = sorted((f["title"], f["sha256"]) for f in emulator.live_files())
    assert stored == sorted([
        ("fast", hashlib.sha256(fast.read_bytes()).hexdigest()),
        ("slow", hashlib.sha256(slow.read_bytes()).hexdigest()),
    ])  # fmt: skip
    done = vipfs("umount", mount.path, "--timeout", "60", timeout=90)
    assert done.returncode == 0, done.stderr
    assert len(emulator.live_files()) == 2  # the abandoned attempts left no copy behind


def test_slow_links_fail_in_bounded_time_while_other_reads_go_on(
    emulator: Emulator, start_mount: StartMount
) -> None:
    healthy = os.urandom(300_000)
    seeded = emulator.seed({
        "folders": [{"ref": "s", "name": "slow"}],
        "files": [{"title": f"slow {i}", "folder_ref": "s", "size": 1_000_000} for i in range(6)]
        + [{"title": "healthy", "content_b64": b64(healthy)}],
    })  # fmt: skip
    slow_codes = seeded["files"][:6]
    emulator.switch(link_bytes_per_sec=1.0, slow_link_codes=",".join(slow_codes))
    mount = start_mount(emulator, *SLOW)
    names = sorted(os.listdir(mount.path / "slow"))
    assert len(names) == 6
    readers = [
        subprocess.Popen(["cat", str(mount.path / "slow" / n)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for n in names
    ]  # fmt: skip
    try:
        wait_for("the slow links to hold the download slots",
                 lambda: emulator.calls().get("download", 0) >= 4, timeout=30)  # fmt: skip
        read = bounded("cat", mount.path / "healthy.mp4", mount=mount, seconds=20)
        assert read.returncode == 0, read.stderr.decode()
        assert read.stdout == healthy
        for reader in readers:
            try:
                _, err = reader.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                raise AssertionError("a read of a 1-byte/s link hung for 30 s") from None
            assert reader.returncode != 0
            assert os.strerror(errno.EIO) in err.decode(), err
    finally:
        release(readers, mount)
    again = bounded("cat", mount.path / "healthy.mp4", mount=mount, seconds=20)
    assert again.returncode == 0 and again.stdout == healthy
    assert mount.process.poll() is None


# -- item 15: host data that loops ----------------------------------------------------------
# (the folder whose parent the host rewrites, its new parent, the folder listed before, the
# folder whose listing then meets the loop, and two moves into the loop)
LOOPS = {
    "two folders": ("a", "b", "Alpha", "Alpha/Beta", [("Gamma", "Alpha/Beta"), ("Delta", "Alpha")]),
    "three folders": (
        "a",
        "e",
        "Alpha/Beta",
        "Alpha/Beta/Epsilon",
        [("Gamma", "Alpha/Beta/Epsilon"), ("Delta", "Alpha/Beta")],
    ),
}


@pytest.mark.parametrize("loop", list(LOOPS))
def test_a_host_folder_cycle_never_hangs_the_mount(
    emulator: Emulator, start_mount: StartMount, loop: str
) -> None:
    moved, parent, before, met, moves = LOOPS[loop]
    refs = emulator.seed({
        "folders": [{"ref": "a", "name": "Alpha"}, {"ref": "b", "name": "Beta", "parent_ref": "a"},
                    {"ref": "e", "name": "Epsilon", "parent_ref": "b"},
                    {"ref": "c", "name": "Gamma"}, {"ref": "d", "name": "Delta"}],
        "files": [{"title": "in beta", "folder_ref": "b"}, {"title": "top"}],
    })["folders"]  # fmt: skip
    mount = start_mount(emulator, "--op-timeout", "5")
    root = mount.path
    assert bounded("ls", root / before, mount=mount).returncode == 0  # cached from now on
    # Alpha -> Beta (-> Epsilon) -> Alpha: what a folder/edit with a descendant as parent makes
    # on a real host (it refuses only parent == self); a walk up from it never meets the root
    emulator.control("POST", "/_emu/folder", {"fld_id": refs[moved], "parent_id": refs[parent]})
    # this listing now holds its own ancestor: shown, or refused cleanly, never a hang
    bounded("ls", root / met, mount=mount)
    for src, dst in moves:
        bounded("mv", root / src, root / dst, mount=mount, seconds=20)  # done, or a clean error
        assert mount.process.poll() is None
    bounded("find", root, mount=mount, seconds=30)
    alive = bounded("ls", root, mount=mount, seconds=20)
    assert alive.returncode == 0 and b"top.mp4" in alive.stdout.split(), alive
    assert bounded("stat", root / "top.mp4", mount=mount, seconds=20).returncode == 0
    still = emulator.api("folder/list", fld_id=refs[parent])["folders"]
    assert refs[moved] in [int(f["fld_id"]) for f in still]  # vipfs moved nothing it met
    assert "Traceback" not in mount.log()

"""What desktops see of a mount: remote-ness (df -l, GLib), refused thumbnailers, mc.

Everything here runs real programs against a real mount: the thumbnailer is /bin/cat copied
under the name `tumblerd`, because the kernel names a process after its executable file.
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import Emulator, Mount, sh

pytestmark = pytest.mark.fuse

StartMount = Callable[..., Mount]

SIZE = 300_000


def seed_clip(emulator: Emulator) -> None:
    emulator.seed({
        "folders": [{"ref": "m", "name": "Movies"}, {"ref": "s", "name": "Series"}],
        "files": [
            {"title": "clip", "size": SIZE},
            {"title": "trailer", "folder_ref": "m"},
            {"title": "pilot", "folder_ref": "s"},
        ],
    })  # fmt: skip


def test_listed_thumbnailer_is_refused_and_cat_reads(
    emulator: Emulator, start_mount: StartMount, tmp_path: Path
) -> None:
    seed_clip(emulator)
    mount = start_mount(emulator, "--deny-read-procs")
    cat = shutil.which("cat")
    assert cat is not None
    thumbnailer = tmp_path / "tumblerd"
    shutil.copy(cat, thumbnailer)
    emulator.reset_calls()
    for _ in range(3):
        refused = sh(thumbnailer, mount.path / "clip.mp4")
        assert refused.returncode == 1 and "Permission denied" in refused.stderr
    assert emulator.calls().get("download", 0) == 0
    # a process that only calls itself tumblerd (argv[0]) is still cat
    disguised = subprocess.run(
        ["tumblerd", str(mount.path / "clip.mp4")], executable=cat, capture_output=True, timeout=60
    )
    assert disguised.returncode == 0 and len(disguised.stdout) == SIZE
    assert len(subprocess.run([cat, mount.path / "clip.mp4"], capture_output=True).stdout) == SIZE
    refusals = [line for line in mount.log().splitlines() if "'tumblerd'" in line]
    assert len(refusals) == 1, refusals  # one line per process name, not per open


def test_df_local_skips_the_mount(emulator: Emulator, start_mount: StartMount) -> None:
    mount = start_mount(emulator)
    everything = sh("df", "--output=source,target", mount.path)
    assert everything.returncode == 0 and "vipfs:" in everything.stdout
    local = sh("df", "-l", mount.path)  # gnulib: an fsname with ":" is remote
    assert local.returncode == 1 and "no file systems processed" in local.stderr


def glib_version() -> tuple[int, int]:
    lib = ctypes.CDLL("libglib-2.0.so.0")
    return (
        ctypes.c_uint.in_dll(lib, "glib_major_version").value,
        ctypes.c_uint.in_dll(lib, "glib_minor_version").value,
    )


@pytest.mark.skipif(shutil.which("gio") is None, reason="gio (libglib2.0-bin) is not installed")
@pytest.mark.parametrize("subtype", ["vipfs", "sshfs"])
def test_glib_remote_only_with_the_sshfs_pretence(
    emulator: Emulator, start_mount: StartMount, subtype: str
) -> None:
    # GLib >= 2.75 reads the type from the mount table and counts fuse.sshfs as remote; older
    # GLib asked statfs(), which says "fuse" for every FUSE mount: never remote.
    remote = subtype == "sshfs" and glib_version() >= (2, 75)
    mount = start_mount(emulator, "--subtype", subtype)
    info = sh("gio", "info", "-f", "-a", "filesystem::remote", mount.path)
    assert info.returncode == 0, info.stderr
    assert f"filesystem::remote: {str(remote).upper()}" in info.stdout
    table = Path("/proc/self/mountinfo").read_text()
    assert f" {mount.path} " in table and f" - fuse.{subtype} vipfs:" in table


class Tmux:
    """One detached tmux server of our own (its own socket), killed at the end."""

    def __init__(self, socket: str) -> None:
        self.socket = socket

    def run(self, *args: str) -> str:
        done = sh("tmux", "-L", self.socket, *args, timeout=30)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "mc")

    def wait_for(self, *words: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while True:
            text = self.screen()
            if all(w in text for w in words):
                return text
            if time.monotonic() > deadline:
                raise AssertionError(f"{words} never appeared; the screen:\n{text}")
            time.sleep(0.1)


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    server = Tmux(f"vipfs-test-{uuid.uuid4().hex[:8]}")
    yield server
    sh("tmux", "-L", server.socket, "kill-server")


@pytest.mark.skipif(
    shutil.which("mc") is None or shutil.which("tmux") is None,
    reason="mc and tmux come with scripts/setup.sh test",
)
def test_midnight_commander_browses_without_downloading(
    emulator: Emulator, start_mount: StartMount, tmux: Tmux, tmp_path: Path
) -> None:
    seed_clip(emulator)
    mount = start_mount(emulator)
    emulator.reset_calls()
    home = tmp_path / "home"  # mc keeps its settings and history here, not in ~
    home.mkdir()
    tmux.run(
        "new-session", "-d", "-s", "mc", "-x", "120", "-y", "40",
        "env", f"HOME={home}", "TERM=xterm", "mc", "--nosubshell", "--nocolor",
        str(mount.path), str(mount.path / "Movies"),
    )  # fmt: skip
    tmux.wait_for("Movies", "Series", "clip", "trailer")
    tmux.run("send-keys", "-t", "mc", "cd Series", "Enter")  # mc's command line
    tmux.wait_for("pilot", "trailer")
    tmux.run("send-keys", "-t", "mc", "F10")
    calls = emulator.calls()
    assert calls.get("download", 0) == 0, calls

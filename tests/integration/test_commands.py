"""`vipfs clone`, `vipfs url-upload`, `vipfs status` and `setfattr` on a real mount.

They all act through the mount (xattrs on folders and files), so they need no key of their
own; each is checked on the host (the emulator) as well as through the mount.
"""

from __future__ import annotations

import functools
import http.server
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import Emulator, Mount, sh, vipfs, wait_for

pytestmark = pytest.mark.fuse

StartMount = Callable[..., Mount]
StartEmulator = Callable[..., Emulator]


def settled(emu: Emulator, count: int) -> bool:
    live = emu.live_files()
    return len(live) == count and not any("vipfs-" in f["title"] for f in live)


@pytest.fixture
def web(tmp_path: Path) -> Iterator[str]:
    """A loopback web server for the host's URL upload to fetch from."""
    root = tmp_path / "www"
    root.mkdir()
    (root / "remote_clip.mp4").write_bytes(os.urandom(30_000))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_clone_copies_on_the_host_with_the_source_attributes(
    start_emulator: StartEmulator, start_mount: StartMount, tmp_path: Path
) -> None:
    emu = start_emulator("--enable", "direct_link,clone")
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(os.urandom(25_000))
    os.utime(clip, ns=(1_500_000_000_000_000_000, 1_500_000_000_000_000_000))
    mount = start_mount(emu, "--write-back", "0.2")
    assert sh("cp", "-a", clip, mount.path).returncode == 0
    assert sh("mkdir", mount.path / "Copies").returncode == 0
    wait_for("the upload", lambda: settled(emu, 1))
    done = vipfs("clone", mount.path / "clip.mp4", mount.path / "Copies")
    assert done.returncode == 0, done.stderr
    copy = mount.path / "Copies" / "clip.mp4"
    assert sh("stat", "-c", "%s %Y", copy).stdout == sh("stat", "-c", "%s %Y", clip).stdout
    live = emu.live_files()
    assert len(live) == 2 and len({f["sha256"] for f in live}) == 1
    assert emu.calls().get("upload", 0) == 1  # no bytes moved for the copy
    renamed = vipfs("clone", mount.path / "clip.mp4", mount.path / "Copies" / "second.mp4")
    assert renamed.returncode == 0, renamed.stderr
    assert sorted(os.listdir(mount.path / "Copies")) == ["clip.mp4", "second.mp4"]
    assert "second" in [f["title"] for f in emu.live_files()]
    again = vipfs("clone", mount.path / "clip.mp4", mount.path / "Copies")
    assert again.returncode != 0 and "exists" in again.stderr


def test_url_upload_lands_in_the_folder(
    emulator: Emulator, start_mount: StartMount, web: str
) -> None:
    mount = start_mount(emulator, "--dir-cache-time", "0.5")
    assert sh("mkdir", mount.path / "Fetched").returncode == 0
    done = vipfs("url-upload", f"{web}/remote_clip.mp4", "--to", mount.path / "Fetched")
    assert done.returncode == 0, done.stderr
    wait_for("the fetched file", lambda: os.listdir(mount.path / "Fetched"))
    (name,) = os.listdir(mount.path / "Fetched")
    assert name == "remote clip.mp4"  # the host's title and the default extension
    bad = vipfs("url-upload", "ftp://example.org/x.mp4", "--to", mount.path / "Fetched")
    assert bad.returncode != 0


def test_setfattr_edits_and_status_lists_every_mount(
    emulator: Emulator, start_mount: StartMount, tmp_path: Path
) -> None:
    clip = tmp_path / "tagged.mp4"
    clip.write_bytes(os.urandom(10_000))
    mount = start_mount(emulator, "--write-back", "0.2")
    assert sh("cp", clip, mount.path).returncode == 0
    wait_for("the upload", lambda: settled(emulator, 1))
    target = mount.path / "tagged.mp4"
    for name, value in (("tags", "cats, dogs"), ("public", "1"), ("title", "A <nice> title")):
        done = sh("setfattr", "-n", f"user.vipfs.{name}", "-v", value, target)
        assert done.returncode == 0, done.stderr
    (held,) = emulator.live_files()
    assert held["title"] == "A &lt;nice&gt; title"  # file/edit escapes; the xattr unescapes
    # the title names the file, as any host title does (the raw title is not encoded)
    assert os.listdir(mount.path) == ["A <nice> title.mp4"]
    target = mount.path / "A <nice> title.mp4"
    for name, value in (("tags", "cats, dogs"), ("title", "A <nice> title"), ("public", "1")):
        shown = sh("getfattr", "--only-values", "-n", f"user.vipfs.{name}", target)
        assert shown.stdout == value, (name, shown)
    refused = sh("setfattr", "-n", "user.vipfs.code", "-v", "x", target)
    assert refused.returncode != 0 and "Operation not permitted" in refused.stderr
    status = vipfs("status")
    assert str(mount.path) in status.stdout, status.stderr
    # Other mounts on this machine (another test's, a dead one) may add their own complaints;
    # none may be about this mount, and only they may make the exit code 1.
    assert str(mount.path) not in status.stderr
    assert status.returncode == (1 if status.stderr else 0), status.stderr


def test_a_lagging_host_listing_does_not_hide_fresh_uploads(
    start_emulator: StartEmulator, start_mount: StartMount, tmp_path: Path
) -> None:
    emu = start_emulator("--enable", "direct_link", "--listing-delay", "120")
    src = tmp_path / "src"
    src.mkdir()
    for i in range(3):
        (src / f"fresh {i}.mp4").write_bytes(os.urandom(5_000 + i))
    mount = start_mount(emu, "--write-back", "0.2", "--dir-cache-time", "0.3")
    assert sh("cp", "-a", f"{src}/.", mount.path).returncode == 0
    wait_for("3 uploads", lambda: settled(emu, 3))
    listed = emu.api("folder/list", fld_id=0, files=1).get("files")
    assert not listed  # the host does not list them yet...
    for _ in range(3):  # ...and refetched listings still show them, with their sizes
        time.sleep(0.4)
        shown = sh("stat", "-c", "%n %s", *sorted(mount.path.glob("fresh*"))).stdout
        assert shown.splitlines() == [
            f"{mount.path / f'fresh {i}.mp4'} {5_000 + i}" for i in range(3)
        ]


def test_status_names_folders_sums_up_each_mount_and_a_drain_prints_once(
    emulator: Emulator, start_mount: StartMount, tmp_path: Path
) -> None:
    mount = start_mount(emulator, "--write-back", "600")
    (mount.path / "Sub").mkdir()
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(os.urandom(10_000))
    assert sh("cp", clip, mount.path / "Sub").returncode == 0
    full = vipfs("status", mount.path)
    assert full.stdout.splitlines()[:2] == [
        f"{mount.path}: 0 writing, 0 held, 1 queued, 0 uploading, 0 failed",
        "  queued     Sub/clip.mp4  10.0 KB",  # its folder, and no "0.0 MB"
    ], full.stderr
    summary = vipfs("status").stdout.splitlines()  # other tests' mounts may be listed too
    assert f"{mount.path}: 0 writing, 0 held, 1 queued, 0 uploading, 0 failed" in summary
    assert not [line for line in summary if line.startswith(" ")]  # one line per mount
    mount.process.send_signal(signal.SIGTERM)  # drains the queue (-f), with progress
    assert mount.process.wait(120) == 0
    assert len(emulator.live_files()) == 1  # uploaded before the process ended
    said = (tmp_path / f"{mount.path.name}.stderr").read_text().splitlines()
    shown = [line for line in said if line.startswith("vipfs: uploads:")]
    assert shown and len(shown) == len(set(shown)), said  # each progress line once
    assert "uploads: 1 queued" not in mount.log()  # on the terminal, not again in the log

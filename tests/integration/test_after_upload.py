"""`user.vipfs.link` and `user.vipfs.length` after an upload (issue 11, item 6), with getfattr.

Right after an upload vipfs shows its own stand-in for the new file (the folder's cached
listing predates it); the values only the host knows come from the host as soon as it tells
them: the length from the next `file/info` (the next getfattr asks it), the link from the next
listing that shows the file. Neither waits for an unrelated refresh.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.conftest import Emulator, Mount, drained, sh, wait_for

pytestmark = pytest.mark.fuse


def xattr(path: Path, name: str) -> str | None:
    """The value getfattr shows, or None when the file has no such attribute."""
    out = sh("getfattr", "--only-values", "-n", f"user.vipfs.{name}", path)
    return out.stdout if out.returncode == 0 else None


def test_link_and_length_come_as_soon_as_the_host_tells_them(
    start_emulator: Callable[..., Emulator],
    start_mount: Callable[..., Mount],
    tmp_path: Path,
) -> None:
    emu = start_emulator()
    (seeded,) = emu.seed({"files": [{"title": "Older clip", "size": 1000, "length": 95}]})["files"]
    mount = start_mount(emu, "--write-back", "0.5", "--dir-cache-time", "2")
    older = mount.path / "Older clip.mp4"  # the name gets the extension titles lose
    assert xattr(older, "length") == "95"  # the folder's listing and file/info, cached now

    src = tmp_path / "New clip.mp4"
    src.write_bytes(b"new video bytes\n" * 400)
    done = sh("cp", src, mount.path / "New clip.mp4")
    assert done.returncode == 0, done.stderr
    wait_for("the upload", lambda: drained(mount.path))
    new = mount.path / "New clip.mp4"
    listed = emu.api("folder/list", fld_id=0, files=1)["files"]
    (host,) = [f for f in listed if f["file_code"] != seeded]

    assert xattr(new, "code") == host["file_code"]
    assert xattr(new, "length") == str(host["length"])  # the next file/info: at once

    def listed_link() -> str | None:
        sh("ls", mount.path)  # a listing past --dir-cache-time is asked again
        return xattr(new, "link")

    assert wait_for("the link", listed_link, timeout=30) == host["link"]
    assert xattr(older, "length") == "95"

"""What the host says of a file after its upload, through getfattr and status.json (issue 12,
item 3): `uploaded`, then `encoding 40%`, then `ready`; `dmca: deleted in 12h`; a file the
host's admin deleted. The emulator's `/_emu/file` control sets each state, so nothing here
waits on the encoding clock."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import Emulator, Mount, drained, sh, status_xattr, wait_for

pytestmark = pytest.mark.fuse

POLLS = ("--encoding-poll", "0.3", "--takedown-poll", "0.3")


def host_part(mount: Path) -> dict[str, Any]:
    return dict(json.loads((mount / ".vipfs" / "status.json").read_text())["host"])


def code_of(path: Path) -> str:
    out = sh("getfattr", "--only-values", "-n", "user.vipfs.code", path)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_an_upload_goes_encoding_then_ready(
    start_emulator: Callable[..., Emulator], start_mount: Callable[..., Mount], tmp_path: Path
) -> None:
    emu = start_emulator("--encode-seconds", "86400")  # encoding until the test says
    mount = start_mount(emu, "--write-back", "0.2", *POLLS)
    (tmp_path / "clip.mp4").write_bytes(b"a video\n" * 2000)
    assert sh("cp", tmp_path / "clip.mp4", mount.path).returncode == 0
    wait_for("the upload", lambda: drained(mount.path))
    clip = mount.path / "clip.mp4"
    code = code_of(clip)
    assert wait_for("file/encodings' answer", lambda: status_xattr(clip) == "encoding 0%")
    emu.control("POST", "/_emu/file", {"code": code, "progress": 40})
    assert wait_for("40%", lambda: status_xattr(clip) == "encoding 40%")
    assert host_part(mount.path)["encoding"] == [{"code": code, "progress": 40}]
    emu.control("POST", "/_emu/file", {"code": code, "encoded": True})
    assert wait_for("ready", lambda: status_xattr(clip) == "ready")
    assert host_part(mount.path)["encoding"] == []
    assert "could not poll" not in mount.log()


def test_a_dmca_notice_and_an_admin_deletion(
    start_emulator: Callable[..., Emulator], start_mount: Callable[..., Mount]
) -> None:
    emu = start_emulator()
    noticed, removed = emu.seed(
        {"files": [{"title": "noticed", "size": 10}, {"title": "removed", "size": 10}]}
    )["files"]
    mount = start_mount(emu, *POLLS)
    assert status_xattr(mount.path / "noticed.mp4") == "ready"
    assert code_of(mount.path / "removed.mp4") == removed  # the mount knows the file now
    emu.control("POST", "/_emu/file", {"code": noticed, "dmca": True})
    emu.control("POST", "/_emu/file", {"code": removed, "deleted": "admin"})
    state = wait_for(
        "the DMCA notice",
        lambda: (s := status_xattr(mount.path / "noticed.mp4")).startswith("dmca:") and s,
    )
    assert state == "dmca: deleted in 12h"  # the emulator's grace: 12 h, rounded up
    host = wait_for("the deletion", lambda: (h := host_part(mount.path))["deleted"] and h)
    assert host["deleted"] == [{"code": removed, "by": "admin"}]
    assert host["dmca"] == [{"code": noticed, "hours_left": 12}]

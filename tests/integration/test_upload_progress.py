"""Issue 12, item 2 on a real mount: an upload's progress seen while the node is slow.

The emulator's node takes the body at `node_bytes_per_sec` (only for names with "slow" in
them); loopback's socket buffers swallow the first megabytes at once, so the file is bigger
than they are, and the node is sped up again once the test has seen what it wants.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.conftest import Emulator, Mount, drained, sh, status_xattr, vipfs, wait_for

pytestmark = pytest.mark.fuse

SIZE = 24_000_000  # more than loopback's socket buffers take from a node that reads slowly
LINE = re.compile(
    r"uploading (?P<pct>\d+)% (?P<sent>\d+\.\d)/24\.0 MB (?P<rate>\d+\.\d) MB/s ETA (?P<eta>\S+)"
)


def test_an_upload_shows_its_percent_rate_and_eta_while_it_runs(
    emulator: Emulator, start_mount: Callable[..., Mount], tmp_path: Path
) -> None:
    emulator.switch(node_bytes_per_sec=1_000_000, slow_upload_names="slow")
    mount = start_mount(emulator, "--write-back", "0")
    source = tmp_path / "slow.mp4"
    source.write_bytes(b"\x00" * SIZE)
    assert sh("cp", source, mount.path / "slow.mp4").returncode == 0
    target = mount.path / "slow.mp4"

    def running() -> re.Match[str] | None:
        match = LINE.fullmatch(status_xattr(target))
        return match if match and int(match["pct"]) < 100 else None

    seen = wait_for("a rate and an ETA in user.vipfs.status", running)
    assert 0.0 < float(seen["rate"]) < 100.0
    assert re.fullmatch(r"\d+s|\d+m\d\ds|\d+h\d\dm", seen["eta"])
    report = json.loads((mount.path / ".vipfs" / "status.json").read_text())
    (item,) = report["queue"]["uploading"]
    assert (item["name"], item["total"], item["size"]) == ("slow.mp4", SIZE, SIZE)
    assert 0 < item["sent"] <= SIZE
    plain = vipfs("status", mount.path)  # not a terminal: the plain lines, with the same text
    assert re.search(r"  uploading  slow\.mp4  \d+% [\d.]+/24\.0 MB", plain.stdout), plain.stdout
    emulator.switch(node_bytes_per_sec=0)
    wait_for("the upload to finish", lambda: drained(mount.path))
    assert not status_xattr(target).startswith("uploading")

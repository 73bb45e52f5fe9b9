"""One limiter with lanes, on a host allowing 5 calls a minute: browsing never waits on uploads.

The emulator counts calls per server minute and refuses the sixth. Uploads (BACKGROUND) keep its
quota spent; meanwhile a cached folder must answer without a call, and an uncached one with the
call the limiter keeps back for interactive work. No wall-clock asserts: a listing that waited
for the next quota minute would still pass a timing check on a fast machine, so the test looks
at what each listing cost, and at the budget the host reported and the queue, to know the quota
was contended while it listed; the subprocess timeouts are hang guards only.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import Emulator, Mount, sh, wait_for
from vipfs import mount_options

pytestmark = pytest.mark.fuse

StartMount = Callable[..., Mount]
RETITLE = "--upload-retitle"


def rate_limit(mount: Mount) -> dict[str, Any]:
    report = json.loads((mount.path / ".vipfs" / "status.json").read_text())
    state: dict[str, Any] = report["rate_limit"]
    return state


def unfinished(mount: Mount) -> int:
    queue = json.loads((mount.path / ".vipfs" / "status.json").read_text())["queue"]
    return sum(len(queue[state]) for state in ("queued", "uploading", "retrying"))


def ls(path: Path) -> list[str]:
    done = sh("ls", path, timeout=90)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_browsing_goes_before_uploads_on_a_five_a_minute_host(
    emulator: Emulator, start_mount: StartMount, tmp_path: Path
) -> None:
    emulator.seed({
        "folders": [{"ref": "seen", "name": "seen"}, {"ref": "new", "name": "unseen"}],
        "files": [
            {"title": "kept", "folder_ref": "seen"},
            {"title": "waiting", "folder_ref": "new"},
        ],
    })  # fmt: skip
    # Uploads that cost ~0 calls would leave nothing to contend with: where the mount offers
    # the old per-file design (upload/server + retitle edit each), the test asks for it.
    baseline = [RETITLE] if RETITLE in mount_options.long_flags() else []
    mount = start_mount(emulator, "--write-back", "0.1", *baseline)
    seen = ls(mount.path / "seen")
    assert len(seen) == 1
    emulator.switch(rate_limit_per_min=5)
    source = tmp_path / "src"
    source.mkdir()
    for i in range(12):
        (source / f"clip{i:02d}.mp4").write_bytes(os.urandom(2000))
    copied = sh("cp", *sorted(source.iterdir()), mount.path, timeout=90)
    assert copied.returncode == 0, copied.stderr

    def contended() -> bool:
        """Uploads to do, and the minute's calls all spent but the one kept back."""
        left = rate_limit(mount)["requests_available"]
        return left is not None and left <= 1 and unfinished(mount) > 0

    wait_for("uploads to spend the minute's quota", contended)

    before = emulator.calls().get("folder/list", 0)
    assert ls(mount.path / "seen") == seen  # cached: no call, no turn at the limiter
    assert emulator.calls().get("folder/list", 0) == before
    assert len(ls(mount.path / "unseen")) == 1  # the call kept back for interactive work
    assert emulator.calls().get("folder/list", 0) == before + 1
    mount.process.send_signal(signal.SIGHUP)  # forget the listings: each is asked again
    assert {"seen", "unseen"} <= set(ls(mount.path))  # new, or the last one: never EIO
    assert ls(mount.path / "seen") == seen
    assert unfinished(mount)  # and the uploads were still going on all along
    assert os.statvfs(mount.path).f_bavail > 0  # df at once, from the start-up numbers
    assert emulator.calls().get("account/info") == 1  # the start-up check's: none per upload

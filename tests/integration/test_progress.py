"""Live upload progress on a real mount (issue 12, item 2), with the emulator's node slowed.

The node reads upload bodies at `node_bytes_per_sec` (changed at run time through
`/_emu/faults`, felt within 0.1 s), so a test holds an upload in flight as long as it needs to
look at it, then lets it finish at full speed: nothing waits on a clock, only on what the mount
shows (`user.vipfs.status`, `/.vipfs/status.json`, a tmux pane).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import Emulator, Mount, sh, status_xattr, wait_for
from tests.integration.terminal import EXIT_MARK, Terminal

pytestmark = pytest.mark.fuse

StartMount = Callable[..., Mount]
StartEmulator = Callable[..., Emulator]

SLOW = 400_000  # bytes/s the node reads while a test watches
SIZE = 16_000_000  # well past loopback socket buffers: the rate is the node's for ~35 s
# contract §4: `uploading 37% 12.3/33.0 MB 2.1 MB/s ETA 10s`, rate and ETA once known
UPLOADING = re.compile(
    r"uploading (?P<pct>\d{1,3})% (?P<sent>\d+\.\d)/(?P<total>\d+\.\d) MB"
    r"(?P<rate> \d+(?:\.\d+)? [KMG]?B/s)?(?P<eta> ETA (?:\d+h)?(?:\d+m)?(?:\d+s)?)?"
)
BAR = re.compile(r"[━█▉▊▋▌▍▎▏■]")  # what rich (or tqdm) draws a bar with


@pytest.fixture
def terminal() -> Iterator[Terminal]:
    term = Terminal(f"vipfs-t1-{uuid.uuid4().hex[:8]}")
    yield term
    sh("tmux", "-L", term.socket, "kill-server")


def slow_emulator(start_emulator: StartEmulator) -> Emulator:
    return start_emulator("--enable", "direct_link", "--node-bytes-per-sec", str(SLOW))


def big_file(path: Path, size: int = SIZE) -> str:
    """`size` random bytes at `path`; their sha256."""
    data = os.urandom(size)
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def item_of(mount: Path, name: str) -> dict[str, Any] | None:
    """The `uploading` item of status.json named `name`, if it is uploading."""
    report = json.loads((mount / ".vipfs" / "status.json").read_text())
    found = [r for r in (report.get("queue") or {}).get("uploading") or [] if r["name"] == name]
    return found[0] if found else None


def reading(path: Path) -> re.Match[str] | None:
    """The file's status, parsed, while it says it is uploading."""
    return UPLOADING.fullmatch(status_xattr(path))


def test_status_xattr_and_status_json_show_an_upload_in_flight(
    start_emulator: StartEmulator, start_mount: StartMount, tmp_path: Path
) -> None:
    emu = slow_emulator(start_emulator)
    mount = start_mount(emu, "--write-back", "0.2")
    big_file(tmp_path / "big.mp4")
    assert sh("cp", tmp_path / "big.mp4", mount.path).returncode == 0
    target = mount.path / "big.mp4"
    first = wait_for("the upload to start", lambda: reading(target))
    assert first["total"] == f"{SIZE / 1e6:.1f}"
    seen = [first]  # every reading, in order

    def risen(past: int) -> re.Match[str] | None:
        now = reading(target)
        if now is not None:
            seen.append(now)
        return now if now is not None and int(now["pct"]) >= past else None

    # N rises over successive reads; the rate and ETA appear once the mount knows them, and
    # by 12 points on, the first burst into the socket buffers has left the rate's window
    wait_for("N to rise", lambda: risen(int(first["pct"]) + 1))
    wait_for("N to rise again", lambda: risen(int(seen[-1]["pct"]) + 1))
    wait_for("N 12 points on", lambda: risen(int(first["pct"]) + 12))
    percents = [int(m["pct"]) for m in seen]
    assert percents == sorted(percents), percents  # never backwards
    for m in seen:
        sent, total = float(m["sent"]), float(m["total"])
        assert sent <= total and abs(int(m["pct"]) - 100 * sent / total) <= 1.5, m.group(0)
    assert seen[-1]["rate"] and seen[-1]["eta"], seen[-1].group(0)

    # status.json, read between two xattr readings, carries the same numbers
    before = wait_for("a reading with a rate", lambda: (r := reading(target)) and r["rate"] and r)
    item = wait_for("the uploading item", lambda: item_of(mount.path, "big.mp4"))
    after = wait_for("a reading with a rate", lambda: (r := reading(target)) and r["rate"] and r)
    assert item["total"] == item["size"] == SIZE
    assert float(before["sent"]) - 0.05 <= item["sent"] / 1e6 <= float(after["sent"]) + 0.05
    assert isinstance(item["rate"], float | int) and item["rate"] > 0, item
    assert isinstance(item["eta"], float | int) and item["eta"] >= 0, item
    remaining = (item["total"] - item["sent"]) / item["rate"]
    assert abs(item["eta"] - remaining) <= 1 + 0.05 * remaining, item
    # the node reads at SLOW: the rate shown is the rate the bytes move at, within reason
    assert SLOW / 4 <= item["rate"] <= SLOW * 4, item

    emu.switch(node_bytes_per_sec=0)  # full speed: the upload ends
    done = wait_for(
        "the upload to end", lambda: (s := status_xattr(target)) and not reading(target) and s
    )
    assert done in ("uploaded", "ready") or done.startswith("encoding"), done
    assert item_of(mount.path, "big.mp4") is None


def test_queued_items_carry_total_and_no_rate_yet(
    emulator: Emulator, start_mount: StartMount, tmp_path: Path
) -> None:
    mount = start_mount(emulator, "--write-back", "600")
    big_file(tmp_path / "later.mp4", 12_345)
    assert sh("cp", tmp_path / "later.mp4", mount.path).returncode == 0

    def queued() -> list[dict[str, Any]]:
        return list(
            json.loads((mount.path / ".vipfs" / "status.json").read_text())["queue"]["queued"]
        )

    (item,) = wait_for("the queued row", queued)
    assert (item["name"], item["total"], item["size"]) == ("later.mp4", 12_345, 12_345)
    assert (item["sent"], item["rate"], item["eta"]) == (0, None, None), item
    assert status_xattr(mount.path / "later.mp4") == "queued"


def test_status_watch_draws_a_bar_per_uploading_file(
    start_emulator: StartEmulator, start_mount: StartMount, tmp_path: Path, terminal: Terminal
) -> None:
    emu = slow_emulator(start_emulator)
    mount = start_mount(emu, "--write-back", "0.2")
    big_file(tmp_path / "big.mp4")
    terminal.start("status", "--watch", mount.path)
    assert sh("cp", tmp_path / "big.mp4", mount.path).returncode == 0

    def bar_line(screen: str) -> str:
        lines = [ln for ln in screen.splitlines() if "big" in ln and BAR.search(ln)]
        return lines[0] if lines and re.search(r"\d+%", lines[0]) else ""

    screen = terminal.wait_for("a progress bar for big.mp4", lambda s: bool(bar_line(s)))
    pct = int(re.findall(r"(\d+)%", bar_line(screen))[0])
    # the bars are live: a later redraw shows the same file further on
    later = terminal.wait_for(
        "the bar to advance",
        lambda s: bool(bar_line(s)) and int(re.findall(r"(\d+)%", bar_line(s))[0]) > pct,
    )
    (tmp_path / "watch-capture.txt").write_text(later)  # for the closing note
    emu.switch(node_bytes_per_sec=0)
    wait_for("the upload to end", lambda: not reading(mount.path / "big.mp4"))
    terminal.tmux("send-keys", "-t", "main", "C-c")
    assert terminal.exit_status() == 0  # Ctrl-C ends the watch quietly
    assert "Traceback" not in terminal.screen()


def test_umount_drains_with_one_bar_and_every_file_lands(
    start_emulator: StartEmulator, start_mount: StartMount, tmp_path: Path, terminal: Terminal
) -> None:
    emu = slow_emulator(start_emulator)
    mount = start_mount(emu, "--write-back", "600")
    src = tmp_path / "src"
    src.mkdir()
    sums = {big_file(src / f"part {i}.mp4", 3_000_000 + i): f"part {i}" for i in range(3)}
    assert sh("cp", "-a", f"{src}/.", mount.path).returncode == 0
    terminal.start("umount", mount.path)

    def one_bar(screen: str) -> bool:
        return len([ln for ln in screen.splitlines() if BAR.search(ln)]) == 1

    screen = terminal.wait_for("the drain's bar", lambda s: bool(BAR.search(s)))
    assert one_bar(screen), screen  # one bar for the whole drain, not one per file
    assert EXIT_MARK not in screen  # still draining
    emu.switch(node_bytes_per_sec=0)
    assert terminal.exit_status() == 0, terminal.screen()
    final = terminal.screen()
    assert "Traceback" not in final
    assert len([ln for ln in final.splitlines() if BAR.search(ln)]) <= 1, final
    assert not os.path.ismount(mount.path)
    live = {f["sha256"]: f["title"] for f in emu.live_files()}
    assert set(live) == set(sums), live  # every file on the host, each once
    assert all("vipfs-" not in title for title in live.values()), live

"""`vipfs status --watch` and `vipfs umount` drawing progress from a canned status.json."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from vipfs import status, umount
from vipfs.status import drain_left, render, watch_view

RUNNING = {
    "name": "a.mp4",
    "dir": "Clips",
    "fld_id": 3,
    "size": 33_000_000,
    "total": 33_000_000,
    "sent": 12_300_000,
    "rate": 2_100_000.0,
    "eta": 10.0,
}
STARTING = {"name": "b.mp4", "dir": None, "size": 5_000_000, "sent": 0, "rate": None, "eta": None}
QUEUE = {
    "uploading": [RUNNING, STARTING],
    "queued": [{"name": "c.mp4", "size": 2_000_000, "attempts": 0}],
    "failed": [],
}


def test_plain_status_shows_each_upload_as_its_xattr_does() -> None:
    lines = render(Path("/mnt/v"), {"queue": QUEUE}).splitlines()
    assert lines[0] == "/mnt/v: 0 writing, 0 held, 1 queued, 2 uploading, 0 failed"
    assert lines[1] == "  uploading  Clips/a.mp4  37% 12.3/33.0 MB 2.1 MB/s ETA 10s"
    assert lines[2] == "  uploading  b.mp4  0% 0.0/5.0 MB"  # no rate yet: none shown
    assert lines[3] == "  queued     c.mp4  2.0 MB"


def test_hostile_numbers_in_status_json_read_as_unknown() -> None:
    odd = {"name": "x", "size": "big", "sent": True, "rate": "fast", "eta": -1}
    lines = render(Path("/m"), {"queue": {"uploading": [odd]}}).splitlines()
    assert lines[1] == "  uploading  x  0% 0.0/0.0 MB"


def _text(renderable: object, width: int = 110) -> str:
    console = Console(file=io.StringIO(), width=width, record=True)
    console.print(renderable)
    return console.export_text()


def test_the_watch_view_draws_one_bar_per_upload_and_the_summary() -> None:
    lines = [
        line.rstrip() for line in _text(watch_view(Path("/mnt/v"), {"queue": QUEUE})).splitlines()
    ]
    assert lines[0] == "/mnt/v: 0 writing, 0 held, 1 queued, 2 uploading, 0 failed"
    first, second = lines[1], lines[2]
    assert first.startswith("Clips/a.mp4 ") and first.endswith(" 37% 12.3/33.0 MB 2.1 MB/s ETA 10s")
    assert second.startswith("b.mp4 ") and second.endswith(" 0% 0.0/5.0 MB")
    drawn = first.count("━") + first.count("╸")
    assert 10 <= drawn <= 12  # 37% of a 30-cell bar: the bar is rich's, not the text
    assert lines[3] == "  queued     c.mp4  2.0 MB"


def _mount(tmp_path: Path, queue: dict[str, object]) -> Path:
    (tmp_path / ".vipfs").mkdir(exist_ok=True)
    (tmp_path / ".vipfs" / "status.json").write_text(json.dumps({"queue": queue}))
    return tmp_path


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def test_watch_on_a_terminal_is_live_and_ctrl_c_ends_it_with_0(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(status.time, "sleep", _interrupt)
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=110, color_system=None)
    args = argparse.Namespace(mountpoint=str(_mount(tmp_path, QUEUE)), json=False, watch=True)
    assert status.watch_live(args, console) == 0
    drawn = out.getvalue()
    assert "37% 12.3/33.0 MB 2.1 MB/s ETA 10s" in drawn and "━" in drawn
    assert "Traceback" not in drawn


def test_watch_off_a_terminal_prints_the_plain_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(status.time, "sleep", _interrupt)
    args = argparse.Namespace(mountpoint=str(_mount(tmp_path, QUEUE)), json=False, watch=True)
    assert status.run(args) == 0  # pytest's stdout is no terminal
    out = capsys.readouterr().out
    assert "  uploading  Clips/a.mp4  37% 12.3/33.0 MB 2.1 MB/s ETA 10s" in out
    assert "\033[" not in out and "━" not in out


def test_what_a_drain_has_left() -> None:
    left = drain_left(QUEUE)
    assert left.left == 33_000_000 - 12_300_000 + 5_000_000 + 2_000_000
    assert (left.sent, left.rate, left.files) == (12_300_000, 2_100_000.0, 3)
    assert drain_left({}) == (0, 0, None, 0)


def test_the_umount_bar_covers_the_whole_drain_and_never_goes_back() -> None:
    out = io.StringIO()
    bar = umount.DrainBar(Console(file=out, force_terminal=True, width=120, color_system=None))
    bar.show(QUEUE)  # 40.0 MB in all at the start, 12.3 MB of it sent
    done_a = {**RUNNING, "sent": 33_000_000}
    bar.show({"uploading": [done_a, {**STARTING, "sent": 1_000_000}], "queued": QUEUE["queued"]})
    bar.show({"uploading": [{**STARTING, "sent": 3_000_000, "rate": 1e6}], "queued": []})
    bar.close(drained=True)
    frames = [f for f in out.getvalue().split("\r\x1b[2K") if "%" in f]
    assert "30% 12.3/40.0 MB 2.1 MB/s" in frames[0]
    assert "85% 34.0/40.0 MB" in frames[1]
    assert "95% 38.0/40.0 MB 1.0 MB/s ETA 2s, 1 file(s) left" in frames[2]
    assert "100% 40.0/40.0 MB, 0 file(s) left" in frames[-1]
    percents = [int(f.split("%")[0].split()[-1]) for f in frames]
    assert percents == sorted(percents)


def test_the_umount_bar_tells_a_failure_after_it(capsys: pytest.CaptureFixture[str]) -> None:
    bar = umount.DrainBar(Console(file=io.StringIO(), force_terminal=True, color_system=None))
    bar.show({"uploading": [], "queued": [], "failed": [{"name": "n.txt", "size": 9}]})
    bar.close(drained=True)
    err = capsys.readouterr().err
    assert err == "vipfs: uploads: 0 queued, 0 uploading, 1 failed (kept; see vipfs status)\n"


def test_off_a_terminal_umount_prints_each_changed_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    lines = umount.DrainLines()
    for _ in range(2):
        lines.show(QUEUE)
    lines.close(drained=True)
    err = capsys.readouterr().err.splitlines()
    assert err == ["vipfs: uploads: 1 queued, 2 uploading, 12.3 MB of 40.0 MB sent"]


def _mirror_status() -> dict[str, object]:
    vip = {"queue": {"uploading": [RUNNING], "queued": [], "failed": []}, "rate_limit": None}
    wish = {
        "queue": {
            "queued": [{"name": "c.mp4", "size": 2_000_000, "attempts": 0}],
            "failed": [{"name": "big.mp4", "dir": "Clips", "error": "file is too big"}],
        },
        "rate_limit": {"requests_available": 4, "blocked_until": None},
    }
    return {
        "pid": 1,
        "mirror": "all",
        "members": {"vip": vip, "wish": wish},
        "journal": {"vip": 0, "wish": 3},
    }


def test_a_mirror_prints_a_block_per_member() -> None:
    lines = render(Path("/m"), _mirror_status()).splitlines()
    assert lines[0] == (
        "/m: 0 writing, 0 held, 1 queued, 1 uploading, 1 failed (mirror of 2: vip, wish)"
    )  # no merged `queue` in the file: merged here from the members'
    assert lines[1] == "mirror all: vip, wish"
    vip = next(i for i, line in enumerate(lines) if line.startswith("member vip:"))
    wish = next(i for i, line in enumerate(lines) if line.startswith("member wish:"))
    assert lines[vip] == (
        "member vip: 0 held, 0 queued, 1 uploading, 0 failed, journal 0 op(s) waiting to replay"
    )
    assert lines[vip + 1].startswith("  uploading  Clips/a.mp4  37%")
    assert lines[wish] == (
        "member wish: 0 held, 1 queued, 0 uploading, 1 failed, journal 3 op(s) waiting to replay"
    )
    block = lines[wish + 1 :]
    assert "  queued     c.mp4  2.0 MB" in block
    assert "  failed     Clips/big.mp4: file is too big  (data kept)" in block
    assert "  rate limit: 4 requests available" in block


def test_a_mirror_drain_counts_every_member(tmp_path: Path) -> None:
    status_json = _mirror_status()
    (tmp_path / ".vipfs").mkdir()
    (tmp_path / ".vipfs" / "status.json").write_text(json.dumps(status_json))
    queue = umount._queue(tmp_path)
    assert queue is not None
    left = drain_left(queue)
    assert left.files == 2  # vip's upload and wish's queued file
    assert left.left == 33_000_000 - 12_300_000 + 2_000_000
    assert [row["member"] for row in queue["uploading"] + queue["queued"]] == ["vip", "wish"]
    merged = {**status_json, "queue": queue}  # the file's own merged queue is used as it is
    assert status.queue_of(merged) is queue
    assert "  queued     c.mp4 on wish  2.0 MB" in status.details(merged)  # --watch's rows

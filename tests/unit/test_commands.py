"""The small commands around a mount: status rendering, clone targets, progress lines."""

from __future__ import annotations

import argparse
import errno
from pathlib import Path

import pytest

from vipfs import status
from vipfs.clone import target
from vipfs.status import progress_line, render

STATUS = {
    "queue": {
        "writing": [],
        "held": [{"name": ".a.mp4.XyZ123", "size": 5}],
        "queued": [
            {"name": "b.mp4", "size": 2_000_000, "attempts": 2, "error": "HTTP 502"},
        ],
        "uploading": [{"name": "c.mp4", "size": 4_000_000, "sent": 1_000_000}],
        "retrying": [],
        "failed": [{"name": "notes.txt", "size": 9, "error": "Not video file (notes.txt)"}],
    },
    "rate_limit": {"requests_available": 17, "blocked_until": None, "scope": None},
}


def test_status_render_names_every_state_and_the_budget() -> None:
    text = render(Path("/mnt/v"), STATUS)
    first, *rest = text.splitlines()
    assert first == "/mnt/v: 0 writing, 1 held, 1 queued, 1 uploading, 1 failed"
    assert any("c.mp4" in line and "1.0 MB of 4.0 MB" in line for line in rest)
    assert any(
        "b.mp4" in line and "(retrying: HTTP 502; 2 attempt(s) failed)" in line for line in rest
    )
    assert any("notes.txt: Not video file (notes.txt)" in line for line in rest)
    assert rest[-1] == "  rate limit: 17 requests available"


def test_progress_line_counts_what_an_unmount_waits_for() -> None:
    line = progress_line(STATUS["queue"])  # type: ignore[arg-type]
    assert line == (
        "uploads: 1 queued, 1 uploading, 1.0/6.0 MB sent, 1 failed (kept; see vipfs status)"
    )
    assert progress_line({}) == "uploads: 0 queued, 0 uploading"


def test_clone_target_is_into_a_folder_or_under_a_new_name(tmp_path: Path) -> None:
    src = tmp_path / "a.mp4"
    (tmp_path / "dir").mkdir()
    assert target(src, tmp_path / "dir") == (tmp_path / "dir", "a.mp4")
    assert target(src, tmp_path / "dir" / "b.mp4") == (tmp_path / "dir", "b.mp4")


def test_status_of_a_dead_mount_says_how_to_detach_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    dead = tmp_path / "mnt"

    def not_connected(self: Path) -> str:
        raise OSError(errno.ENOTCONN, "Transport endpoint is not connected", str(self))

    monkeypatch.setattr(Path, "read_text", not_connected)
    assert status.run(argparse.Namespace(mountpoint=str(dead), json=False)) == 1
    said = capsys.readouterr().err
    assert said == (
        f"vipfs: {dead} no longer answers (its process ended); run fusermount3 -u {dead}\n"
    )


def test_status_render_says_why_an_empty_file_stays_local() -> None:
    why = "hosts cannot store empty files; kept here, not uploaded"
    status = {"queue": {"empty": [{"name": "blank.mp4", "size": 0, "error": why}]}}
    first, *rest = render(Path("/mnt/v"), status).splitlines()
    assert first.endswith(", 0 failed, 1 empty")
    assert rest == [f"  empty      blank.mp4: {why}"]


def test_status_render_shows_incomplete_files_and_lost_found() -> None:
    status = {
        "queue": {
            "incomplete": [
                {"name": "big.mp4", "size": 9, "error": "a write failed: No space left on device"}
            ]
        },
        "lost_found": {"dir": "/s/lost+found", "files": ["a.spool", "b.spool"]},
    }
    first, *rest = render(Path("/mnt/v"), status).splitlines()
    assert first.endswith(", 0 failed, 1 incomplete")
    assert "  incomplete big.mp4: a write failed: No space left on device" in rest[0]
    assert rest[1].startswith("lost+found: 2 file(s) in /s/lost+found")
    empty = {"queue": {}, "lost_found": {"dir": "/s/lost+found", "files": []}}
    assert render(Path("/mnt/v"), empty) == (
        "/mnt/v: 0 writing, 0 held, 0 queued, 0 uploading, 0 failed"
    )

"""The small commands around a mount: status rendering, clone targets, progress lines."""

from __future__ import annotations

import argparse
import errno
import json
import logging
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
            {"name": "b.mp4", "size": 2_000_000, "attempts": 2, "error": "HTTP 502", "dir": "S/1"},
        ],
        "uploading": [{"name": "c.mp4", "size": 4_000_000, "sent": 1_000_000, "fld_id": 7}],
        "retrying": [],
        "failed": [{"name": "notes.txt", "size": 9, "error": "Not video file (notes.txt)"}],
    },
    "rate_limit": {"requests_available": 17, "blocked_until": None, "scope": None},
}


def test_status_render_names_every_state_and_the_budget() -> None:
    text = render(Path("/mnt/v"), STATUS)
    first, *rest = text.splitlines()
    assert first == "/mnt/v: 0 writing, 1 held, 1 queued, 1 uploading, 1 failed"
    assert "  uploading  c.mp4 (in folder 7)  25% 1.0/4.0 MB" in rest
    assert any(
        "  queued     S/1/b.mp4  2.0 MB" in line
        and "(retrying: HTTP 502; 2 attempt(s) failed)" in line
        for line in rest
    )
    assert any("notes.txt: Not video file (notes.txt)" in line for line in rest)
    assert rest[-1] == "  rate limit: 17 requests available"


def test_progress_line_counts_what_an_unmount_waits_for() -> None:
    line = progress_line(STATUS["queue"])  # type: ignore[arg-type]
    assert line == (
        "uploads: 1 queued, 1 uploading, 1.0 MB of 6.0 MB sent, 1 failed (kept; see vipfs status)"
    )
    assert progress_line({}) == "uploads: 0 queued, 0 uploading"
    small = {"queued": [{"size": 900}], "uploading": [{"size": 2_500, "sent": 12}]}
    assert progress_line(small) == "uploads: 1 queued, 1 uploading, 12 B of 3.4 KB sent"


def test_human_sizes_never_read_zero_megabytes_for_a_small_file() -> None:
    shown = [status.human_size(n) for n in (0, 999, 1_000, 1_550, 4_000_000, 3 * 10**9)]
    assert shown == ["0 B", "999 B", "1.0 KB", "1.6 KB", "4.0 MB", "3.0 GB"]
    assert status.human_size(5 * 10**12) == "5000.0 GB"


MOUNTS = "\n".join(
    [
        "vipfs:me /home/me/my\\040videos fuse.vipfs rw,nosuid,user_id=1000,group_id=1000 0 0",
        "vipfs:you /home/you/v fuse.vipfs rw,nosuid,user_id=1001,group_id=1000 0 0",
        "vipfs:me /home/me/v2 fuse.vipfs rw,user_id=10000,group_id=1000 0 0",
        "/dev/sda1 /home/me ext4 rw,user_id=1000 0 0",
    ]
)


def test_only_this_users_vipfs_mounts_are_found() -> None:
    assert status.vipfs_mounts(MOUNTS, uid=1000) == [Path("/home/me/my videos")]
    assert status.vipfs_mounts(MOUNTS, uid=1001) == [Path("/home/you/v")]
    assert status.vipfs_mounts(MOUNTS, uid=7) == []


def _a_mount(root: Path, doc: dict[str, object]) -> Path:
    (root / ".vipfs").mkdir(parents=True)
    (root / ".vipfs" / "status.json").write_text(json.dumps(doc))
    return root


def _args(mountpoint: str | None = None, watch: bool = False) -> argparse.Namespace:
    return argparse.Namespace(mountpoint=mountpoint, json=False, watch=watch)


def test_status_without_a_mountpoint_prints_one_line_per_mount(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    first = _a_mount(tmp_path / "a", STATUS)
    second = _a_mount(tmp_path / "b", {"queue": {}})
    monkeypatch.setattr(status, "vipfs_mounts", lambda: [first, second])
    assert status.run(_args()) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"{first}: 0 writing, 1 held, 1 queued, 1 uploading, 1 failed",
        f"{second}: 0 writing, 0 held, 0 queued, 0 uploading, 0 failed",
    ]
    assert status.run(_args(str(first))) == 0  # one mount named: all of its entries
    assert len(capsys.readouterr().out.splitlines()) == len(render(first, STATUS).splitlines())


def test_status_watch_redraws_until_ctrl_c(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    mount = _a_mount(tmp_path / "a", {"queue": {}})
    pauses: list[float] = []

    def pause(seconds: float) -> None:
        pauses.append(seconds)
        if len(pauses) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(status.time, "sleep", pause)
    assert status.run(_args(str(mount), watch=True)) == 0  # Ctrl-C ends it, not an error
    out = capsys.readouterr().out
    assert out.count(f"{mount}: 0 writing") == 2
    assert pauses == [status.WATCH_EVERY, status.WATCH_EVERY]


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
    assert status.run(_args(str(dead))) == 1
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


@pytest.mark.parametrize("foreground", [True, False])
def test_a_draining_mount_shows_each_progress_line_once(
    foreground: bool, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """Under -f the log is on the same stderr: the line goes to the terminal only."""
    from vipfs.mount import progress_reporter

    report = progress_reporter(foreground)
    with caplog.at_level(logging.DEBUG):
        for _ in range(3):  # the queue polled three times, unchanged
            report(STATUS["queue"])  # type: ignore[arg-type]
    printed = capsys.readouterr().err.splitlines()
    logged = [r.getMessage() for r in caplog.records]
    line = progress_line(STATUS["queue"])  # type: ignore[arg-type]
    assert (printed, logged) == (([f"vipfs: {line}"], []) if foreground else ([], [line]))


def test_a_mirror_drain_shows_each_members_line_once(capsys: pytest.CaptureFixture[str]) -> None:
    """Members report in turn: each one's line once while it does not change."""
    from vipfs.mount import progress_reporter

    report = progress_reporter(True)
    queue: dict[str, object] = dict(STATUS["queue"])  # type: ignore[call-overload]
    for _ in range(3):
        report({**queue, "member": "vip"})
        report({**queue, "member": "wish"})
    report({"member": "wish"})  # wish is done
    printed = capsys.readouterr().err.splitlines()
    line = progress_line(queue)
    assert printed == [
        f"vipfs: vip: {line}",
        f"vipfs: wish: {line}",
        f"vipfs: wish: {progress_line({})}",
    ]

"""`vipfs mirror sync`: where PATH is in the mount, the summary, and the one-line refusals."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from vipfs import mirrorcmd


def test_path_is_taken_relative_to_the_mount(tmp_path: Path) -> None:
    mnt = tmp_path / "m"
    assert mirrorcmd.relative(mnt, "") == ""
    assert mirrorcmd.relative(mnt, "Show/ep1.mp4") == "Show/ep1.mp4"
    assert mirrorcmd.relative(mnt, str(mnt / "Show")) == "Show"
    assert mirrorcmd.relative(mnt, str(tmp_path / "elsewhere")) is None
    assert mirrorcmd.relative(mnt, "../x") is None


def test_summary_counts_files_once_and_states_per_member() -> None:
    files = [
        {"path": "a.mp4", "member": "vip", "state": "present"},
        {"path": "a.mp4", "member": "wish", "state": "url"},
        {"path": "b.mp4", "member": "vip", "state": "present"},
        {"path": "b.mp4", "member": "wish", "state": "failed"},
    ]
    assert mirrorcmd.summary(files) == "2 file(s): 1 failed, 2 present, 1 url"
    assert mirrorcmd.summary([]) == "0 file(s): nothing to do"


def test_not_a_mount_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = argparse.Namespace(action="sync", mountpoint=str(tmp_path), path="")
    assert mirrorcmd.run(args) == 1
    assert capsys.readouterr().err == f"vipfs: {tmp_path} is not a vipfs mount\n"


def test_a_path_outside_the_mount_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / ".vipfs").mkdir()
    args = argparse.Namespace(action="sync", mountpoint=str(tmp_path), path="../x")
    assert mirrorcmd.run(args) == 1
    assert capsys.readouterr().err == f"vipfs: ../x is not in {tmp_path}\n"

"""`vipfs events`: the mount's lines as they are, new seqs only under --follow, Ctrl-C is exit
0 and a mount that goes away is one line and exit 1."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from vipfs import eventscmd


def _line(seq: int, kind: str = "queued") -> str:
    fields = {"seq": seq, "time": "2026-09-21T14:13:20Z", "event": kind, "path": "a.mp4"}
    return json.dumps({**fields, "code": None, "link": None, "source": "upload", "detail": None})


def _mount(tmp_path: Path, *lines: str) -> Path:
    (tmp_path / ".vipfs").mkdir(exist_ok=True)
    (tmp_path / ".vipfs" / "events.jsonl").write_text("".join(f"{x}\n" for x in lines))
    return tmp_path


def test_prints_the_lines_as_they_are_skipping_junk(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mount = _mount(tmp_path, _line(1), "junk", "[1]", _line(2, "uploaded"))
    args = argparse.Namespace(mountpoint=str(mount), follow=False)
    assert eventscmd.run(args) == 0
    assert capsys.readouterr().out == f"{_line(1)}\n{_line(2, 'uploaded')}\n"


def test_follow_prints_new_seqs_then_ends_on_ctrl_c(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    mount = _mount(tmp_path, _line(1))
    polls: list[float] = []

    def sleep(seconds: float) -> None:  # each poll: the mount has one event more, then Ctrl-C
        polls.append(seconds)
        if len(polls) == 3:
            raise KeyboardInterrupt
        _mount(tmp_path, *(_line(n) for n in range(1, len(polls) + 2)))

    monkeypatch.setattr(eventscmd.time, "sleep", sleep)
    assert eventscmd.run(argparse.Namespace(mountpoint=str(mount), follow=True)) == 0
    out = capsys.readouterr()
    assert out.out == "".join(f"{_line(n)}\n" for n in (1, 2, 3))  # each seq once
    assert out.err == ""


def test_follow_ends_when_the_mount_goes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    mount = _mount(tmp_path, _line(1))
    monkeypatch.setattr(eventscmd.time, "sleep", lambda s: (mount / ".vipfs/events.jsonl").unlink())
    assert eventscmd.run(argparse.Namespace(mountpoint=str(mount), follow=True)) == 1
    assert capsys.readouterr().err == f"vipfs: {mount} is no longer mounted\n"

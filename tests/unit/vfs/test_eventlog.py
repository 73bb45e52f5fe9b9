"""The event log on disk: appended per event, rotated with one old file kept, read back at the
next mount so history and seq numbers carry on; a broken disk is never fatal."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from vipfs.vfs.eventlog import EventLog
from vipfs.vfs.events import RING, Events


def _events() -> Events:
    return Events(clock=lambda: 1_790_000_000.0)


def test_events_come_back_at_the_next_mount_and_seq_goes_on(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "events.jsonl")
    first = _events()
    log.attach(first)
    first.emit("queued", path="Clips/a.mp4")
    first.emit("uploaded", path="Clips/a.mp4", code="abcdefghijkl", link=None)
    log.close()
    lines = (tmp_path / "events.jsonl").read_text().splitlines()
    assert [json.loads(line)["event"] for line in lines] == ["queued", "uploaded"]
    assert list(json.loads(lines[0])) == [
        "seq", "time", "event", "path", "code", "link", "source", "detail", "member",
    ]  # fmt: skip

    second = _events()
    EventLog(tmp_path / "events.jsonl").attach(second)
    assert [e.line() for e in second.since()] == lines
    assert second.emit("ready", code="abcdefghijkl").seq == 3


def test_the_log_rotates_keeping_one_old_file(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "events.jsonl", limit=2000)
    events = _events()
    log.attach(events)
    for _ in range(100):
        events.emit("queued", path="Clips/some rather long name.mp4")
    log.close()
    current, old = tmp_path / "events.jsonl", tmp_path / "events.jsonl.1"
    assert 0 < current.stat().st_size <= 2000 and 0 < old.stat().st_size <= 2000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["events.jsonl", "events.jsonl.1"]
    kept = EventLog(current).read()
    seqs = [e.seq for e in kept]
    assert seqs == list(range(seqs[0], 101)) and seqs[0] > 1  # the oldest rotated away


def test_reading_back_skips_what_is_not_an_event(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    good = _events().emit("queued", path="a.mp4").line()
    path.write_text(
        "\n".join([good, "not json", json.dumps({"seq": 9}), '{"seq": 2, "ev', ""]) + "\n"
    )
    events = _events()
    EventLog(path).attach(events)
    assert [e.line() for e in events.since()] == [good]
    assert events.emit("ready").seq == 2


def test_only_the_last_ring_of_events_is_read_back(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "events.jsonl")
    events = _events()
    log.attach(events)
    for _ in range(RING + 10):
        events.emit("queued")
    log.close()
    kept = EventLog(tmp_path / "events.jsonl").read()
    assert len(kept) == RING and kept[0].seq == 11


def test_a_log_that_cannot_be_written_warns_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    target = tmp_path / "elsewhere"
    target.write_text("")
    os.symlink(target, tmp_path / "events.jsonl")  # never followed: the write fails
    events = _events()
    log = EventLog(tmp_path / "events.jsonl")
    with caplog.at_level(logging.WARNING):
        log.attach(events)
        events.emit("queued")
        seen = events.emit("queued")
    assert seen.seq == 2  # the emits went on
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len([w for w in warnings if "not written" in w]) == 1  # not once per event
    assert any("not reading" in w for w in warnings)  # nor read through the symlink
    assert target.read_text() == ""

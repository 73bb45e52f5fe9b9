"""`--on-event` hooks with a real /bin/sh: the environment (the event's fields, never the key),
one at a time, the timeout that kills what the hook started, failures and a full backlog
logged, never raised."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
import trio

from tests.unit.vfs.conftest import eventually
from vipfs.vfs import hooks as hooks_module
from vipfs.vfs.events import Event, Events
from vipfs.vfs.hooks import Hooks

KEY = "1abcdefghijklmnop"


def _event(**kw: object) -> Event:
    return Events(clock=lambda: 1_790_000_000.0).emit("uploaded", **kw)  # type: ignore[arg-type]


def _hooks(command: str, timeout: float = 10.0) -> Hooks:
    environ = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "VIPFS_KEY": KEY, "KEEP": "1"}
    return Hooks(command, timeout=timeout, mount="/mnt/v", environ=environ)


def _env_of(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


async def test_the_hook_sees_the_event_and_never_the_key(tmp_path: Path) -> None:
    out = tmp_path / "env.txt"
    hooks = _hooks(f"env > {out}")
    event = _event(path="Clips/a.mp4", code="abcdefghijkl", link="https://h/abcdefghijkl.html")
    assert await hooks.run_one(event) == 0
    env = _env_of(out)
    assert env["VIPFS_EVENT"] == "uploaded" and env["VIPFS_PATH"] == "Clips/a.mp4"
    assert env["VIPFS_CODE"] == "abcdefghijkl"
    assert env["VIPFS_LINK"] == "https://h/abcdefghijkl.html"
    assert (env["VIPFS_SOURCE"], env["VIPFS_DETAIL"]) == ("upload", "")  # absent: empty
    assert env["VIPFS_MEMBER"] == ""  # one host: no member
    assert (env["VIPFS_SEQ"], env["VIPFS_TIME"]) == ("1", "2026-09-21T14:13:20Z")
    assert env["VIPFS_MOUNT"] == "/mnt/v" and env["KEEP"] == "1"  # the mount's own env too
    assert "VIPFS_KEY" not in env
    assert not [name for name, value in env.items() if KEY in value]


async def test_stdin_is_empty_and_output_reaches_the_log_bounded(
    caplog: pytest.LogCaptureFixture,
) -> None:
    hooks = _hooks("cat; echo said-$VIPFS_EVENT; head -c 100000 /dev/zero | tr '\\0' x")
    with caplog.at_level(logging.INFO, logger="vipfs.vfs.hooks"):
        assert await hooks.run_one(_event()) == 0
    (said,) = [r.getMessage() for r in caplog.records]
    assert "said-uploaded" in said
    assert len(said) < hooks_module.OUTPUT_MAX + 200


async def test_a_failing_hook_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="vipfs.vfs.hooks"):
        assert await _hooks("exit 3").run_one(_event()) == 3
    (line,) = [r.getMessage() for r in caplog.records]
    assert line == "on-event hook for uploaded (seq 1) failed: exit 3"


async def test_a_hanging_hook_is_killed_with_what_it_started(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pid_file = tmp_path / "pid"
    hooks = _hooks(f"sleep 600 & echo $! > {pid_file}; wait", timeout=0.5)
    with caplog.at_level(logging.WARNING, logger="vipfs.vfs.hooks"):
        assert await hooks.run_one(_event()) is None
    assert "killed after 0.5 s" in caplog.records[-1].getMessage()
    child = int(pid_file.read_text())
    await eventually(lambda: _state(child) == "Z", limit=10)  # the sleep, in its session, went


def _state(pid: int) -> str:
    """The process's state letter; "Z" for a zombie or a process gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"


async def test_events_run_one_at_a_time_in_order(tmp_path: Path) -> None:
    out = tmp_path / "order.txt"
    hooks = _hooks(f"echo start $VIPFS_SEQ >> {out}; sleep 0.1; echo end $VIPFS_SEQ >> {out}")
    events = Events()
    events.listen(hooks.tell)
    async with trio.open_nursery() as nursery:
        await nursery.start(hooks.run)
        for _ in range(3):
            events.emit("queued")
        await eventually(lambda: out.exists() and out.read_text().count("end") == 3, limit=30)
        nursery.cancel_scope.cancel()
    assert out.read_text().split("\n")[:-1] == [
        "start 1", "end 1", "start 2", "end 2", "start 3", "end 3",
    ]  # fmt: skip


async def test_a_full_backlog_drops_with_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    hooks = _hooks("true")
    events = Events()
    events.listen(hooks.tell)
    with caplog.at_level(logging.WARNING, logger="vipfs.vfs.hooks"):
        for _ in range(hooks_module.BACKLOG + 5):  # nothing runs them: the backlog fills
            events.emit("queued")
    (line,) = [r.getMessage() for r in caplog.records]
    assert f"dropping events for it from seq {hooks_module.BACKLOG + 1}" in line


async def test_a_missing_shell_is_logged_not_raised(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(hooks_module, "SHELL", "/nonexistent/sh")
    hooks = _hooks("true")
    hooks.tell(_event())
    with caplog.at_level(logging.WARNING, logger="vipfs.vfs.hooks"):
        async with trio.open_nursery() as nursery:
            await nursery.start(hooks.run)
            await eventually(lambda: bool(caplog.records), limit=10)
            nursery.cancel_scope.cancel()
    assert "did not start" in caplog.records[0].getMessage()

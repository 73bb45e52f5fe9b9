"""The event stream on a real mount (issue 12, item 4): `vipfs events MNT [--follow]` and the
`--on-event` hook, with the fields in its environment and never the key.

Host polling is off (`--encoding-poll 0 --takedown-poll 0`) so an upload's events are exactly
its `queued` and `uploaded`, whatever the machine's speed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import KEY, Emulator, Mount, sh, vipfs, wait_for
from tests.integration.desk_events import parse_lines, read_events, wait_event, xattr

pytestmark = pytest.mark.fuse

StartMount = Callable[..., Mount]
QUIET = ("--write-back", "0.2", "--encoding-poll", "0", "--takedown-poll", "0")


class Follower:
    """`vipfs events MNT --follow` in the background, its stdout collected line by line."""

    def __init__(self, mount: Path) -> None:
        self.events_file = mount / ".vipfs" / "events.jsonl"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "vipfs", "events", str(mount), "--follow"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def close(self) -> None:
        """At teardown: a follower a failed test left running is killed, its pipes closed."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.communicate(timeout=30)

    def stop(self, signum: int) -> tuple[int, str]:
        self.process.send_signal(signum)
        _, stderr = self.process.communicate(timeout=30)
        self._reader.join(10)
        return self.process.returncode, stderr


def copy_in(tmp_path: Path, target: Path, name: str) -> Path:
    source = tmp_path / name
    source.write_bytes(os.urandom(20_000))
    done = sh("cp", source, target)
    assert done.returncode == 0, done.stderr
    return target / name


@pytest.fixture
def follow() -> Iterator[Callable[[Path], Follower]]:
    started: list[Follower] = []

    def start(mount: Path) -> Follower:
        started.append(Follower(mount))
        return started[-1]

    yield start
    for follower in started:
        follower.close()


def test_events_follow_prints_queued_then_uploaded_and_ends_on_a_signal(
    emulator: Emulator,
    start_mount: StartMount,
    follow: Callable[[Path], Follower],
    tmp_path: Path,
) -> None:
    mount = start_mount(emulator, *QUIET)
    assert sh("mkdir", mount.path / "Clips").returncode == 0
    # no wait for the followers to start: `--follow` prints the kept events first, so one
    # that starts after the upload prints the same lines (catching its brief once-a-second
    # open of events.jsonl in /proc was missed for 60 s under CI's load)
    followers = {signum: follow(mount.path) for signum in (signal.SIGINT, signal.SIGTERM)}
    clip = copy_in(tmp_path, mount.path / "Clips", "clip.mp4")
    wait_event(mount.path, "uploaded", path="Clips/clip.mp4")
    code = xattr(clip, "code")
    shown = sh("getfattr", "--only-values", "-n", "user.vipfs.link", clip)
    link = shown.stdout if shown.returncode == 0 else None  # known once the folder is listed

    for signum, follower in followers.items():
        printed = wait_for(
            "queued and uploaded in the follower's output",
            lambda f=follower: _both(parse_lines("\n".join(f.lines))),
        )
        queued, uploaded = printed
        assert queued["seq"] < uploaded["seq"]
        assert queued["source"] == uploaded["source"] == "upload"
        assert uploaded["code"] == code and uploaded["link"] in (None, link), uploaded
        returncode, stderr = follower.stop(signum)
        assert "Traceback" not in stderr and returncode in (0, 128 + signum, -signum), (
            signum,
            returncode,
            stderr,
        )
        # what it printed is what the mount's event file says, line for line
        kept = (mount.path / ".vipfs" / "events.jsonl").read_text().splitlines()
        assert all(line in kept for line in follower.lines), (follower.lines, kept)

    once = vipfs("events", mount.path)
    assert once.returncode == 0, once.stderr
    printed_lines = once.stdout.splitlines()
    kept = (mount.path / ".vipfs" / "events.jsonl").read_text().splitlines()
    assert len(printed_lines) >= 2 and printed_lines == kept[: len(printed_lines)]
    assert _both(parse_lines(once.stdout))


def _both(events: list[dict[str, object]]) -> tuple[dict[str, object], dict[str, object]] | None:
    """The `queued` and `uploaded` events of Clips/clip.mp4, once both are there."""
    mine = {e["event"]: e for e in events if e["path"] == "Clips/clip.mp4"}
    if "queued" in mine and "uploaded" in mine:
        return mine["queued"], mine["uploaded"]
    return None


def env_file(path: Path) -> dict[str, str]:
    """`env`'s output as a dict (values here hold no newlines)."""
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


def test_hook_gets_each_event_in_its_environment_and_never_the_key(
    emulator: Emulator, start_mount: StartMount, tmp_path: Path
) -> None:
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    mount = start_mount(
        emulator,
        *QUIET,
        "--on-event",
        'env > "$HOOK_DIR/$VIPFS_SEQ.env"',
        key_file=False,  # the key comes in the environment: the hook must still not see it
        env={"VIPFS_KEY": KEY, "HOOK_DIR": str(hooks)},
    )
    assert sh("mkdir", mount.path / "Clips").returncode == 0
    clip = copy_in(tmp_path, mount.path / "Clips", "hooked.mp4")
    wait_event(mount.path, "uploaded", path="Clips/hooked.mp4")
    code = xattr(clip, "code")
    mine = [
        e
        for e in read_events(mount.path)
        if e["path"] == "Clips/hooked.mp4" and e["event"] in ("queued", "uploaded")
    ]
    assert [e["event"] for e in mine] == ["queued", "uploaded"] and mine[1]["code"] == code
    for event in mine:
        written = hooks / f"{event['seq']}.env"
        wait_for(f"the hook of event {event['seq']}", written.exists)
        env = wait_for("the hook's whole environment", lambda w=written: _complete(w))
        expected = {
            "VIPFS_EVENT": event["event"],
            "VIPFS_PATH": event["path"],
            "VIPFS_CODE": event["code"] or "",
            "VIPFS_LINK": event["link"] or "",
            "VIPFS_SOURCE": event["source"],
            "VIPFS_DETAIL": event["detail"] or "",
            "VIPFS_SEQ": str(event["seq"]),
            "VIPFS_TIME": event["time"],
            "VIPFS_MOUNT": str(mount.path),
        }
        assert {k: env.get(k) for k in expected} == expected
        assert env.get("HOOK_DIR") == str(hooks)  # the mount's own environment is passed on
        assert "VIPFS_KEY" not in env
    for written in hooks.iterdir():
        assert KEY not in written.read_text(), written.name
    assert KEY not in mount.log()


def _complete(path: Path) -> dict[str, str] | None:
    """The env file once `env` has written it all (VIPFS_MOUNT is one of the last to check)."""
    env = env_file(path)
    return env if "VIPFS_EVENT" in env and "VIPFS_MOUNT" in env and "PATH" in env else None


def sleeping(marker: str) -> list[int]:
    """The processes running `sleep <marker>` (a hook left behind would be one)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv[:2] == [b"sleep", marker.encode()]:
            found.append(int(proc.name))
    return found


def test_a_hanging_hook_times_out_and_blocks_neither_events_nor_the_upload(
    emulator: Emulator, start_mount: StartMount, tmp_path: Path
) -> None:
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    marker = "1777"
    hook = (
        'echo "$VIPFS_EVENT" >> "$HOOK_DIR/ran"; '
        # the first event's hook (the queued one) hangs; no later one does
        'if [ ! -e "$HOOK_DIR/slept" ]; then touch "$HOOK_DIR/slept"; '
        f"sleep {marker}; fi; "
        'echo done > "$HOOK_DIR/$VIPFS_SEQ.done"'
    )
    mount = start_mount(
        emulator,
        *QUIET,
        "--on-event",
        hook,
        "--on-event-timeout",
        "3",
        env={"HOOK_DIR": str(hooks)},
    )
    clip = copy_in(tmp_path, mount.path, "patient.mp4")
    uploaded = wait_event(mount.path, "uploaded", path="patient.mp4")
    (queued,) = [e for e in read_events(mount.path) if e["event"] == "queued"]
    held = [f for f in emulator.live_files() if "vipfs-" not in f["title"]]
    assert [f["code"] for f in held] == [uploaded["code"]] == [xattr(clip, "code")]
    # the hung hook is ended at its timeout, then the next event's hook runs
    wait_for("the uploaded event's hook", (hooks / f"{uploaded['seq']}.done").exists)
    assert not (hooks / f"{queued['seq']}.done").exists()
    assert (hooks / "ran").read_text().split()[:2] == ["queued", "uploaded"]
    wait_for("the timed-out hook's sleep ended", lambda: not sleeping(marker))
    # the mount still serves and still uploads
    second = copy_in(tmp_path, mount.path, "after.mp4")
    wait_event(mount.path, "uploaded", path="after.mp4")
    assert xattr(second, "code")

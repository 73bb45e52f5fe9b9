"""The host's states of an uploaded file on a real mount (issue 12, item 3): encoding, ready,
a DMCA notice, a deletion by the host; each shown in `user.vipfs.status` and as an event.

The emulator encodes for `--encode-seconds`; `/_emu/file` puts a file on file/dmca or deletes it
as the host's admin would. The mount polls with short `--encoding-poll` / `--takedown-poll`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.conftest import Emulator, Mount, sh, status_xattr, wait_for
from tests.integration.desk_events import matching, read_events, wait_event, xattr

pytestmark = pytest.mark.fuse

StartMount = Callable[..., Mount]
StartEmulator = Callable[..., Emulator]

QUEUE_STATE = re.compile(r"writing|held|queued|retrying: .*|uploading .*")
HOST_STATE = re.compile(r"uploaded|encoding( (\d{1,3})%)?|ready")
DMCA_STATE = re.compile(r"dmca: deleted in 1[12]h")  # the emulator's 12 h grace, rounded up


def settled(emu: Emulator, count: int) -> bool:
    live = emu.live_files()
    return len(live) == count and not any("vipfs-" in f["title"] for f in live)


def copy_in(tmp_path: Path, mount: Mount, name: str, size: int = 20_000) -> Path:
    source = tmp_path / name
    source.write_bytes(os.urandom(size))
    done = sh("cp", source, mount.path)
    assert done.returncode == 0, done.stderr
    return mount.path / name


def code_of(path: Path) -> str:
    """The file's code once the host holds it (the xattr is absent before)."""
    return str(wait_for(f"{path.name}'s code", lambda: _code(path)))


def _code(path: Path) -> str:
    out = sh("getfattr", "--only-values", "-n", "user.vipfs.code", path)
    return out.stdout if out.returncode == 0 else ""


def test_status_goes_from_encoding_to_ready_with_one_ready_event(
    start_emulator: StartEmulator, start_mount: StartMount, tmp_path: Path
) -> None:
    emu = start_emulator("--enable", "direct_link", "--encode-seconds", "10")
    mount = start_mount(emu, "--write-back", "0.2", "--encoding-poll", "1", "--takedown-poll", "0")
    clip = copy_in(tmp_path, mount, "encoded.mp4")
    seen: list[str] = []

    def ready() -> bool:
        state = status_xattr(clip)
        if not seen or seen[-1] != state:
            seen.append(state)
        return state == "ready"

    wait_for(f"ready (seen {seen})", ready, timeout=120)
    assert all(QUEUE_STATE.fullmatch(s) or HOST_STATE.fullmatch(s) for s in seen), seen
    # the queue's states first, then the host's: once on the host it never goes back
    first_host = next(i for i, s in enumerate(seen) if HOST_STATE.fullmatch(s))
    assert all(HOST_STATE.fullmatch(s) for s in seen[first_host:]), seen
    # the 10 s of encoding were seen with file/encodings' percentage, rising
    percents = [int(m.group(2)) for s in seen if (m := HOST_STATE.fullmatch(s)) and m.group(2)]
    assert percents, f"no `encoding N%` among {seen}"
    assert percents == sorted(percents) and all(p < 100 for p in percents), seen
    code = xattr(clip, "code")
    (event,) = matching(mount.path, "ready", path="encoded.mp4")
    assert event["code"] == code
    assert event["seq"] > wait_event(mount.path, "uploaded", path="encoded.mp4")["seq"]
    # a second file's whole encoding later (polls keep coming), still one `ready` for the first
    second = copy_in(tmp_path, mount, "later.mp4")
    wait_event(mount.path, "ready", timeout=120, path="later.mp4")
    assert status_xattr(second) == "ready"
    assert len(matching(mount.path, "ready", code=code)) == 1, read_events(mount.path)
    assert status_xattr(clip) == "ready"


def test_dmca_and_deletion_by_the_host_show_and_emit_once(
    start_emulator: StartEmulator, start_mount: StartMount, tmp_path: Path
) -> None:
    emu = start_emulator("--enable", "direct_link,delete")
    mount = start_mount(emu, "--write-back", "0.2", "--takedown-poll", "1", "--encoding-poll", "0")
    noticed = copy_in(tmp_path, mount, "noticed.mp4")
    pulled = copy_in(tmp_path, mount, "pulled.mp4")
    mine = copy_in(tmp_path, mount, "mine.mp4")
    wait_for("the uploads", lambda: settled(emu, 3))
    codes = {p.name: code_of(p) for p in (noticed, pulled, mine)}
    removed = sh("rm", mine)  # the host deletes it for us: file/deleted says deleted_by "me"
    assert removed.returncode == 0, removed.stderr
    wait_for("mine.mp4 gone from the host", lambda: settled(emu, 2))
    emu.control("POST", "/_emu/file", {"code": codes["noticed.mp4"], "dmca": True})
    emu.control("POST", "/_emu/file", {"code": codes["pulled.mp4"], "deleted": "admin"})

    wait_for("the dmca status", lambda: DMCA_STATE.fullmatch(status_xattr(noticed)))
    dmca = wait_event(mount.path, "dmca", path="noticed.mp4")
    assert dmca["code"] == codes["noticed.mp4"]
    assert dmca["detail"] and DMCA_STATE.fullmatch(f"dmca: {dmca['detail']}"), dmca
    gone = wait_event(mount.path, "deleted", path="pulled.mp4")
    assert gone["code"] == codes["pulled.mp4"] and gone["detail"] == "admin", gone
    shown = sh("getfattr", "--only-values", "-n", "user.vipfs.status", pulled)
    if shown.returncode == 0:  # where the mount still shows the file, it says why it is gone
        assert shown.stdout == "deleted by host"

    # more takedown polls later: each notice was told once, our own deletion never
    emu.reset_calls()
    wait_for("two more takedown polls", lambda: emu.calls().get("file/dmca", 0) >= 2)
    wait_for("two more deleted polls", lambda: emu.calls().get("file/deleted", 0) >= 2)
    assert len(matching(mount.path, "dmca", code=codes["noticed.mp4"])) == 1
    assert len(matching(mount.path, "deleted", code=codes["pulled.mp4"])) == 1
    ours = [e for e in read_events(mount.path) if e["code"] == codes["mine.mp4"]]
    assert not [e for e in ours if e["event"] in ("deleted", "dmca")], ours
    assert DMCA_STATE.fullmatch(status_xattr(noticed))
    assert not matching(mount.path, "dmca", code=codes["pulled.mp4"])

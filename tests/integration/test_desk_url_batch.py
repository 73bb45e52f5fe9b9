"""Batch URL uploads on a real mount (issue 12, item 5): `vipfs url-upload --from FILE --to DIR`.

The host (the emulator) fetches each URL from a loopback web server of the test's own; any other
URL fails there, as an unreachable source would. Each URL shows a state in status.json's
`url_uploads` and in events; a rerun of the batch retries what failed and duplicates nothing;
so does a remount while the host is still fetching.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import Emulator, Mount, sh, vipfs, wait_for
from tests.integration.desk_events import matching, wait_event

pytestmark = pytest.mark.fuse

StartMount = Callable[..., Mount]
StartEmulator = Callable[..., Emulator]
ITEM_KEYS = {"id", "url", "title", "dir", "state", "progress", "code", "error"}
STATES = {"queued", "submitted", "fetching", "uploaded", "failed"}
FAR = "http://example.invalid/far_away.mp4"  # not loopback: the emulator never fetches it


@dataclass
class Web:
    """The loopback web server: its root, its URL, and a gate the `slow` files wait behind."""

    root: Path
    url: str
    gate: threading.Event = field(default_factory=threading.Event)
    asked: list[str] = field(default_factory=list)


class _Handler(http.server.SimpleHTTPRequestHandler):
    web: Web

    def do_GET(self) -> None:
        self.web.asked.append(self.path)
        if "slow" in self.path:
            self.web.gate.wait(120)  # until the test opens it; a hang guard beyond that
        super().do_GET()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def web(tmp_path: Path) -> Iterator[Web]:
    root = tmp_path / "www"
    root.mkdir()
    site = Web(root, "")
    handler = type("Handler", (_Handler,), {"web": site})
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(root))
    )
    site.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield site
    site.gate.set()
    server.shutdown()
    server.server_close()


def url_uploads(mount: Path) -> list[dict[str, Any]]:
    report = json.loads((mount / ".vipfs" / "status.json").read_text())
    items = report["url_uploads"]
    for item in items:
        assert set(item) == ITEM_KEYS and item["state"] in STATES, item
    return list(items)


def states(mount: Path) -> dict[str, str]:
    """Each URL's state, its newest item's where a rerun listed it again."""
    items = sorted(url_uploads(mount), key=lambda i: i["id"])
    return {i["url"]: i["state"] for i in items}


def titles(emu: Emulator) -> list[str]:
    return sorted(f["title"] for f in emu.live_files())


def run_batch(batch: Path, folder: Path) -> None:
    done = vipfs("url-upload", "--from", batch, "--to", folder)
    assert done.returncode == 0, done.stderr


def test_a_batch_lands_with_titles_and_a_rerun_retries_the_failed_only(
    start_emulator: StartEmulator, start_mount: StartMount, web: Web, tmp_path: Path
) -> None:
    emu = start_emulator("--enable", "direct_link,url_uploads")
    for name in ("good_one.mp4", "second.mp4", "plain_clip.mp4"):
        (web.root / name).write_bytes(os.urandom(30_000))
    good, second, plain = (
        f"{web.url}/{n}" for n in ("good_one.mp4", "second.mp4", "plain_clip.mp4")
    )
    missing = f"{web.url}/missing.mp4"  # a 404 until the test puts it there
    batch = tmp_path / "batch.txt"
    batch.write_text(
        f"{good} Good One\n{second} Second Clip\n{plain}\n{missing} Was Missing\n{FAR} Far Away\n"
    )
    mount = start_mount(emu, "--dir-cache-time", "0.5")
    folder = mount.path / "Fetched"
    assert sh("mkdir", folder).returncode == 0
    run_batch(batch, folder)

    done = {good: "uploaded", second: "uploaded", plain: "uploaded"}
    done |= {missing: "failed", FAR: "failed"}
    wait_for("every URL's end state", lambda: states(mount.path) == done, timeout=180)
    landed = {"Good One.mp4", "Second Clip.mp4", "plain clip.mp4"}
    wait_for("the fetched files in Fetched", lambda: set(os.listdir(folder)) == landed)
    assert titles(emu) == ["Good One", "Second Clip", "plain clip"]
    items = {i["url"]: i for i in url_uploads(mount.path)}
    codes = {f["title"]: f["code"] for f in emu.live_files()}
    assert items[good]["code"] == codes["Good One"] and items[good]["title"] == "Good One"
    assert items[plain]["code"] == codes["plain clip"]
    assert all(i["dir"] == "Fetched" for i in items.values()), items
    for url in (missing, FAR):
        assert items[url]["error"], items[url]
        (failed,) = matching(mount.path, "failed", source="url", code=items[url]["code"])
        assert failed["detail"], failed
    assert len(matching(mount.path, "queued", source="url")) >= 5  # one for each URL
    shown = vipfs("status", mount.path)
    assert shown.returncode == 0, shown.stderr
    assert FAR in shown.stdout and "failed" in shown.stdout, shown.stdout
    for title, name in (("Good One", "Good One.mp4"), ("plain clip", "plain clip.mp4")):
        (event,) = matching(mount.path, "uploaded", source="url", code=codes[title])
        assert event["path"] == f"Fetched/{name}", event

    # the rerun: the missing file is there now, the far one still unreachable
    (web.root / "missing.mp4").write_bytes(os.urandom(30_000))
    emu.reset_calls()
    run_batch(batch, folder)
    done[missing] = "uploaded"
    wait_for("the retried URL", lambda: states(mount.path) == done, timeout=180)
    wait_for("the retried file", lambda: "Was Missing.mp4" in os.listdir(folder))
    assert titles(emu) == ["Good One", "Second Clip", "Was Missing", "plain clip"]
    assert set(os.listdir(folder)) == landed | {"Was Missing.mp4"}
    assert emu.calls().get("upload/url", 0) <= 2  # only the two that had failed went again
    items = {i["url"]: i for i in url_uploads(mount.path)}
    assert (
        items[missing]["code"] == {f["title"]: f["code"] for f in emu.live_files()}["Was Missing"]
    )


def test_a_remount_mid_batch_duplicates_nothing(
    start_emulator: StartEmulator, start_mount: StartMount, web: Web, tmp_path: Path
) -> None:
    emu = start_emulator("--enable", "direct_link")  # no file/url_uploads: polls file/info
    (web.root / "fast.mp4").write_bytes(os.urandom(30_000))
    (web.root / "slow.mp4").write_bytes(os.urandom(30_000))
    fast, slow = f"{web.url}/fast.mp4", f"{web.url}/slow.mp4"
    batch = tmp_path / "batch.txt"
    batch.write_text(f"{fast} Fast One\n{slow} Slow One\n")
    options = ("--dir-cache-time", "0.5")
    mount = start_mount(emu, *options)
    folder = mount.path / "Fetched"
    assert sh("mkdir", folder).returncode == 0
    run_batch(batch, folder)
    wait_for("the fast one", lambda: "Fast One.mp4" in os.listdir(folder), timeout=180)
    wait_for("the host fetching the slow one", lambda: "/slow.mp4" in web.asked)
    wait_for(
        "the slow one submitted",
        lambda: states(mount.path).get(slow) in ("submitted", "fetching"),
    )

    stopped = sh("fusermount3", "-u", mount.path)
    assert stopped.returncode == 0, stopped.stderr
    mount.process.wait(60)
    again = start_mount(emu, *options, mountpoint=mount.path)
    web.gate.set()
    wait_for("the slow one after the remount", lambda: "Slow One.mp4" in os.listdir(folder))
    wait_for(
        "both uploaded in status.json",
        lambda: states(again.path) == {fast: "uploaded", slow: "uploaded"},
        timeout=180,
    )
    assert titles(emu) == ["Fast One", "Slow One"]
    # the remounted mount took the upload up where the first left it, events and all
    slow_code = {f["title"]: f["code"] for f in emu.live_files()}["Slow One"]
    event = wait_event(again.path, "uploaded", source="url", code=slow_code)
    assert event["path"] == "Fetched/Slow One.mp4", event
    run_batch(batch, folder)  # a rerun after the restart: all done, nothing to send
    wait_for("the rerun seen", lambda: states(again.path) == {fast: "uploaded", slow: "uploaded"})
    assert titles(emu) == ["Fast One", "Slow One"]
    assert sorted(os.listdir(folder)) == ["Fast One.mp4", "Slow One.mp4"]
    assert emu.calls().get("upload/url", 0) == 2  # one submission per URL, remount or not
    assert len(matching(again.path, "uploaded", source="url", code=slow_code)) == 1

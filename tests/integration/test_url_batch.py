"""`vipfs url-upload --from FILE`: a batch of URLs through a real mount, one of which fails.

The emulator fetches only loopback URLs (any other ends in ERROR, as an unreachable source
would), so the clips come from a local web server.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import Emulator, Mount, sh, vipfs, wait_for

pytestmark = pytest.mark.fuse


@pytest.fixture
def web(tmp_path: Path) -> Iterator[str]:
    root = tmp_path / "www"
    root.mkdir()
    for name in ("one.mp4", "two_clip.mp4"):
        (root / name).write_bytes(os.urandom(40_000))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def url_rows(mount: Mount) -> list[dict[str, Any]]:
    status = json.loads((mount.path / ".vipfs" / "status.json").read_text())
    rows: list[dict[str, Any]] = status["url_uploads"]
    return rows


def settled(mount: Mount) -> list[dict[str, Any]] | None:
    rows = url_rows(mount)
    return rows if all(r["state"] in ("uploaded", "failed") for r in rows) else None


def test_a_batch_of_urls_lands_with_one_failure_and_retries_only_it(
    start_emulator: Callable[..., Emulator],
    start_mount: Callable[..., Mount],
    tmp_path: Path,
    web: str,
) -> None:
    emu = start_emulator("--enable", "url_uploads")
    mount = start_mount(emu, "--dir-cache-time", "0.5")
    assert sh("mkdir", mount.path / "Fetched").returncode == 0
    unreachable = "http://unreachable.invalid/gone.mp4"
    listing = tmp_path / "urls.txt"
    listing.write_text(
        f"# clips for tonight\n\n{web}/one.mp4   First clip\n{web}/two_clip.mp4\n"
        f"ftp://example.org/x.mp4\n{unreachable}\n"
    )
    done = vipfs("url-upload", "--from", listing, "--to", mount.path / "Fetched")
    assert done.returncode == 1  # the bad line
    assert f"{listing}:5: 'ftp://example.org/x.mp4' is not an http(s) URL" in done.stderr
    assert done.stdout.splitlines() == [
        f"{web}/one.mp4: queued",
        f"{web}/two_clip.mp4: queued",
        f"{unreachable}: queued",
    ]
    rows = wait_for("every URL to settle", lambda: settled(mount))
    by_url = {r["url"]: r for r in rows}
    assert [by_url[u]["state"] for u in (f"{web}/one.mp4", f"{web}/two_clip.mp4")] == [
        "uploaded"
    ] * 2
    assert by_url[unreachable]["state"] == "failed"
    assert by_url[unreachable]["error"] == "the host could not fetch the URL"
    assert {r["dir"] for r in rows} == {"Fetched"}
    live = {f["code"]: f for f in emu.live_files()}
    first = by_url[f"{web}/one.mp4"]["code"]
    assert live[first]["title"] == "First clip"  # the title given on the line
    assert emu.api("file/url_uploads") == []  # the failed one left the host's queue
    wait_for(
        "the files in the folder",
        lambda: sorted(os.listdir(mount.path / "Fetched")) == ["First clip.mp4", "two clip.mp4"],
    )
    status = vipfs("status", mount.path)
    assert "URL uploads: 2 uploaded, 1 failed" in status.stdout, status.stdout
    assert f"url failed    Fetched  {unreachable}: the host could not fetch" in status.stdout

    # the same list from standard input: the uploaded ones are skipped, the failed one retried
    again = subprocess.run(
        [
            sys.executable,
            "-m",
            "vipfs",
            "url-upload",
            "--from",
            "-",
            "--to",
            mount.path / "Fetched",
        ],
        input=listing.read_text(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.stdout.splitlines() == [
        f"{web}/one.mp4: already uploaded as {first}",
        f"{web}/two_clip.mp4: already uploaded as {by_url[f'{web}/two_clip.mp4']['code']}",
        f"{unreachable}: retrying (was failed)",
    ]
    rows = wait_for("the retry to settle", lambda: settled(mount))
    assert len(rows) == 3 and emu.calls().get("upload/url") == 4  # no duplicate


@pytest.fixture
def slow_web(tmp_path: Path) -> Iterator[tuple[str, threading.Event]]:
    """A web server whose one clip is served only once the test releases it."""
    release = threading.Event()
    body = os.urandom(30_000)

    class Held(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # the name http.server calls
            release.wait(timeout=25)
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Held)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", release
    release.set()
    server.shutdown()
    server.server_close()


def test_a_lost_answer_is_found_in_the_host_queue_and_never_sent_again(
    start_emulator: Callable[..., Emulator],
    start_mount: Callable[..., Mount],
    slow_web: tuple[str, threading.Event],
) -> None:
    web, release = slow_web
    emu = start_emulator("--enable", "url_uploads")
    mount = start_mount(emu)
    emu.switch(truncated=1.0)  # every answer is cut: the host queues the URL, vipfs never hears
    done = vipfs("url-upload", f"{web}/held.mp4", "--to", mount.path)
    assert done.stdout == f"{web}/held.mp4: queued\n", done.stderr
    wait_for("the call", lambda: emu.calls().get("upload/url") == 1)
    emu.switch(truncated=0.0)
    (held,) = emu.api("file/url_uploads")
    row = wait_for("the adoption", lambda: [r for r in url_rows(mount) if r["code"]])
    assert row[0]["code"] == held["file_code"] and row[0]["state"] in ("submitted", "fetching")
    release.set()
    wait_for("the file", lambda: url_rows(mount)[0]["state"] == "uploaded")
    assert emu.calls().get("upload/url") == 1  # never sent twice
    assert "(answer was lost)" in mount.log()  # found in the host's queue, not in an answer
    assert [f["code"] for f in emu.live_files()] == [held["file_code"]]

"""Issue 10 under a 5-calls-a-minute quota: `mkdir` plus `rsync` of 30 files runs to completion,
and a cached folder keeps answering from its listing throughout, spending no call.

The quota is the emulator's own (`--rate-limit-per-min 5`, a server calendar minute, refused
with `Requests limit reached` like a real host), run in real time: no clock is faked and no
limit bent. The new upload design (issue 10 item 4: one reused `upload/server`, the name carried
in the upload itself, node POSTs free) needs a handful of calls for the whole tree, so the run
takes a quota minute or two; today's two calls per file would take over twelve, and the
generous hang guards below fail it instead.

An uncached folder listed while the uploads run must answer within `--op-timeout` (90 s: one
quota minute and a margin; no `EIO`), `df` must answer without waiting, and `account/info` is
fetched at most once per 300 s.

"Answers under 1 s" is checked without a wall clock: every API request goes through a recording
proxy (`Recorder`: the calls are form POSTs, so the emulator's own counters cannot say which
folder a call was for), and after its first listing no request may name the cached folder or
its files; each `ls` must also return within a hang guard (30 s, against the limiter's waits
of up to a minute). `--op-timeout 90` lets the interactive `mkdir` wait out one quota minute,
which the issue allows an uncached entry ("within one quota minute"), and `--dir-cache-time
3600` keeps the cached folder's listing fresh for the whole run, however slow.
"""

from __future__ import annotations

import hashlib
import http.server
import math
import os
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import Emulator, Mount, drained, sh, wait_for

pytestmark = [pytest.mark.fuse, pytest.mark.slow]

StartMount = Callable[..., Mount]
StartEmulator = Callable[..., Emulator]

FILES = 30
HANG_GUARD = 30.0  # seconds an `ls` of a cached folder may take before the test calls it hung


class Recorder(http.server.ThreadingHTTPServer):
    """A pass-through proxy in front of the emulator's API that keeps every request's op and
    parameters (form body and query; the key is dropped)."""

    daemon_threads = True

    def __init__(self, upstream: str) -> None:
        super().__init__(("127.0.0.1", 0), _Forward)
        self.upstream = upstream.rstrip("/")
        self.lock = threading.Lock()
        self.seen: list[tuple[str, dict[str, str]]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/api"

    def requests(self) -> list[tuple[str, dict[str, str]]]:
        with self.lock:
            return list(self.seen)


class _Forward(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Recorder

    def log_message(self, format: str, *args: object) -> None:
        return  # quiet: requests carry the key

    def do_GET(self) -> None:
        self._forward()

    def do_POST(self) -> None:
        self._forward()

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        split = urllib.parse.urlsplit(self.path)
        params = dict(urllib.parse.parse_qsl(split.query))
        if "form-urlencoded" in (self.headers.get("Content-Type") or ""):
            params.update(urllib.parse.parse_qsl(body.decode(errors="replace")))
        params.pop("key", None)
        with self.server.lock:
            self.server.seen.append((split.path.removeprefix("/api/"), params))
        target = self.server.upstream.removesuffix("/api") + self.path
        headers = {k: v for k, v in self.headers.items() if k.lower() == "content-type"}
        request = urllib.request.Request(
            target, data=body if self.command == "POST" else None, headers=headers
        )
        request.method = self.command
        try:
            with urllib.request.urlopen(request, timeout=120) as reply:
                status, ctype, data = reply.status, reply.headers.get("Content-Type"), reply.read()
        except urllib.error.HTTPError as refused:
            status, ctype, data = refused.code, refused.headers.get("Content-Type"), refused.read()
        self.send_response(status)
        self.send_header("Content-Type", ctype or "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def recorder(start_emulator: StartEmulator) -> Iterator[tuple[Emulator, Recorder]]:
    emu = start_emulator("--rate-limit-per-min", "5")
    proxy = Recorder(emu.url)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    yield emu, proxy
    proxy.shutdown()
    proxy.server_close()
    thread.join(10)


def about(request: tuple[str, dict[str, str]], fld_id: int, codes: set[str]) -> bool:
    """Whether one API request names the folder `fld_id` or one of its files."""
    _, params = request
    if str(fld_id) in (params.get("fld_id"), params.get("parent_id"), params.get("file_fld_id")):
        return True
    return bool(codes & set(params.get("file_code", "").split(",")))


def timed_ls(path: Path, guard: float = HANG_GUARD) -> list[str]:
    """`ls` of a folder, or a failed test if it hangs past the guard."""
    out = sh("ls", "-1", path, timeout=guard)
    assert out.returncode == 0, out.stderr
    return out.stdout.splitlines()


def test_mkdir_and_rsync_of_30_files_under_5_calls_a_minute(
    recorder: tuple[Emulator, Recorder], start_mount: StartMount, tmp_path: Path
) -> None:
    emu, proxy = recorder
    seeded = emu.seed(
        {
            "folders": [
                {"name": "seen before", "ref": "seen"},
                {"name": "never listed", "ref": "unseen"},
            ],
            "files": [
                {"title": f"{ref} {i}", "folder_ref": ref, "size": 1000 + i}
                for ref in ("seen", "unseen")
                for i in range(3)
            ],
        }
    )
    seen_id, unseen_id = int(seeded["folders"]["seen"]), int(seeded["folders"]["unseen"])
    seen_codes = set(seeded["files"][:3])
    src = tmp_path / "src"
    src.mkdir()
    sent: dict[str, str] = {}
    for i in range(FILES):
        data = f"small file {i}\n".encode() * (20 + i)
        (src / f"small {i:02d}.mp4").write_bytes(data)
        sent[hashlib.sha256(data).hexdigest()] = f"small {i:02d}.mp4"
    started = time.monotonic()
    mount = start_mount(
        emu,
        "--api-url",
        proxy.url,
        "--write-back",
        "0.5",
        "--op-timeout",
        "90",
        "--dir-cache-time",
        "3600",
    )
    cached = mount.path / "seen before"
    first = timed_ls(cached, guard=120)  # uncached: may wait out one quota minute
    assert len(first) == 3, first
    listed = len(proxy.requests())
    assert any(op == "folder/list" for op, _ in proxy.requests()), "the proxy was bypassed"
    made = sh("mkdir", mount.path / "dst", timeout=120)
    assert made.returncode == 0, made.stderr
    said = tmp_path / "rsync.stderr"
    with open(said, "w") as stderr:
        rsync = subprocess.Popen(
            ["rsync", "-r", f"{src}/", f"{mount.path / 'dst'}/"], stderr=stderr, text=True
        )
    # an uncached folder, asked while the uploads run: within one quota minute, no EIO
    assert len(timed_ls(mount.path / "never listed", guard=120)) == 3
    free = sh("df", mount.path, timeout=HANG_GUARD)  # df never waits for account/info
    assert free.returncode == 0, free.stderr
    samples = 0

    def cached_ls_then_done() -> bool:
        nonlocal samples
        assert timed_ls(cached) == first
        samples += 1
        if rsync.poll() is None:
            return False
        return drained(mount.path)

    wait_for("rsync and the uploads", cached_ls_then_done, timeout=420)
    assert rsync.wait() == 0, said.read_text()
    assert samples >= 3, samples
    later = proxy.requests()[listed:]
    assert not [r for r in later if about(r, seen_id, seen_codes)], "the cached folder was fetched"
    infos = sum(1 for op, _ in proxy.requests() if op == "account/info")
    assert infos <= 1 + math.ceil((time.monotonic() - started) / 300), infos  # every 300 s
    files = [f for f in emu.files() if f["fld_id"] not in (seen_id, unseen_id)]
    assert not [f for f in files if f["deleted"]], "copies were made and deleted"
    assert len(files) == FILES, sorted(f["title"] for f in files)
    assert {f["sha256"] for f in files} == set(sent)  # every file once, none twice
    assert len({f["fld_id"] for f in files}) == 1 and files[0]["fld_id"] != 0
    assert sorted(timed_ls(mount.path / "dst")) == sorted(sent.values())


STEADY_FILES = 50


def test_uploads_in_steady_state_cost_at_most_a_tenth_of_a_call_each(
    emulator: Emulator, start_mount: StartMount, tmp_path: Path
) -> None:
    """Issue 10 item 4: after one warm-up upload (the mount's start-up probes and the first
    `upload/server` are behind it), 50 more files cost at most 5 API calls in all (node POSTs
    are not API calls), and the host holds each once under its own name."""
    mount = start_mount(emulator, "--write-back", "0.2")
    (tmp_path / "warm up.mp4").write_bytes(b"warm up\n" * 100)
    assert sh("cp", tmp_path / "warm up.mp4", mount.path).returncode == 0
    wait_for("the warm-up upload", lambda: drained(mount.path) and emulator.live_files())
    src = tmp_path / "src"
    src.mkdir()
    for i in range(STEADY_FILES):
        (src / f"steady {i:02d}.mp4").write_bytes(f"steady {i}\n".encode() * (30 + i))
    emulator.reset_calls()
    done = sh("cp", *sorted(src.iterdir()), mount.path, timeout=300)
    assert done.returncode == 0, done.stderr
    wait_for("the uploads", lambda: drained(mount.path), timeout=300)
    calls = emulator.calls()
    api = {op: n for op, n in calls.items() if "/" in op}  # "upload" is the node's POST
    assert calls.get("upload") == STEADY_FILES, calls  # each file sent once
    assert sum(api.values()) <= STEADY_FILES // 10, api
    assert len(emulator.live_files()) == STEADY_FILES + 1  # none twice, none lost
    shown = sorted(n for n in os.listdir(mount.path) if n.startswith("steady"))
    assert shown == sorted(p.name for p in src.iterdir())


def test_after_sighup_the_root_answers_while_uploads_wait(
    recorder: tuple[Emulator, Recorder], start_mount: StartMount, tmp_path: Path
) -> None:
    """Issue 10 item 5: SIGHUP forgets every listing while 20 uploads wait for a 5-a-minute
    quota; every `ls` of the root answers in full within `--op-timeout` (90 s: one quota
    minute and a margin), never EIO. A liveness check: the order of the calls at a minute's
    turn is a race on the wire, so that interactive calls go first is not asserted here."""
    emu, proxy = recorder
    emu.seed({"folders": [{"name": "kept folder"}]})
    mount = start_mount(emu, "--api-url", proxy.url, "--write-back", "0", "--op-timeout", "90")
    assert timed_ls(mount.path, guard=120) == ["kept folder"]
    src = tmp_path / "src"
    src.mkdir()
    for i in range(20):
        (src / f"queued {i:02d}.mp4").write_bytes(f"queued {i}\n".encode() * (25 + i))
    done = sh("cp", *sorted(src.iterdir()), mount.path, timeout=120)
    assert done.returncode == 0, done.stderr
    before = len(proxy.requests())
    mount.process.send_signal(signal.SIGHUP)

    def root_answers_and_was_listed_again() -> bool:
        """Every `ls` answers in full (never EIO); done once the root's listing was fetched
        after the SIGHUP (the signal is handled asynchronously: only then is it proven)."""
        shown = timed_ls(mount.path, guard=120)
        assert sorted(shown) == sorted(["kept folder", *(p.name for p in src.iterdir())])
        return any(
            op == "folder/list" and params.get("fld_id", "0") == "0"
            for op, params in proxy.requests()[before:]
        )

    wait_for("the root listed again", root_answers_and_was_listed_again, timeout=240)

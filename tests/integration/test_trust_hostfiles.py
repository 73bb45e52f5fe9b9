"""Issue 8, items 2, 3 and 14, against a real mount: vipfs touches only host files it can prove
are its own, never sends the key over plain http when the API is https, and keeps the key and
forged lines out of everything it writes or shows.

The host misbehaves through the emulator's switches (`--ignore-list-filters`,
`--node-fail-after-store`, `--upload-server-url`, `--echo-key`, `--msg-newlines`, `--tls-cert`);
where a test must play the upload node itself (to see what reaches it, or to store copies the
way a node would), a plain listener of its own stands in for it.
"""

from __future__ import annotations

import base64
import contextlib
import email.parser
import email.policy
import functools
import hashlib
import html
import json
import os
import random
import re
import resource
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import (
    KEY,
    Emulator,
    Mount,
    mount_command,
    settled_status,
    sh,
    status_xattr,
    unmount,
    vipfs,
    wait_for,
    write_key,
)
from vipfs.emulator.faults import FORGED_LOG_LINE

pytestmark = pytest.mark.fuse

StartMount = Callable[..., Mount]
StartEmulator = Callable[..., Emulator]

FAST = ("--write-back", "0.5")
HOSTILE = ("--enable", "direct_link,delete", "--ignore-list-filters")
# The user's own files. Codes that sort before any code the emulator makes (those start with a
# letter): a cleanup that deletes "everything the search returned", in code order, has deleted
# all of these by the time it reaches the file it meant.
USER_FILES = (
    ("000000000001", "Movie (2021)", "2019-03-01 20:00:00"),
    ("000000000002", "Holiday", "2020-07-14 09:30:00"),
    # the very title our file will get; in another folder, as in ours it would be the name
    # "clip.mp4" itself (the default extension), which a cp of clip.mp4 rightly replaces
    ("000000000003", "clip", "2021-01-02 03:04:05"),
    ("000000000004", "vipfs-notatoken", "2022-05-06 07:08:09"),
)


# -- helpers ---------------------------------------------------------------------------------
def video_bytes(seed: int, size: int = 120_000) -> bytes:
    return random.Random(seed).randbytes(size)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def seed_user_files(emu: Emulator) -> dict[str, tuple[str, str]]:
    """The account's own files, with real bytes; code → (title, sha256)."""
    spec = [
        {
            "code": code,
            "title": title,
            "uploaded": uploaded,
            "content_b64": base64.b64encode(video_bytes(i)).decode(),
            **({"folder_ref": "elsewhere"} if title == "clip" else {}),
        }
        for i, (code, title, uploaded) in enumerate(USER_FILES)
    ]
    emu.seed({"folders": [{"ref": "elsewhere", "name": "Elsewhere"}], "files": spec})
    return {code: (title, sha256(video_bytes(i))) for i, (code, title, _) in enumerate(USER_FILES)}


def assert_user_files_untouched(emu: Emulator, before: dict[str, tuple[str, str]]) -> None:
    held = {f["code"]: f for f in emu.files()}
    for code, (title, digest) in before.items():
        f = held.get(code)
        assert f is not None, f"{title!r} ({code}) is gone from the host"
        assert not f["deleted"], f"{title!r} ({code}) was deleted"
        assert f["title"] == title, f"{title!r} ({code}) was retitled {f['title']!r}"
        assert f["sha256"] == digest, f"{title!r} ({code}) holds other bytes"


def others(emu: Emulator, before: dict[str, tuple[str, str]]) -> list[dict[str, Any]]:
    """Host files that are not the user's seeded ones (live and deleted)."""
    return [f for f in emu.files() if f["code"] not in before]


def live_codes(emu: Emulator) -> set[str]:
    return {f["code"] for f in emu.live_files()}


def settle(path: Path, timeout: float = 60) -> str:
    """Wait for the upload of `path` to end; on a timeout, say what its status was."""
    try:
        return str(
            wait_for("the upload to settle", functools.partial(settled_status, path), timeout)
        )
    except AssertionError as exc:
        raise AssertionError(f"{exc}; its status: {status_xattr(path)!r}") from None


def forged_lines(text: str) -> list[str]:
    """Lines that start like the emulator's forged log line (`--msg-newlines`)."""
    return [line for line in text.splitlines() if line.lstrip().startswith(FORGED_LOG_LINE[:30])]


def form_fields(request: bytes) -> dict[str, str]:
    """The text fields of a multipart/form-data request as the listener received it."""
    head, _, body = request.partition(b"\r\n\r\n")
    ctype = re.search(rb"(?im)^content-type:\s*(.+?)\r?$", head)
    assert ctype is not None, head[:200]
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + ctype.group(1) + b"\r\n\r\n" + body
    )
    fields: dict[str, str] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if isinstance(name, str) and part.get_filename() is None:
            payload = part.get_payload(decode=True)
            fields[name] = payload.decode() if isinstance(payload, bytes) else str(payload)
    return fields


class Listener:
    """A plain-http stand-in for an upload node on 127.0.0.1: keeps every byte each connection
    sent, calls `on_request` with an HTTP request, answers it with an HTML 500 page, and drops
    anything that is not HTTP (a TLS handshake) at once."""

    PAGE = b"<html><body><h1>Internal Server Error</h1></body></html>"

    def __init__(self, on_request: Callable[[bytes], None] | None = None) -> None:
        self.on_request = on_request
        self.received: list[bytes] = []
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self.port = self._sock.getsockname()[1]
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def url(self, scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}/upload/01"

    def saw(self, secret: str) -> bool:
        return any(secret.encode() in data for data in list(self.received))

    def close(self) -> None:
        # shutdown wakes the blocked accept() (close alone does not, on Linux), so the join
        # needs no timeout: a timed join never ends under libfaketime.
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        self._thread.join()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(20)
            data = b""
            try:
                data = conn.recv(65536)
                if not data or not data[:1].isalpha():  # a TLS ClientHello starts with 0x16
                    return
                while b"\r\n\r\n" not in data:
                    more = conn.recv(65536)
                    if not more:
                        return
                    data += more
                head = data.split(b"\r\n\r\n", 1)[0]
                length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
                want = len(head) + 4 + (int(length.group(1)) if length else 0)
                while len(data) < want:
                    more = conn.recv(1 << 20)
                    if not more:
                        return
                    data += more
                if self.on_request is not None:
                    self.on_request(data)
                conn.sendall(
                    b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/html\r\n"
                    b"Connection: close\r\nContent-Length: "
                    + str(len(self.PAGE)).encode()
                    + b"\r\n\r\n"
                    + self.PAGE
                )
            except OSError:
                return
            finally:
                self.received.append(data)


@pytest.fixture
def listener() -> Iterator[Callable[..., Listener]]:
    made: list[Listener] = []

    def start(on_request: Callable[[bytes], None] | None = None) -> Listener:
        made.append(Listener(on_request))
        return made[-1]

    yield start
    for one in made:
        one.close()


def make_cert(folder: Path) -> Path:
    """A self-signed certificate for 127.0.0.1 (`cert.pem`, its key beside it)."""
    cert, key = folder / "cert.pem", folder / "cert.key"
    made = sh("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
              "-out", cert, "-days", "3650", "-subj", "/CN=127.0.0.1",
              "-addext", "subjectAltName=IP:127.0.0.1")  # fmt: skip
    assert made.returncode == 0, made.stderr
    return cert


def start_https(start_emulator: StartEmulator, folder: Path, *extra: str) -> Emulator:
    cert = make_cert(folder)
    return start_emulator(
        "--tls-cert", str(cert), "--tls-key", str(cert.with_suffix(".key")), *extra, cafile=cert
    )


# -- item 2: only what is provably ours ------------------------------------------------------
def test_retry_after_a_stored_500_adopts_only_its_own_file(
    start_emulator: StartEmulator, start_mount: StartMount, tmp_path: Path
) -> None:
    """The node stores the file and answers 500; the host ignores the token filter. The retry
    must adopt the one file carrying its token: no second upload, no user file retitled, our
    bytes served; `rm` then deletes that file and nothing else.
    Today: the retry adopts the oldest file of the whole account ("Movie (2021)"), retitles it
    "clip", drops the spool, and the mount serves the film's bytes."""
    emu = start_emulator(*HOSTILE, "--node-fail-after-store", "1")
    before = seed_user_files(emu)
    mount = start_mount(emu, *FAST)
    data = video_bytes(99)
    (tmp_path / "clip.mp4").write_bytes(data)
    assert sh("cp", tmp_path / "clip.mp4", mount.path).returncode == 0
    target = mount.path / "clip.mp4"
    state = settle(target, 60)
    assert state.startswith(("uploaded", "encoding", "ready")), state
    calls = emu.calls()
    assert calls.get("failed_after_store") == 1, calls  # the 500 after storing was met
    assert calls.get("upload") == 1, calls  # and the retry did not send the file again
    assert_user_files_untouched(emu, before)
    ours = others(emu, before)
    assert [(html.unescape(f["title"]), f["sha256"], f["deleted"]) for f in ours] == [
        ("clip", sha256(data), False)
    ], ours
    assert os.getxattr(target, "user.vipfs.code").decode() == ours[0]["code"]
    assert sh("cmp", target, tmp_path / "clip.mp4").returncode == 0  # our bytes, not the film's
    removed = sh("rm", target)
    assert removed.returncode == 0, removed.stderr
    gone = ours[0]["code"]
    wait_for("our file to leave the host", lambda: gone not in live_codes(emu))
    assert_user_files_untouched(emu, before)
    assert len(emu.live_files()) == len(before)


def test_rm_of_a_queued_file_deletes_at_most_its_own_stray(
    start_emulator: StartEmulator, start_mount: StartMount, tmp_path: Path
) -> None:
    """`rm` of a file whose first attempt left a copy on the host (stored, answered 500), with
    the host ignoring the token filter: at most that copy goes, every other file stays.
    Today: the stray cleanup deletes every file the token search returned: the whole account."""
    emu = start_emulator(*HOSTILE, "--node-fail-after-store", "1")
    before = seed_user_files(emu)
    mount = start_mount(emu, *FAST)
    data = video_bytes(7)
    (tmp_path / "clip.mp4").write_bytes(data)
    assert sh("cp", tmp_path / "clip.mp4", mount.path).returncode == 0
    stray = wait_for("the first attempt's copy on the host", lambda: others(emu, before))
    removed = sh("rm", mount.path / "clip.mp4")  # before or after the retry: either way
    assert removed.returncode == 0, removed.stderr
    wait_for("the copy to leave the host", lambda: stray[0]["code"] not in live_codes(emu))
    assert_user_files_untouched(emu, before)
    assert len(emu.live_files()) == len(before), emu.live_files()
    assert [f["code"] for f in others(emu, before)] == [stray[0]["code"]]  # never re-sent
    assert not (mount.path / "clip.mp4").exists()


def test_retry_that_finds_no_token_uploads_again(
    start_emulator: StartEmulator,
    start_mount: StartMount,
    listener: Callable[..., Listener],
    tmp_path: Path,
) -> None:
    """The first attempt reaches a node that stores nothing and answers 500; the host ignores
    the token filter, so the search returns every file of the account, none with our token:
    the retry uploads again and leaves every listed file alone.
    Today: the retry adopts the account's oldest file as the upload."""
    emu = start_emulator(*HOSTILE)

    def refuse_once(request: bytes) -> None:
        emu.switch(upload_server_url="")  # the next upload/server names the real node again

    node = listener(refuse_once)
    emu.switch(upload_server_url=node.url())
    before = seed_user_files(emu)
    mount = start_mount(emu, *FAST)
    data = video_bytes(11)
    (tmp_path / "clip.mp4").write_bytes(data)
    assert sh("cp", tmp_path / "clip.mp4", mount.path).returncode == 0
    target = mount.path / "clip.mp4"
    state = settle(target, 60)
    assert len(node.received) == 1, "the first attempt never reached the stand-in node"
    assert state.startswith(("uploaded", "encoding", "ready")), state
    assert_user_files_untouched(emu, before)
    ours = others(emu, before)
    assert [(html.unescape(f["title"]), f["sha256"]) for f in ours] == [("clip", sha256(data))]
    assert emu.calls().get("upload") == 1
    assert os.getxattr(target, "user.vipfs.code").decode() == ours[0]["code"]
    assert sh("cmp", target, tmp_path / "clip.mp4").returncode == 0


def test_several_copies_of_the_posted_title_are_all_left_alone(
    start_emulator: StartEmulator,
    start_mount: StartMount,
    listener: Callable[..., Listener],
    tmp_path: Path,
) -> None:
    """The first attempt's node stores the file twice (as a proxy re-sending the POST would)
    and answers 500. Two host files in the folder carry the exact title sent, stored during the
    attempt: neither can be proven ours, so vipfs adopts, retitles and deletes none, keeps the
    data and says why in its status.
    Today: the retry adopts the oldest file of the whole account."""
    emu = start_emulator(*HOSTILE)

    def store_twice(request: bytes) -> None:
        fields = form_fields(request)
        copy = {"title": fields["file_title"], "size": 5000}
        emu.seed({"files": [copy, copy]})
        emu.switch(upload_server_url="")

    node = listener(store_twice)
    emu.switch(upload_server_url=node.url())
    before = seed_user_files(emu)
    mount = start_mount(emu, *FAST)
    data = video_bytes(12)
    (tmp_path / "clip.mp4").write_bytes(data)
    assert sh("cp", tmp_path / "clip.mp4", mount.path).returncode == 0
    target = mount.path / "clip.mp4"
    state = settle(target, 60)
    assert len(node.received) == 1
    copies = others(emu, before)
    assert len(copies) == 2 and copies[0]["title"] == copies[1]["title"], copies
    assert state.startswith("failed") and "several host files titled" in state, state
    assert_user_files_untouched(emu, before)
    after = others(emu, before)  # both copies as they were: not retitled, not deleted
    assert [(f["code"], f["title"], f["deleted"]) for f in after] == [
        (f["code"], f["title"], False) for f in copies
    ]
    assert emu.calls().get("upload", 0) == 0  # nor a third copy sent
    assert sh("cmp", target, tmp_path / "clip.mp4").returncode == 0  # the data is kept
    status = vipfs("status", mount.path)
    assert status.returncode == 0, status.stderr
    line = [row for row in status.stdout.splitlines() if "clip.mp4" in row]
    assert line and "failed" in line[0] and "several host files" in line[0], status.stdout
    said = [row for row in mount.log().splitlines() if "several host files titled" in row]
    assert len(said) == 1 and " WARNING " in said[0], said  # logged once
    # rm of the file: neither copy can be proven ours, so neither goes (nor anything else)
    removed = sh("rm", target)
    assert removed.returncode == 0, removed.stderr
    done = vipfs("umount", mount.path, "--timeout", "60")
    assert done.returncode == 0, done.stderr
    assert_user_files_untouched(emu, before)
    assert [(f["code"], f["deleted"]) for f in others(emu, before)] == [
        (f["code"], False) for f in copies
    ]


# -- item 3: the key never over plain http -----------------------------------------------------
def test_http_node_url_of_an_https_api_is_upgraded(
    start_emulator: StartEmulator, start_mount: StartMount, tmp_path: Path
) -> None:
    """upload/server of an https API answers `http://` for its own node: vipfs uploads over
    https to the same host and port.
    Today: the key and the file go out as plain http to the TLS port, which drops them; the
    upload retries forever."""
    emu = start_https(start_emulator, tmp_path, "--enable", "direct_link")
    assert emu.cafile is not None
    emu.switch(upload_server_url=emu.base.replace("https://", "http://") + "/upload/01")
    mount = start_mount(emu, *FAST, env={"SSL_CERT_FILE": str(emu.cafile)})
    data = video_bytes(21)
    (tmp_path / "clip.mp4").write_bytes(data)
    assert sh("cp", tmp_path / "clip.mp4", mount.path).returncode == 0
    target = mount.path / "clip.mp4"
    state = settle(target, 30)
    assert state.startswith(("uploaded", "encoding", "ready")), state
    assert [(f["title"], f["sha256"]) for f in emu.live_files()] == [("clip", sha256(data))]
    assert emu.calls().get("upload") == 1


def test_key_never_reaches_a_plain_http_node(
    start_emulator: StartEmulator,
    start_mount: StartMount,
    listener: Callable[..., Listener],
    tmp_path: Path,
) -> None:
    """upload/server of an https API names an `http://` node that only speaks plain http (a
    listener of the test's): the key never arrives there; the upload waits and says why.
    Today: the key and the file are POSTed to it in clear, on every retry."""
    emu = start_https(start_emulator, tmp_path, "--enable", "direct_link")
    assert emu.cafile is not None
    node = listener()
    emu.switch(upload_server_url=node.url("http"))
    # --op-timeout: an attempt that cannot connect ends (and says why) within 5 s, not 25
    mount = start_mount(emu, *FAST, "--op-timeout", "5", env={"SSL_CERT_FILE": str(emu.cafile)})
    (tmp_path / "clip.mp4").write_bytes(video_bytes(22))
    assert sh("cp", tmp_path / "clip.mp4", mount.path).returncode == 0
    target = mount.path / "clip.mp4"

    def retrying() -> str:
        shown = vipfs("status", mount.path).stdout
        rows = [row for row in shown.splitlines() if "clip.mp4" in row and "retry" in row]
        return rows[0] if rows else ""

    reason = wait_for("a failed attempt in vipfs status", retrying, 45)
    assert node.received, "no attempt reached the node's port"
    assert not node.saw(KEY), "the API key reached a plain-http node"
    assert not node.saw("clip"), "the upload went to a plain-http node"
    assert ":" in reason.split("retry", 1)[1], reason  # with the reason after "retry N:"
    wait_for("the reason in user.vipfs.status", lambda: "retry" in status_xattr(target), 45)
    assert emu.live_files() == []
    assert KEY not in reason


# -- item 14: key hygiene ------------------------------------------------------------------------
@pytest.mark.parametrize("mode", [0o644, 0o640], ids=["0644", "0640"])
def test_key_file_readable_by_others_is_refused(
    emulator: Emulator, tmp_path: Path, mode: int
) -> None:
    """Today: one warning in the log, and the mount goes ahead."""
    emulator.key_file.chmod(mode)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    try:
        out = sh(*mount_command(emulator, mnt, tmp_path), timeout=60)
        mounted = os.path.ismount(mnt)
    finally:
        unmount(mnt)
    assert not mounted, "mounted with a world- or group-readable key file"
    assert out.returncode == 2, (out.returncode, out.stderr)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and f"chmod 600 {emulator.key_file}" in lines[0], out.stderr
    assert "Traceback" not in out.stderr


def test_vipfs_key_leaves_the_environment(emulator: Emulator, start_mount: StartMount) -> None:
    """Today: `VIPFS_KEY=<key>` stays in /proc/<pid>/environ for the mount's whole life."""
    mount = start_mount(emulator, env={"VIPFS_KEY": KEY}, key_file=False)
    assert sh("ls", mount.path).returncode == 0  # the key from the environment worked
    environ = Path(f"/proc/{mount.pid}/environ").read_bytes()
    assert b"VIPFS_KEY" not in environ
    assert KEY.encode() not in environ


def serving_pids(mnt: Path) -> list[int]:
    """The processes whose command line names `mnt` (a background mount's own process)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if str(mnt).encode() in argv and b"mount" in argv:
                found.append(int(entry.name))
    return found


def test_vipfs_key_leaves_a_background_mount(emulator: Emulator, tmp_path: Path) -> None:
    """The same without -f: the process that stays is the forked child.
    Today: `VIPFS_KEY=<key>` is in its /proc/<pid>/environ."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    command = mount_command(emulator, mnt, tmp_path)
    at = command.index("--key-file")
    del command[at : at + 2]
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=60,
                             env={**os.environ, "VIPFS_KEY": KEY})  # fmt: skip
        assert out.returncode == 0, out.stderr
        assert os.path.ismount(mnt)
        pids = serving_pids(mnt)
        assert len(pids) == 1, pids
        environ = Path(f"/proc/{pids[0]}/environ").read_bytes()
    finally:
        unmount(mnt)
    assert b"VIPFS_KEY" not in environ
    assert KEY.encode() not in environ


def refused_file_everywhere(
    emu: Emulator, start_mount: StartMount, tmp_path: Path
) -> dict[str, str]:
    """Copy a file the host refuses; what vipfs then shows and writes about it, by place."""
    mount = start_mount(emu, *FAST)
    (tmp_path / "notes.txt").write_text("not a video\n" * 100)
    assert sh("cp", tmp_path / "notes.txt", mount.path).returncode == 0
    target = mount.path / "notes.txt"
    state = wait_for("the refusal", functools.partial(settled_status, target))
    assert state.startswith("failed") and "Not video file" in state, state.replace(KEY, "<KEY>")
    status = vipfs("status", mount.path)
    assert status.returncode == 0 and "Not video file" in status.stdout, status.stderr
    report = (mount.path / ".vipfs" / "status.json").read_text()
    assert json.loads(report)  # still one valid document
    assert "Not video file" in mount.log()
    stderr = (tmp_path / f"{mount.path.name}.stderr").read_text()
    seen = {"the log file": mount.log(), "vipfs status": status.stdout, "stderr": stderr}
    return seen | {"user.vipfs.status": state, "status.json": report}


def test_key_echoed_by_the_host_stays_out(
    start_emulator: StartEmulator, start_mount: StartMount, tmp_path: Path
) -> None:
    """The host's refusal ends "for key <key>": the key reaches none of the places vipfs
    shows or writes. Today: the status (xattr, status.json, `vipfs status`) shows it whole."""
    emu = start_emulator("--enable", "direct_link", "--echo-key")
    for where, text in refused_file_everywhere(emu, start_mount, tmp_path).items():
        assert KEY not in text, f"the key is in {where}"


def test_forged_log_lines_from_the_host_stay_escaped(
    start_emulator: StartEmulator, start_mount: StartMount, tmp_path: Path
) -> None:
    """The host's messages carry a newline and a line shaped like vipfs's own log lines: no
    such line appears anywhere, in the log file least of all. Today: the log file gets one per
    message the host sent (refusal, feature probes)."""
    emu = start_emulator("--enable", "direct_link", "--msg-newlines")
    seen = refused_file_everywhere(emu, start_mount, tmp_path)
    for where in ("the log file", "vipfs status", "stderr"):  # the line-by-line ones
        found = forged_lines(seen[where])
        assert not found, f"a forged line in {where}: {found}"


def test_refused_key_echoed_at_mount_is_not_printed(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    """A wrong key, and a host whose `Wrong auth` echoes it (and a forged line): the one line
    the user sees names the refusal, not the key.
    Today: `vipfs: the API key was refused by ...: Wrong auth for key <key>` and the forged
    line after it."""
    emu = start_emulator("--echo-key", "--msg-newlines")
    wrong = "1zzzzzzzzzzzzzzzz"
    write_key(tmp_path / "wrong.key", wrong)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    command = mount_command(emu, mnt, tmp_path, "-f")
    command[command.index("--key-file") + 1] = str(tmp_path / "wrong.key")
    try:
        out = sh(*command, timeout=60)
    finally:
        unmount(mnt)
    assert out.returncode != 0
    assert "Wrong auth" in out.stderr, out.stderr.replace(wrong, "<KEY>")
    log = (tmp_path / "mount.log").read_text() if (tmp_path / "mount.log").exists() else ""
    for where, text in (("stderr", out.stderr), ("the log file", log)):
        assert wrong not in text, f"the key is in {where}"
        assert not forged_lines(text), f"a forged line in {where}"
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr.replace(wrong, "<KEY>")


@pytest.fixture
def core_limit_raised() -> Iterator[None]:
    """The soft core limit at its hard limit for what the test starts (this machine's default
    soft limit of 0 would hide a mount that leaves core dumps on)."""
    saved = resource.getrlimit(resource.RLIMIT_CORE)
    resource.setrlimit(resource.RLIMIT_CORE, (saved[1], saved[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_CORE, saved)


def test_core_dumps_are_off(
    emulator: Emulator, core_limit_raised: None, start_mount: StartMount
) -> None:
    """A core dump of the mount would hold the key. Today: the inherited limit stays."""
    if resource.getrlimit(resource.RLIMIT_CORE)[0] == 0:
        pytest.fail("could not raise the core limit for the test")
    mount = start_mount(emulator)
    line = [row for row in Path(f"/proc/{mount.pid}/limits").read_text().splitlines()
            if row.startswith("Max core file size")]  # fmt: skip
    assert line and line[0].split()[4] == "0", line


def test_log_file_is_created_0600(emulator: Emulator, start_mount: StartMount) -> None:
    """Today: the log file gets the umask's mode (0644 under 022), readable by everyone."""
    saved = os.umask(0o022)
    try:
        mount = start_mount(emulator)
    finally:
        os.umask(saved)
    assert mount.log_file.exists()
    mode = mount.log_file.stat().st_mode & 0o777
    assert mode == 0o600, oct(mode)


@pytest.fixture
def public_dir() -> Iterator[Path]:
    """A directory any user can traverse (pytest's tmp_path is 0700 all the way up)."""
    folder = Path(tempfile.mkdtemp(prefix="vipfs-test-b-"))
    folder.chmod(0o755)
    yield folder
    unmount(folder / "mnt")
    shutil.rmtree(folder, ignore_errors=True)


def as_nobody(*argv: str | Path) -> subprocess.CompletedProcess[str]:
    return sh("setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", *argv)


def test_account_json_stays_the_owners_with_allow_other(
    public_dir: Path, emulator: Emulator, start_mount: StartMount
) -> None:
    """With --allow-other, another user may browse, but not read the account's email and
    balance. Today: account.json is 0644 like every virtual file, and uid 65534 reads it."""
    mount = start_mount(emulator, "--allow-other", mountpoint=public_dir / "mnt")
    account = mount.path / ".vipfs" / "account.json"
    assert json.loads(account.read_text())["login"]  # the owner reads it
    shown = as_nobody("stat", "-c", "%a", account)
    assert shown.returncode == 0, shown.stderr  # another uid gets that far: the path is open
    assert shown.stdout.strip() == "600", shown.stdout
    read = as_nobody("cat", account)
    assert read.returncode != 0 and "Permission denied" in read.stderr, read.stdout

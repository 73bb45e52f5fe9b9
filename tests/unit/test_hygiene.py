"""The mount process keeps the key to itself: no core dumps, no key in its environment, a
private log file with one line per record (issue 8, item 14)."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from vipfs import hygiene
from vipfs.api.redact import protect

KEY = "1abcdefghijklmnop"

PROBE = """
import ctypes, os, resource, subprocess
from vipfs import hygiene
hygiene.disable_core_dumps()
value = hygiene.take_env("VIPFS_KEY")
own = open("/proc/self/environ", "rb").read()
child = subprocess.run(["cat", "/proc/self/environ"], capture_output=True).stdout
libc = ctypes.CDLL(None)
libc.getenv.restype = ctypes.c_char_p
print(value == os.environ.get("EXPECTED"), b"VIPFS_KEY" in own, os.environ.get("VIPFS_KEY"))
print(b"VIPFS_KEY" in child, b"OTHER=still here" in own, libc.getenv(b"OTHER").decode())
print(resource.getrlimit(resource.RLIMIT_CORE))
"""


def test_the_key_leaves_the_environment_and_core_dumps_are_off() -> None:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "VIPFS_KEY": KEY}
    env |= {"EXPECTED": KEY, "OTHER": "still here", "PYTHONPATH": str(Path.cwd())}
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "True False None",  # read, gone from /proc/self/environ and from os.environ
        "False True still here",  # no child inherits it; the other variables are intact
        "(0, 0)",
    ]


def test_a_missing_variable_is_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VIPFS_NOT_SET", raising=False)
    assert hygiene.take_env("VIPFS_NOT_SET") == ""


def test_the_log_file_is_created_0600(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        handler = hygiene.private_log_handler(str(tmp_path / "mount.log"))
    finally:
        os.umask(old)
    handler.close()
    assert stat.S_IMODE((tmp_path / "mount.log").stat().st_mode) == 0o600
    existing = tmp_path / "mine.log"
    existing.write_text("kept\n")
    existing.chmod(0o640)  # a file the user made keeps the mode the user gave it
    hygiene.private_log_handler(str(existing)).close()
    assert stat.S_IMODE(existing.stat().st_mode) == 0o640
    assert existing.read_text() == "kept\n"


def test_a_host_message_cannot_forge_a_log_line(tmp_path: Path) -> None:
    protect(KEY)  # what the client does with the key: records redact it from then on
    path = tmp_path / "mount.log"
    handler = hygiene.private_log_handler(str(path))
    logger = logging.getLogger("vipfs.test_hygiene")
    logger.addHandler(handler)
    logger.propagate = False
    forged = "2099-01-01 00:00:00,000 WARNING vipfs.mount: forged"
    try:
        logger.warning("host said: %s", f"Wrong auth for key {KEY}\n{forged}\r\x1b[2J")
        try:
            raise ValueError(f"bad\n{forged}")
        except ValueError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
        handler.close()
    lines = path.read_text().splitlines()
    assert not any(line.startswith(forged) for line in lines)
    assert lines[0].endswith(f"host said: Wrong auth for key ***\\n{forged}\\r\\x1b[2J")
    assert KEY not in path.read_text()
    record_lines = [line for line in lines if not line.startswith("    ")]
    assert len(record_lines) == 2  # the traceback's lines all follow indented

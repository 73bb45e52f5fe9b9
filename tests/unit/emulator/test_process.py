"""`vipfs emulator` as a subprocess: URL on the first line, key path (never the key) on the
second, exit 0 on SIGTERM, and state that survives a restart with `--data`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from vipfs.emulator.keys import read_key_file


@contextmanager
def running(*args: str) -> Iterator[tuple[subprocess.Popen[str], list[str]]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "vipfs", "emulator", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline().strip()]
        if "--key-file" not in args:
            lines.append(proc.stdout.readline().strip())
        yield proc, lines
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


def stop(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=10)
    return proc.returncode, out, err


def test_prints_url_then_key_path_and_exits_cleanly() -> None:
    with running("--seed-demo", "--enable", "direct_link") as (proc, lines):
        url, key_path = lines
        assert url.startswith("http://127.0.0.1:") and url.endswith("/api")
        path = Path(key_path)
        assert path.stat().st_mode & 0o777 == 0o600
        key, _ = read_key_file(path)
        reply = httpx.get(f"{url}/file/list", params={"key": key}).json()
        assert reply["result"]["results_total"] == 25
        code, out, err = stop(proc)
    assert code == 0
    assert key not in out + err + "\n".join(lines)
    assert not path.exists()  # the temp data dir went with the process


def test_state_survives_restart(tmp_path: Path) -> None:
    data = tmp_path / "state"
    with running("--data", str(data)) as (proc, lines):
        url = lines[0]
        key, _ = read_key_file(Path(lines[1]))
        made = httpx.get(f"{url}/folder/create", params={"key": key, "name": "Kept"}).json()
        node = httpx.get(f"{url}/upload/server", params={"key": key}).json()["result"]
        up = httpx.post(node, data={"key": key}, files=[("file", ("k.mp4", b"kept" * 50))])
        code = up.json()["files"][0]["filecode"]
        assert stop(proc)[0] == 0
    with running("--data", str(data)) as (proc, lines):
        url = lines[0]
        assert read_key_file(Path(lines[1]))[0] == key  # the same account
        listing = httpx.get(f"{url}/folder/list", params={"key": key, "files": 1}).json()
        assert listing["result"]["folders"][0]["fld_id"] == made["result"]["fld_id"]
        assert [f["file_code"] for f in listing["result"]["files"]] == [code]
        assert stop(proc)[0] == 0
    assert os.path.exists(data / "emulator.sqlite3")


def test_key_files_make_accounts(tmp_path: Path) -> None:
    one, two = tmp_path / "one.key", tmp_path / "two.key"
    one.write_text("# comment\n\n45tzu7ub0wtftr6df\n")
    two.write_text("9abcdefghijklmnop\nlogin = second\n")
    with running("--key-file", str(one), "--key-file", str(two)) as (proc, lines):
        url = lines[0]
        first = httpx.get(f"{url}/account/info", params={"key": "45tzu7ub0wtftr6df"}).json()
        assert first["result"]["login"] == "user4"  # the key regex reads user id 4
        second = httpx.get(f"{url}/account/info", params={"key": "9abcdefghijklmnop"}).json()
        assert second["result"]["login"] == "second"
        assert stop(proc)[0] == 0


def test_bad_key_file_fails_without_echoing_it(tmp_path: Path) -> None:
    bad = tmp_path / "bad.key"
    bad.write_text("not-a-key-secret\n")
    out = subprocess.run(
        [sys.executable, "-m", "vipfs", "emulator", "--key-file", str(bad)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 2 and "not-a-key-secret" not in out.stdout + out.stderr


def test_cli_options_reach_the_config(tmp_path: Path) -> None:
    from vipfs.cli import build_parser
    from vipfs.emulator.cli import config_from_args

    args = build_parser().parse_args(
        [
            "emulator",
            "--enable",
            "direct_link,delete",
            "--disable",
            "clone",
            "--fault",
            "5xx:0.1",
            "reset:0.05",
            "--fault",
            "key-swap:1",
            "--rate-limit-per-min",
            "5",
            "--server-tz=-02:00",
            "--invalid-key-status",
            "403",
            "--keep-orig",
        ]
    )
    config = config_from_args(args)
    assert (config.direct_link, config.delete, config.clone) == (True, True, False)
    assert config.faults == {"5xx": 0.1, "reset": 0.05, "key-swap": 1.0}
    assert (config.rate_limit_per_min, config.invalid_key_status) == (5, 403)
    assert config.tz().utcoffset(None).total_seconds() == -7200 and config.keep_orig

"""`vipfs mount` refuses early, in one line, when it cannot possibly mount."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest


def mount(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vipfs", "mount", *args],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip


def test_missing_mountpoint(tmp_path: Path) -> None:
    key = tmp_path / "key"
    key.write_text("1abcdefghijklmnop\n")
    key.chmod(0o600)  # a looser key file earns a warning line before the error
    done = mount(str(tmp_path / "nope"), "--key-file", str(key), "-f")
    assert done.returncode == 1
    assert done.stderr == f"vipfs: {tmp_path / 'nope'} does not exist\n"


def test_no_key_anywhere(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    done = mount(str(tmp_path), "-f", env=env)
    assert done.returncode == 1
    assert done.stderr.startswith("vipfs: no API key: use --key-file")
    assert len(done.stderr.splitlines()) == 1


def test_key_is_never_an_argument() -> None:
    done = mount("--help")
    assert "--key-file" in done.stdout and "--key " not in done.stdout


def test_low_speed_options_refuse_nonsense_in_one_line(tmp_path: Path) -> None:
    for option, value, why in (
        ("--low-speed-limit", "-5", "must be 0 or more"),
        ("--low-speed-limit", "fast", "is not a whole number"),
        ("--low-speed-time", "0", "must be more than 0"),
    ):
        done = mount(str(tmp_path), option, value, "-f")
        assert done.returncode == 2, done.stderr
        assert why in done.stderr and "Traceback" not in done.stderr
    assert "--low-speed-limit BYTES" in mount("--help").stdout


def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    key = tmp_path / "key"
    key.write_text("1abcdefghijklmnop\n")
    key.chmod(0o644)
    done = mount(str(tmp_path), "--key-file", str(key), "-f")
    assert done.returncode == 2
    assert done.stderr == (
        f"vipfs: the key file {key} is readable by others (mode 0644); run chmod 600 {key}\n"
    )


def test_a_plain_http_api_on_another_machine_is_refused(tmp_path: Path) -> None:
    key = tmp_path / "key"
    key.write_text("1abcdefghijklmnop\n")
    key.chmod(0o600)
    done = mount(str(tmp_path), "--key-file", str(key), "--api-url", "http://xvs.example/api")
    assert done.returncode == 2
    assert done.stderr.startswith("vipfs: refusing to send the API key in clear to xvs.example")
    assert "use https://xvs.example/api" in done.stderr
    assert len(done.stderr.splitlines()) == 1


def test_a_cache_dir_others_can_write_is_refused_before_anything(tmp_path: Path) -> None:
    key = tmp_path / "key"
    key.write_text("1abcdefghijklmnop\n")
    key.chmod(0o600)
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "x.cache").write_text("the user's")
    shared.chmod(0o1777)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    # no server answers there: the refusal comes before any network call
    args = ("--key-file", str(key), "--api-url", "http://127.0.0.1:9/api", "-f")
    done = mount(str(mnt), *args, "--cache-dir", str(shared))
    assert done.returncode == 2
    assert done.stderr == (
        f"vipfs: refusing --cache-dir {shared}: writable by group or others "
        "(use a directory of your own, mode 0700)\n"
    )
    assert (shared.stat().st_mode & 0o7777) == 0o1777 and os.listdir(shared) == ["x.cache"]
    done = mount(str(mnt), *args, "--state-dir", str(key))
    assert done.returncode == 2
    assert done.stderr == f"vipfs: refusing --state-dir {key}: not a directory\n"
    done = mount(str(mnt), *args, "--state-dir", str(mnt / "state"))
    assert done.returncode == 2
    assert done.stderr == f"vipfs: refusing --state-dir {mnt / 'state'}: inside the mountpoint\n"


def test_a_non_empty_mountpoint_is_refused_unless_allowed(tmp_path: Path) -> None:
    """Mounting over entries hides them, which looks like lost files: refused in one line."""
    from vipfs.mount import StartupError, check_mountpoint

    check_mountpoint(tmp_path)  # empty: fine
    (tmp_path / ".hidden").write_text("the user's")
    with pytest.raises(StartupError, match=r"is not empty .*use --allow-non-empty"):
        check_mountpoint(tmp_path)
    check_mountpoint(tmp_path, allow_non_empty=True)
    key = tmp_path / "key"
    key.write_text("1abcdefghijklmnop\n")
    key.chmod(0o600)
    done = mount(str(tmp_path), "--key-file", str(key), "-f")
    assert done.returncode == 1
    assert done.stderr == (
        f"vipfs: {tmp_path} is not empty (a mount would hide its entries); "
        "use --allow-non-empty to mount over them\n"
    )
    assert sorted(os.listdir(tmp_path)) == [".hidden", "key"]


def test_a_background_mount_prints_its_warnings_before_detaching(tmp_path: Path) -> None:
    """Not only in the log file: the user who typed the command sees them."""
    conf = tmp_path / "config.toml"
    conf.write_text('[remotes.default]\nkey = "1abcdefghijklmnop"\n')
    conf.chmod(0o600)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    log = tmp_path / "mount.log"
    done = mount(
        "default", str(mnt), "--config", str(conf), "--log-file", str(log),
        "--api-url", "http://127.0.0.1:9/api", "--connect-timeout", "0.2",
    )  # fmt: skip
    warning = f"the key is written in {conf}; prefer key_file = a 0600 file"
    assert done.returncode == 1  # nothing answers there
    assert done.stderr.splitlines()[0] == f"vipfs: warning: {warning}"
    assert warning in log.read_text()


def test_the_child_relays_its_warnings_until_it_is_ready(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a background mount logs before detaching (a state move, say) is on the terminal."""
    from vipfs.mount import relay_startup, startup_reporter

    # no other test's stderr handler, and no logging.lastResort either: stderr is the relay's
    monkeypatch.setattr(logging.getLogger(), "handlers", [logging.NullHandler()])

    read_end, write_end = os.pipe()
    report = startup_reporter(os.fdopen(write_end, "w"))
    logging.getLogger("vipfs.statedir").warning("moved the queue from %s", "/old")
    logging.getLogger("vipfs.mount").error("an error: the verdict says it")
    report(True, "")
    report(False, "vipfs: told once")
    logging.getLogger("vipfs.mount").warning("after detaching: the log's alone")
    with os.fdopen(read_end) as pipe:
        assert relay_startup(pipe) == "ok\n"
    relayed = [line for line in capsys.readouterr().err.splitlines() if "queue" in line]
    assert relayed == ["vipfs: warning: moved the queue from /old"]
    read_end, write_end = os.pipe()
    os.close(write_end)  # the child died before a verdict
    with os.fdopen(read_end) as pipe:
        assert relay_startup(pipe) == ""

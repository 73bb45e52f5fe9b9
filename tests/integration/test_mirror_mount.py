"""`vipfs mount all MNT` for real: a mirror remote from the config over two emulators.

What the composition gives the commands: every member's own state (queue, spool, lock) under
its account's state directory and the mirror's own; `vipfs status` a block per member;
`vipfs links` every member's code; events naming their member; `vipfs umount` drains both.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.conftest import Emulator, sh, unmount, vipfs, wait_for

pytestmark = pytest.mark.fuse


def write_config(tmp_path: Path, vip: Emulator, wish: Emulator) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[remotes.vip]\napi_url = "{vip.url}"\nkey_file = "{vip.key_file}"\n'
        f'[remotes.wish]\napi_url = "{wish.url}"\nkey_file = "{wish.key_file}"\n'
        '[remotes.all]\nmirror = ["vip", "wish"]\nwrite_back = 0.5\nop_timeout = 5\n'
    )
    return path


def mount_all(tmp_path: Path, env: dict[str, str], *extra: str) -> subprocess.Popen[bytes]:
    """`vipfs mount all MNT -f`, once it is mounted (a hang guard of 30 s)."""
    mnt = tmp_path / "mnt"
    mnt.mkdir(exist_ok=True)
    with open(tmp_path / "mount.stderr", "w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "vipfs", "mount", "all", str(mnt), "-f", "-v",
             "--log-file", str(tmp_path / "mount.log"), *extra],
            stderr=stderr, env=env,
        )  # fmt: skip
    deadline = time.monotonic() + 30
    while not os.path.ismount(mnt):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError((tmp_path / "mount.stderr").read_text())
        time.sleep(0.05)
    return process


def test_a_member_down_at_mount_time_warns_and_the_other_serves(
    tmp_path: Path, start_emulator: Callable[..., Emulator]
) -> None:
    vip, wish = start_emulator(), start_emulator()
    env = {
        **os.environ,
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "VIPFS_CONFIG": str(write_config(tmp_path, vip, wish)),
    }
    mnt = tmp_path / "mnt"
    process = mount_all(tmp_path, env)  # both answer: each member's login is remembered
    try:
        unmount(mnt)
        process.wait(30)
        wish.switch(down=True)
        process = mount_all(tmp_path, env, "--connect-timeout", "1")
        log = (tmp_path / "mount.log").read_text()
        assert "mirror member wish: cannot reach 127.0.0.1:" in log
        assert sh("mkdir", mnt / "Show").returncode == 0  # vip does it, wish's waits
        wait_for("vip has the folder", lambda: "Show" in vip.folders())
        wish.switch(down=False)
        wait_for("wish caught up", lambda: "Show" in wish.folders(), timeout=90)
    finally:
        unmount(mnt)
        if process.poll() is None:
            process.wait(30)
    assert process.returncode == 0


def test_mount_all_composes_every_member_and_the_commands_show_each(
    tmp_path: Path, start_emulator: Callable[..., Emulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    vip, wish = start_emulator(), start_emulator()
    config = write_config(tmp_path, vip, wish)
    state = tmp_path / "state"
    env = {
        **os.environ,
        "XDG_STATE_HOME": str(state),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "VIPFS_CONFIG": str(config),
    }
    for name, value in env.items():  # the commands run below read the same config
        monkeypatch.setenv(name, value)
    checked = vipfs("config", "check", "all")
    assert checked.returncode == 0, checked.stdout
    assert "mirror 'all': members vip, wish" in checked.stdout
    mnt = tmp_path / "mnt"
    process = mount_all(tmp_path, env)
    try:
        log = (tmp_path / "mount.log").read_text()
        assert f"as vipfs:mirror-all from vip ({vip.url.split('/')[2]}), wish (" in log
        members = sh("getfattr", "--only-values", "-n", "user.vipfs.members", mnt).stdout
        assert members == "vip,wish"
        source = tmp_path / "clip.mp4"
        source.write_bytes(os.urandom(50_000))
        assert sh("cp", source, mnt / "clip.mp4").returncode == 0

        def codes() -> list[str]:
            found = [f["code"] for e in (vip, wish) for f in e.live_files()]
            return found if len(found) == 2 else []

        vip_code, wish_code = wait_for("each host holds the clip once", codes)
        status = vipfs("status", mnt)
        assert status.returncode == 0, status.stderr
        lines = status.stdout.splitlines()
        assert "(mirror of 2: vip, wish)" in lines[0] and lines[1] == "mirror all: vip, wish"
        assert any(x.startswith("member vip: ") for x in lines)
        assert any(x.startswith("member wish: ") for x in lines)

        def linked() -> list[dict[str, object]]:
            out = vipfs("links", mnt, "-r", "--format", "json")
            rows = json.loads(out.stdout) if out.returncode == 0 else []
            return rows if all(row["code"] for row in rows) else []

        rows = wait_for("both members' codes in vipfs links", linked)
        assert [(r["path"], r["member"], r["code"]) for r in rows] == [
            ("clip.mp4", "vip", vip_code),
            ("clip.mp4", "wish", wish_code),
        ]
        events = [json.loads(x) for x in (mnt / ".vipfs" / "events.jsonl").read_text().splitlines()]
        uploaded = {(e["member"], e["code"]) for e in events if e["event"] == "uploaded"}
        assert uploaded == {("vip", vip_code), ("wish", wish_code)}

        done = vipfs("umount", mnt)
        assert done.returncode == 0, done.stderr
        process.wait(30)
        assert process.returncode == 0
    finally:
        unmount(mnt)
        if process.poll() is None:
            process.kill()
            process.wait()
    homes = {p.name for p in (state / "vipfs").iterdir() if (p / "lock").exists()}
    assert "mirror-all" in homes and len(homes) == 3  # the mirror's and one per account
    assert len(vip.live_files()) == len(wish.live_files()) == 1  # once each, never again

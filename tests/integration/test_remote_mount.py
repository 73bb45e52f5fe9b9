"""`vipfs mount myremote MNT` with everything else from the config file."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.conftest import Emulator, unmount

pytestmark = pytest.mark.fuse


def test_named_remote_from_config(tmp_path: Path, emulator: Emulator) -> None:
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    config = tmp_path / "xdg" / "vipfs" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(
        f"""
[remotes.myremote]
api_url = "{emulator.url}"
key_file = "{emulator.key_file}"
cache_dir = "{tmp_path / "cache"}"
log_file = "{tmp_path / "mount.log"}"
verbose = 1
"""
    )
    env = dict(os.environ, HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "xdg"))
    env.pop("VIPFS_KEY", None)
    env.pop("VIPFS_CONFIG", None)
    done = subprocess.run(
        [sys.executable, "-m", "vipfs", "mount", "myremote", str(mnt)],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    try:
        assert done.returncode == 0, done.stderr
        assert os.path.ismount(mnt)  # the background mount returned once it answered
        assert (mnt / ".vipfs").is_dir()  # reachable by name, not listed
        log = (tmp_path / "mount.log").read_text()
        assert f"from {emulator.url.split('/')[2]}" in log  # the remote's api_url was used
    finally:
        unmount(mnt)
    for _ in range(300):  # the daemon ends once unmounted
        if subprocess.run(["pgrep", "-f", f"vipfs mount myremote {mnt}$"]).returncode:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("the mount process did not exit after the unmount")

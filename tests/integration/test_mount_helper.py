"""mount(8) and umount(8) drive vipfs, as an fstab line or `mount -t fuse.vipfs` would.

mount(8) looks for helpers only in /sbin and runs them with PATH cleared, so each case runs in a
private mount namespace (`unshare -m`) where the helper is made visible without touching the
real system: a bind mount puts `vipfs` in /usr/local/bin (for fuse3's mount.fuse3 route), or an
overlay adds `mount.fuse.vipfs` to /usr/sbin (the direct route). The mount is visible only in
that namespace, so the script also lists it, unmounts it and waits for the process to end.
mount(8) also resets HOME, so the process is found by its command line, not its pid file.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.conftest import Emulator

pytestmark = pytest.mark.fuse

BIN = Path(sys.executable).parent

SCRIPT = r"""
set -eu
{expose}
{mount}
grep -q " $MNT fuse.vipfs " /proc/mounts
ls -a "$MNT/.vipfs" > "$OUT/ls.txt"
head -c 65536 /dev/urandom > "$MNT/fstab clip.mp4"
for _ in $(seq 300); do  # the queue drains while mounted (write_back=0)
  state=$(getfattr --only-values -n user.vipfs.status "$MNT/fstab clip.mp4" 2>/dev/null || true)
  case "$state" in ready|encoding*) break ;; esac  # "encoding 40%" once the host says
  sleep 0.1
done
echo "$state" > "$OUT/status"
pid=$(pgrep -f -- "vipfs mount default $MNT ")  # mount(8) resets HOME: no pid file of ours
echo "$pid" > "$OUT/pid"
umount "$MNT"
for _ in $(seq 300); do
  if [ ! -e /proc/$pid ] || grep -q '^[^)]*) Z' /proc/$pid/stat; then
    echo exited > "$OUT/done"; exit 0
  fi
  sleep 0.1
done
echo "process $pid still running after umount" >&2; exit 1
"""

VIA_MOUNT_FUSE3 = 'mount --bind "$OUT/bin" /usr/local/bin'
VIA_SBIN = 'mount -t overlay overlay -o lowerdir="$OUT/sbin":/usr/sbin /usr/sbin'


def options(emulator: Emulator, tmp: Path) -> str:
    return (
        f"_netdev,nofail,x-systemd.automount,key_file={emulator.key_file},"
        f"api_url={emulator.url},cache_dir={tmp / 'cache'},log_file={tmp / 'mount.log'},"
        "dir_cache_time=60,write_back=0,verbose"
    )


CASES = {
    "mount -t fuse.vipfs via mount.fuse3": (
        VIA_MOUNT_FUSE3,
        'mount -t fuse.vipfs default "$MNT" -o "$OPTS"',
    ),
    "fstab line via mount.fuse3": (VIA_MOUNT_FUSE3, 'mount --fstab "$OUT/fstab" "$MNT"'),
    "mount -t fuse.vipfs via /sbin/mount.fuse.vipfs": (
        VIA_SBIN,
        'mount -t fuse.vipfs "vipfs#default" "$MNT" -o "$OPTS"',
    ),
}


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs util-linux unshare")
@pytest.mark.parametrize("case", CASES)
def test_mount_and_umount_through_mount8(case: str, tmp_path: Path, emulator: Emulator) -> None:
    expose, mount = CASES[case]
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "vipfs").symlink_to(BIN / "vipfs")
    (tmp_path / "sbin").mkdir()
    (tmp_path / "sbin" / "mount.fuse.vipfs").symlink_to(BIN / "mount.vipfs")
    opts = options(emulator, tmp_path)
    (tmp_path / "fstab").write_text(f"vipfs#default {mnt} fuse.vipfs {opts} 0 0\n")
    env = dict(os.environ, MNT=str(mnt), OUT=str(tmp_path), OPTS=opts)
    script = SCRIPT.format(expose=expose, mount=mount)
    # files, not pipes: a daemon that keeps an inherited descriptor would hold a pipe open
    with open(tmp_path / "script.out", "w") as out:
        done = subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
            env=env, stdout=out, stderr=subprocess.STDOUT, timeout=120,
        )  # fmt: skip
    log = (tmp_path / "mount.log").read_text() if (tmp_path / "mount.log").exists() else ""
    try:
        output = (tmp_path / "script.out").read_text()
        assert done.returncode == 0, f"{output}\n{log}"
        assert (tmp_path / "done").read_text().strip() == "exited"
        assert "status.json" in (tmp_path / "ls.txt").read_text()
        state = (tmp_path / "status").read_text().strip()
        assert state == "ready" or state.startswith("encoding"), state
        assert [f["title"] for f in emulator.live_files()].count("fstab clip") == 1
        assert "mounted" in log and emulator.key_file.read_text().strip() not in log
    finally:
        pid_file = tmp_path / "pid"
        pid = pid_file.read_text().strip() if pid_file.exists() else ""
        if pid.isdigit() and Path(f"/proc/{pid}").exists():
            os.kill(int(pid), signal.SIGKILL)  # its namespace, and the mount, die with it

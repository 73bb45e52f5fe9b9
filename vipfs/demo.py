"""`vipfs demo`: an emulated account with sample content, mounted in the foreground.

Owns: the `vipfs demo` command: the emulator subprocess, the mount, Ctrl-C and the cleanup.
Imports: the standard library only (it runs `vipfs emulator` and `vipfs mount` as subprocesses).

Starts `vipfs emulator` as a subprocess (its first stdout line is its URL), mounts it with a
throw-away key, prints what to try, and on Ctrl-C unmounts, stops the emulator and removes the
mount point if it created it.

Both children run in process groups of their own: a terminal's Ctrl-C reaches the whole
foreground group, so otherwise the mount saw it twice (the terminal's, then the one the demo
forwards: "again, unmounting without waiting") and the emulator died before the queue drained.
Now only the demo sees it, and forwards each Ctrl-C to the mount once: the first drains the
queue, a second unmounts at once. The emulator stops only after the mount has gone.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shutil
import signal
import string
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

TRY = """\
vipfs demo: an emulated account is mounted at {mnt}
Try, in another terminal:
  ls -l {mnt}
  find {mnt} | head
  getfattr -d {mnt}/*/* | head -20
  df -h {mnt}
  cat {mnt}/.vipfs/account.json
  md5sum {mnt}/Movies/*   # reads through file/direct_link
  ffprobe -hide_banner {mnt}/Movies/Sintel.mp4   # (ffmpeg) each sample is a real 1 s clip
  cp {mnt}/Movies/Sintel.mp4 {mnt}/Clips/clip.mp4   # uploads 5 s after close; then:
  getfattr -n user.vipfs.status {mnt}/Clips/clip.mp4   # uploading 37% …, encoding, ready
  rsync -a ~/Videos/ {mnt}/Synced/   # then: {vipfs} status {mnt}
  {vipfs} status --watch {mnt}   # live progress bars while uploads run
  {vipfs} events {mnt} --follow   # queued, uploaded, ready, dmca … as JSON lines
  {vipfs} links -r --format md {mnt}/Clips   # watch and embed links to post
Press Ctrl-C here to unmount (after the upload queue drains) and stop; twice to stop at once.
"""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "mountpoint", nargs="?", default="vipfs-demo", help="where to mount (default ./vipfs-demo)"
    )
    parser.add_argument(
        "--data",
        metavar="DIR",
        help="keep the emulated account, its key and the mount's queue in DIR across runs "
        "(default: a temporary directory removed at exit)",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="-v info, -vv debug")


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run(args: argparse.Namespace) -> int:
    # `kill` and a closed terminal clean up as Ctrl-C does: the children, in process groups of
    # their own, see neither signal, so without this they would outlive the demo.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)
    mnt = Path(args.mountpoint).absolute()
    created = not mnt.exists()
    mnt.mkdir(parents=True, exist_ok=True)
    with data_dir(args.data) as data:
        key_file = data / "key"
        if not key_file.exists():
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(demo_key() + "\n")
        emulator = start_emulator(key_file, data / "host")
        try:
            url = emulator.stdout.readline().strip() if emulator.stdout else ""
            if not url:
                print("vipfs: the emulator did not start", file=sys.stderr)
                return 1
            drain(emulator)
            return mount_until_interrupted(args, mnt, url, key_file, data)
        finally:
            emulator.terminate()
            try:
                emulator.wait(10)
            except subprocess.TimeoutExpired:
                emulator.kill()
                emulator.wait()
            if created and mnt.is_dir() and not os.path.ismount(mnt):
                with contextlib.suppress(OSError):
                    mnt.rmdir()


@contextlib.contextmanager
def data_dir(given: str | None) -> Iterator[Path]:
    """`--data DIR` (created 0700, kept), else a temporary directory removed at exit."""
    if given is None:
        with tempfile.TemporaryDirectory(prefix="vipfs-demo-") as tmp:
            yield Path(tmp)
        return
    path = Path(given).expanduser().absolute()
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    yield path


def command_hint() -> str:
    """How to call `vipfs` from another terminal: plain `vipfs` when that is on PATH and is
    this installation, else the full path of this installation's script."""
    ours = Path(sys.executable).parent / "vipfs"
    found = shutil.which("vipfs")
    if not ours.exists():
        return "vipfs"
    if found is not None and Path(found).resolve() == ours.resolve():
        return "vipfs"
    return str(ours.absolute())


def demo_key() -> str:
    """A key of the XVS shape: account id digits, then 16 word characters (a letter first)."""
    alphabet = string.ascii_lowercase + string.digits
    return (
        "1"
        + secrets.choice(string.ascii_lowercase)
        + "".join(secrets.choice(alphabet) for _ in range(15))
    )


def start_emulator(key_file: Path, host_dir: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "vipfs",
            "emulator",
            "--port",
            "0",
            "--seed-demo",
            "--enable",
            "direct_link",
            "--key-file",
            str(key_file),
            "--data",
            str(host_dir),
        ],
        stdout=subprocess.PIPE,
        text=True,
        process_group=0,  # the terminal's Ctrl-C is the demo's alone (module docstring)
    )


def drain(process: subprocess.Popen[str]) -> None:
    """Keep reading the emulator's stdout so a chatty emulator never blocks on a full pipe."""
    stream = process.stdout
    if stream is not None:
        threading.Thread(target=stream.read, daemon=True).start()


def mount_until_interrupted(
    args: argparse.Namespace, mnt: Path, url: str, key_file: Path, data: Path
) -> int:
    command = [
        sys.executable,
        "-m",
        "vipfs",
        "mount",
        str(mnt),
        "--api-url",
        url,
        "--key-file",
        str(key_file),
        "-f",
        "--cache-dir",
        str(data / "cache"),
        "--state-dir",
        str(data / "state"),  # the demo's queue goes with its data directory
        "--embed-url",  # the emulator's player page form, as a real remote's config states it
        url.removesuffix("/api") + "/e/{code}",
    ]
    command += ["-v"] * args.verbose
    mount = subprocess.Popen(command, process_group=0)
    try:
        while not os.path.ismount(mnt):
            if mount.poll() is not None:
                return mount.returncode or 1
            time.sleep(0.1)
        print(TRY.format(mnt=mnt, vipfs=command_hint()), flush=True)
    except KeyboardInterrupt:
        mount.send_signal(signal.SIGINT)
    return wait_forwarding(mount)


def wait_forwarding(mount: subprocess.Popen[bytes]) -> int:
    """Wait for the mount, handing it each Ctrl-C: the first drains its queue, then unmounts;
    a second unmounts at once. The mount's own --unmount-timeout bounds the wait."""
    while True:
        try:
            return mount.wait()
        except KeyboardInterrupt:
            if mount.poll() is None:
                mount.send_signal(signal.SIGINT)

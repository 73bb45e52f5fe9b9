"""`vipfs mount` against the emulator, checked with the real tools a user would reach for."""

from __future__ import annotations

import base64
import errno
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.conftest import KEY, Emulator, Mount, mount_command, sh, unmount, write_key
from vipfs.vfs.names import fit

pytestmark = pytest.mark.fuse

StartMount = Callable[..., Mount]


def xattr(path: Path, name: str) -> str:
    return sh("getfattr", "--only-values", "-n", f"user.vipfs.{name}", path).stdout


def find(root: Path) -> set[str]:
    out = sh("find", root, "-mindepth", "1", "-printf", r"%y %P\n")
    assert out.returncode == 0, out.stderr
    return set(out.stdout.splitlines())


def test_nested_tree_is_exactly_the_account(emulator: Emulator, start_mount: StartMount) -> None:
    emulator.seed({
        "folders": [
            {"ref": "a", "name": "Alpha"},
            {"ref": "b", "name": "Beta", "parent_ref": "a"},
            {"ref": "c", "name": "Gamma", "parent_ref": "b"},
            {"ref": "e", "name": "Empty"},
        ],
        "files": [
            {"title": "top", "uploaded": "2024-05-01 10:00:00"},
            {"title": "in alpha", "folder_ref": "a"},
            {"title": "in beta", "folder_ref": "b"},
            {"title": "deep one", "folder_ref": "c"},
            {"title": "deep two", "folder_ref": "c"},
        ],
    })  # fmt: skip
    mount = start_mount(emulator)
    tree = find(mount.path)
    assert tree - {t for t in tree if t.startswith("d .vipfs") or t.startswith("f .vipfs/")} == {
        "d Alpha", "d Alpha/Beta", "d Alpha/Beta/Gamma", "d Empty",
        "f top.mp4", "f Alpha/in alpha.mp4", "f Alpha/Beta/in beta.mp4",
        "f Alpha/Beta/Gamma/deep one.mp4", "f Alpha/Beta/Gamma/deep two.mp4",
    }  # fmt: skip
    codes = {f["title"]: f["code"] for f in emulator.files()}
    assert xattr(mount.path / "Alpha/Beta/in beta.mp4", "code") == codes["in beta"]
    # mtime: the server's local time (+03:00 by default) converted to the epoch
    stat = sh("stat", "-c", "%Y %s %h %a", mount.path / "top.mp4")
    assert stat.stdout.split() == [str(1714546800), "0", "1", "644"]
    assert sh("stat", "-c", "%h %a", mount.path / "Alpha").stdout.split() == ["2", "755"]


HOSTILE = [
    "a/b",
    "..",
    ".",
    'it\'s "quoted"',
    "Movie &#40;2021&#41;",
    "x" * 300,
    "🎬 émoji ✓",
    "line\nbreak",
    "Same",
    "Same",
    "Same",
]


def test_hostile_titles_are_distinct_and_stable(
    emulator: Emulator, start_mount: StartMount
) -> None:
    emulator.seed({
        "files": [
            {"title": t, "uploaded": f"2024-01-01 00:00:{i:02d}", "folder_ref": "h"}
            for i, t in enumerate(HOSTILE)
        ],
        "folders": [{"ref": "h", "name": "hostile"}, {"name": "Same", "parent_ref": "h"}],
    })  # fmt: skip
    mount = start_mount(emulator)
    folder = mount.path / "hostile"
    first = sorted(os.listdir(folder))
    assert len(first) == len(HOSTILE) + 1 == len(set(first))
    assert {"a／b.mp4", "...mp4", "..mp4", "it's \"quoted\".mp4", "Movie (2021).mp4",
            "🎬 émoji ✓.mp4", "line␊break.mp4", "Same", "Same.mp4"} <= set(first)  # fmt: skip
    assert fit("x" * 300, ".mp4") in first and all(len(n.encode()) <= 255 for n in first)
    same = [f["code"] for f in emulator.files() if f["title"] == "Same"]
    assert len([n for n in first if n.startswith("Same [")]) == 2  # the oldest keeps the name
    assert {f"Same [{code}].mp4" for code in same} & set(first)
    assert os.path.isdir(folder / "Same")
    codes = {xattr(folder / n, "code") for n in first if n != "Same"}
    assert len(codes) == len(HOSTILE)  # every name leads to a different file
    mount.process.send_signal(signal.SIGHUP)  # forget the listings: names must not move
    time.sleep(0.5)
    assert sorted(os.listdir(folder)) == first
    unmount(mount.path)
    mount.process.wait(20)
    again = start_mount(emulator)
    assert sorted(os.listdir(again.path / "hostile")) == first


def test_big_folder_is_one_call_cold_and_none_warm(
    emulator: Emulator, start_mount: StartMount
) -> None:
    emulator.seed({
        "folders": [{"ref": "big", "name": "big"}],
        "files": [{"title": f"clip {i:05d}", "folder_ref": "big"} for i in range(10_000)],
    })  # fmt: skip
    mount = start_mount(emulator)
    emulator.reset_calls()  # the mount is up, its root listed before it showed
    cold = sh("ls", "-l", mount.path / "big")  # right after the mount came up: no probes
    assert cold.returncode == 0 and len(cold.stdout.splitlines()) == 10_001  # + "total"
    assert emulator.calls() == {"folder/list": 1}
    warm = sh("ls", "-l", mount.path / "big")
    assert warm.stdout == cold.stdout
    assert emulator.calls() == {"folder/list": 1}


def test_xattrs_of_a_folder_take_few_info_calls(
    emulator: Emulator, start_mount: StartMount
) -> None:
    emulator.seed({
        "folders": [{"ref": "f", "name": "two hundred"}],
        "files": [
            {"title": f"v{i:03d}", "folder_ref": "f", "views": i, "length": 60 + i,
             "canplay": int(i % 10 != 0)}
            for i in range(200)
        ],
    })  # fmt: skip
    mount = start_mount(emulator)
    folder = mount.path / "two hundred"
    names = sorted(os.listdir(folder))
    emulator.reset_calls()
    for name in names:
        out = sh("getfattr", "-d", folder / name)
        i = int(name[1:].removesuffix(".mp4"))
        assert f'user.vipfs.views="{i}"' in out.stdout
        assert f'user.vipfs.length="{60 + i}"' in out.stdout
        status = "encoding" if i % 10 == 0 else "ready"
        assert f'user.vipfs.status="{status}"' in out.stdout
    assert emulator.calls().get("file/info", 0) <= 5
    acl = sh("getfattr", "-n", "system.posix_acl_access", folder / names[0])
    assert "Operation not supported" in acl.stderr


def test_df_and_account_json(emulator: Emulator, start_mount: StartMount) -> None:
    mount = start_mount(emulator, "-v")  # -vv: even debug logging must not show the key
    account = json.loads(sh("cat", mount.path / ".vipfs" / "account.json").stdout)
    assert account["login"] and KEY not in json.dumps(account)
    df = sh("df", "-B4096", "--output=avail,source", mount.path).stdout.splitlines()[1].split()
    assert int(df[0]) == account["storage_left"] // 4096
    assert df[1] == f"vipfs:{account['login']}"
    for name in ("stats.json", "encodings.json", "deleted.json", "dmca.json"):
        out = sh("cat", mount.path / ".vipfs" / name)
        assert out.returncode == 0 and json.loads(out.stdout) is not None
    assert KEY not in mount.log()


def test_reading_through_direct_link(emulator: Emulator, start_mount: StartMount) -> None:
    data = os.urandom(300_000)
    emulator.seed({"files": [{"title": "payload", "content_b64": base64.b64encode(data).decode()}]})
    mount = start_mount(emulator, "--attr-timeout", "60")  # the size shows at once all the same
    local = mount.path.parent / "payload.bin"
    local.write_bytes(data)
    assert sh("cmp", mount.path / "payload.mp4", local).returncode == 0
    assert sh("stat", "-c", "%s", mount.path / "payload.mp4").stdout.strip() == str(len(data))


def test_reading_without_direct_link_fails_at_once(
    start_emulator: Callable[..., Emulator], start_mount: StartMount
) -> None:
    emu = start_emulator()  # vipstream's default: no direct_link
    emu.seed({"files": [{"title": "payload", "size": 1000}]})
    mount = start_mount(emu)
    out = sh("cat", mount.path / "payload.mp4", timeout=30)
    assert out.returncode != 0 and os.strerror(errno.EACCES) in out.stderr
    assert "direct_link" in mount.log()


@pytest.mark.parametrize("fault", [{"down": True}, {"ratelimit": 1.0}])
def test_outage_serves_cache_fails_bounded_and_heals(
    emulator: Emulator, start_mount: StartMount, fault: dict[str, object]
) -> None:
    emulator.seed({
        "folders": [{"ref": "w", "name": "warm"}, {"ref": "c", "name": "cold"}],
        "files": [{"title": "w1", "folder_ref": "w"}, {"title": "c1", "folder_ref": "c"}],
    })  # fmt: skip
    mount = start_mount(emulator, "--op-timeout", "3", "--dir-cache-time", "1")
    assert sh("ls", mount.path / "warm").stdout.split() == ["w1.mp4"]
    time.sleep(1.5)  # both listings expire: the cached one must still answer
    emulator.switch(**fault)
    assert sh("ls", mount.path / "warm", timeout=30).stdout.split() == ["w1.mp4"]
    cold = sh("ls", mount.path / "cold", timeout=30)
    assert cold.returncode != 0 and "Input/output error" in cold.stderr
    emulator.switch(down=False, ratelimit=0.0)
    if "ratelimit" in fault:
        return  # the client rightly waits for the server's next minute: too slow for a test
    healed = sh("ls", mount.path / "cold", timeout=30)
    assert healed.stdout.split() == ["c1.mp4"]


def test_bad_key_exits_with_one_line(emulator: Emulator, tmp_path: Path) -> None:
    emulator.key_file = write_key(tmp_path / "wrong", "2zyxwvutsrqponmlk")
    mnt = tmp_path / "bad"
    mnt.mkdir()
    for mode in ([], ["-f"]):
        done = subprocess.run(
            mount_command(emulator, mnt, tmp_path, *mode), capture_output=True, text=True,
            timeout=60,
        )  # fmt: skip
        assert done.returncode == 1
        lines = done.stderr.strip().splitlines()
        assert lines == [f"vipfs: the API key was refused by {emulator.base[7:]}: Wrong auth"]
        assert not os.path.ismount(mnt)


def test_unreachable_server_gives_up(tmp_path: Path) -> None:
    dead = Emulator(None, "http://127.0.0.1:9/api", write_key(tmp_path / "k"))  # type: ignore[arg-type]
    mnt = tmp_path / "m"
    mnt.mkdir()
    command = mount_command(dead, mnt, tmp_path, "--connect-timeout", "2")
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and done.stderr.startswith("vipfs: cannot reach 127.0.0.1:9")
    assert len(done.stderr.strip().splitlines()) == 1 and not os.path.ismount(mnt)


def test_background_mount_and_umount(emulator: Emulator, tmp_path: Path) -> None:
    mnt = tmp_path / "bg"
    mnt.mkdir()
    try:
        done = subprocess.run(mount_command(emulator, mnt, tmp_path), timeout=60)
        assert done.returncode == 0
        assert os.path.ismount(mnt)  # the parent returned only once the mount answered
        assert (mnt / ".vipfs").is_dir()  # reachable by name, not listed
        umount = subprocess.run(
            [sys.executable, "-m", "vipfs", "umount", str(mnt), "--timeout", "30"], timeout=60
        )
        assert umount.returncode == 0 and not os.path.ismount(mnt)
    finally:
        unmount(mnt)


@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT", "fusermount3"])
def test_unmounts_cleanly(emulator: Emulator, start_mount: StartMount, how: str) -> None:
    mount = start_mount(emulator)
    assert sh("ls", mount.path).returncode == 0
    if how == "fusermount3":
        assert sh("fusermount3", "-u", mount.path).returncode == 0
    else:
        mount.process.send_signal(getattr(signal, how))
    assert mount.process.wait(30) == 0
    assert not os.path.ismount(mount.path)
    assert "Traceback" not in mount.log()

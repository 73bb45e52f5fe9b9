"""`--deny-read-procs`: names as /proc shows them, threads judged by their process, the facade."""

from __future__ import annotations

import argparse
import errno
import os
import shutil
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pyfuse3
import pytest

from tests.unit.vfs.fake_api import FakeApi
from vipfs import config, mount
from vipfs.fuse_ops import Operations
from vipfs.mount_helper import translate
from vipfs.vfs.errors import VfsError
from vipfs.vfs.filesystem import Filesystem, Options
from vipfs.vfs.inodes import ROOT_INO
from vipfs.vfs.readpolicy import DEFAULT_DENIED, ReadPolicy, comm_name, parse_names


def test_default_names_fit_in_comm() -> None:
    assert all(len(n.encode()) <= 15 and comm_name(n) == n for n in DEFAULT_DENIED)
    assert {"tumblerd", "totem-video-thu", "ffmpegthumbnail", "baloo_file_extr"} <= set(
        DEFAULT_DENIED
    )


def test_parse_names() -> None:
    assert parse_names(None) == frozenset(DEFAULT_DENIED)
    assert parse_names("default") == frozenset(DEFAULT_DENIED)
    assert parse_names(" foo , bar,,") == {"foo", "bar"}
    assert parse_names("default,myindexer") == set(DEFAULT_DENIED) | {"myindexer"}
    # the kernel keeps 15 bytes of the executable's name, so a full name must still match
    assert parse_names("ffmpegthumbnailer,totem-video-thumbnailer") == {
        "ffmpegthumbnail",
        "totem-video-thu",
    }
    with pytest.raises(ValueError, match="path"):
        parse_names("/usr/bin/tumblerd")
    with pytest.raises(ValueError, match="empty"):
        parse_names(" , ")


def test_comm_name_never_splits_a_character() -> None:
    assert comm_name("ééééééééé") == "ééééééé"  # 14 bytes: the 8th é would need bytes 15-16
    assert comm_name("short") == "short"


def fake_proc(root: Path, pid: int, comm: str, tgid: int) -> None:
    folder = root / str(pid)
    folder.mkdir(parents=True)
    (folder / "comm").write_text(comm + "\n")
    (folder / "status").write_text(f"Name:\t{comm}\nUmask:\t0022\nTgid:\t{tgid}\nPid:\t{pid}\n")


def test_a_worker_thread_is_judged_by_its_process(tmp_path: Path) -> None:
    fake_proc(tmp_path, 100, "tumblerd", 100)
    fake_proc(tmp_path, 101, "pool-0", 100)  # a GLib worker thread of tumblerd
    fake_proc(tmp_path, 200, "cat", 200)
    policy = ReadPolicy(["tumblerd"], proc=tmp_path)
    assert policy.names(101) == ["pool-0", "tumblerd"]
    for pid in (100, 101):
        with pytest.raises(VfsError) as err:
            policy.check(pid)
        assert err.value.errno == errno.EACCES
        assert "'tumblerd'" in err.value.why and "--deny-read-procs" in err.value.why
    policy.check(200)
    policy.check(999)  # exited before we looked: nothing to judge
    policy.check(0)  # the kernel did not say who asked


def test_an_empty_policy_allows_everyone_without_looking(tmp_path: Path) -> None:
    policy = ReadPolicy((), proc=tmp_path / "absent")
    assert not policy
    policy.check(os.getpid())


def run_as(executable: Path, *argv0: str) -> subprocess.Popen[bytes]:
    args = [*argv0, "30"] if argv0 else [str(executable), "30"]
    return subprocess.Popen(args, executable=executable)


def wait_for_exec(process: subprocess.Popen[bytes], name: str) -> None:
    comm = Path(f"/proc/{process.pid}/comm")
    for _ in range(500):  # until the child has exec'd (comm changes at exec)
        if comm.read_text().strip() == name:
            return
        time.sleep(0.01)
    raise AssertionError(f"comm of {process.pid} never became {name!r}")


def test_real_proc_comm_is_the_executable_name_not_argv0(tmp_path: Path) -> None:
    sleep = shutil.which("sleep")
    assert sleep is not None
    renamed = tmp_path / "tumblerd"
    shutil.copy(sleep, renamed)
    policy = ReadPolicy(["tumblerd"])
    disguised = run_as(Path(sleep), "tumblerd")  # like `exec -a tumblerd sleep`
    real = run_as(renamed)
    try:
        wait_for_exec(disguised, "sleep")
        wait_for_exec(real, "tumblerd")
        policy.check(disguised.pid)  # argv[0] says tumblerd, comm says sleep
        with pytest.raises(VfsError):
            policy.check(real.pid)
    finally:
        for process in (disguised, real):
            process.kill()
            process.wait()


class OpenReader:
    """A read cache that hands out handles and counts opens (what a denied open must not reach)."""

    def __init__(self) -> None:
        self.opens = 0

    async def open(self, code: str) -> int:
        self.opens += 1
        return self.opens

    async def read(self, handle: int, offset: int, size: int) -> bytes:
        return b""

    async def release(self, handle: int) -> None:
        pass

    def known_size(self, code: str) -> int | None:
        return None


def make(denied: frozenset[str], reader: OpenReader) -> Filesystem:
    api = FakeApi()
    api.add_file("movie")
    return Filesystem(api, options=Options(deny_read_procs=denied), reader=reader)


async def test_facade_refuses_listed_callers_before_any_download(tmp_path: Path) -> None:
    fake_proc(tmp_path, 300, "tumblerd", 300)
    fake_proc(tmp_path, 400, "mpv", 400)
    reader = OpenReader()
    fs = make(frozenset({"tumblerd"}), reader)
    fs.read_policy.proc = tmp_path
    movie = await fs.lookup(ROOT_INO, "movie.mp4")
    with pytest.raises(VfsError) as err:
        await fs.open(movie.ino, os.O_RDONLY, 300)
    assert err.value.errno == errno.EACCES and reader.opens == 0
    opened = await fs.open(movie.ino, os.O_RDONLY, 400)
    assert reader.opens == 1
    await fs.release(opened.fh)
    # /.vipfs files cost no download: even a listed caller reads them
    vdir = await fs.lookup(ROOT_INO, ".vipfs")
    account = await fs.lookup(vdir.ino, "account.json")
    opened = await fs.open(account.ino, os.O_RDONLY, 300)
    await fs.release(opened.fh)


async def test_without_the_option_nobody_is_refused() -> None:
    reader = OpenReader()
    fs = make(frozenset(), reader)
    movie = await fs.lookup(ROOT_INO, "movie.mp4")
    await fs.open(movie.ino, os.O_RDONLY, os.getpid())
    assert reader.opens == 1


async def test_fuse_open_passes_the_callers_pid(tmp_path: Path) -> None:
    fake_proc(tmp_path, 500, "tracker-extract", 500)
    fs = make(frozenset(DEFAULT_DENIED), OpenReader())
    fs.read_policy.proc = tmp_path
    ops = Operations(fs)
    movie = await fs.lookup(ROOT_INO, "movie.mp4")
    ctx: Any = SimpleNamespace(pid=500, uid=0, gid=0, umask=0o022)
    with pytest.raises(pyfuse3.FUSEError) as err:
        await ops.open(movie.ino, os.O_RDONLY, ctx)
    assert err.value.errno == errno.EACCES


def parse(*argv: str, **settings: object) -> argparse.Namespace:
    """`vipfs mount ARGV` as parsed, with `settings` as a config file's remote would give them."""
    parser = argparse.ArgumentParser()
    mount.configure(parser)
    args = parser.parse_args(argv)
    config.apply(args, config.Remote("default", settings))
    return args


def test_mount_option_forms(capsys: pytest.CaptureFixture[str]) -> None:
    assert parse("/mnt").deny_read_procs == frozenset()
    assert parse("/mnt", "--deny-read-procs").deny_read_procs == frozenset(DEFAULT_DENIED)
    extended = parse("--deny-read-procs=default,mpv", "/mnt").deny_read_procs
    assert extended == set(DEFAULT_DENIED) | {"mpv"}
    with pytest.raises(SystemExit):
        parse("/mnt", "--deny-read-procs=/usr/bin/mpv")
    assert "is a path" in capsys.readouterr().err


def test_config_file_forms() -> None:
    assert parse("/mnt", deny_read_procs=True).deny_read_procs == frozenset(DEFAULT_DENIED)
    assert parse("/mnt", deny_read_procs=False).deny_read_procs == frozenset()
    assert parse("/mnt", deny_read_procs="tumblerd, mpv").deny_read_procs == {"tumblerd", "mpv"}
    assert parse("/mnt", subtype="sshfs").subtype == "sshfs"
    # the command line beats the file
    assert parse("/mnt", "--deny-read-procs=mpv", deny_read_procs=True).deny_read_procs == {"mpv"}


def test_fstab_option_forms() -> None:
    bare = translate("vipfs#", "/m", ["_netdev,deny_read_procs"])
    assert bare.options == ["--deny-read-procs"]
    listed = translate("vipfs#", "/m", ['deny_read_procs="default,mpv",dir_cache_time=60'])
    assert listed.options == ["--deny-read-procs", "default,mpv", "--dir-cache-time", "60"]

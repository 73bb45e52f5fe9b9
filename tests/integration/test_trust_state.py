"""Local state a user can trust (issue 8, items 4, 5, 6, 7, 13), driven through real mounts.

Every mount here runs with HOME (and XDG_* where a test says so) pointing into tmp_path, so no
test reads or writes the real home. Where the state directory is depends on the code under test
(today `~/.cache/vipfs/<hash>`, by the contract `$XDG_STATE_HOME/vipfs/<hash>`), so tests that are
not about *where* it is find it as the one directory under the fake home holding `meta.db`.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.conftest import Emulator, Mount, sh, status_xattr, wait_for

pytestmark = pytest.mark.fuse

REPO = Path(__file__).resolve().parents[2]
# the code of issue 8's day: it kept the queue, the spool and meta.db in ~/.cache/vipfs/<hash>
OLD_LAYOUT_COMMIT = "ad6dacd47344dd1ca6e96e7aa8212456ba54661e"


# -- the user's environment ------------------------------------------------------------------
@dataclass
class User:
    """A user's home for the mount process, under tmp_path; `env` is what vipfs runs with."""

    home: Path
    env: dict[str, str]

    def with_xdg(self, **dirs: Path) -> User:
        """The same user with XDG_<NAME>_HOME set, e.g. with_xdg(state=..., cache=...)."""
        env = dict(self.env)
        for name, path in dirs.items():
            env[f"XDG_{name.upper()}_HOME"] = str(path)
        return User(self.home, env)

    def state_dir(self) -> Path:
        """The one directory under the home that holds a meta.db (wherever the code put it)."""
        found = sorted(p.parent for p in self.home.rglob("meta.db"))
        assert len(found) == 1, f"expected one meta.db under {self.home}, found {found}"
        return found[0]

    def spool_files(self) -> list[Path]:
        return sorted(p for p in self.home.rglob("*.spool") if "lost+found" not in p.parts)


def make_user(tmp_path: Path, home: Path | None = None) -> User:
    home = home or tmp_path / "home"
    home.mkdir(exist_ok=True)
    run = tmp_path / "run"
    run.mkdir(mode=0o700, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_") and k != "VIPFS_KEY"}
    env |= {"HOME": str(home), "XDG_RUNTIME_DIR": str(run)}
    return User(home, env)


@pytest.fixture
def user(tmp_path: Path) -> User:
    return make_user(tmp_path)


def digest(emu: Emulator) -> str:
    """The <hash> of an account's directories (mount.cache_dir_for: API URL and login)."""
    login = emu.api("account/info")["login"]
    return hashlib.sha256(f"{emu.url}\0{login}".encode()).hexdigest()[:16]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def mode_of(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def files_under(root: Path) -> dict[str, bytes]:
    """Every regular file under `root` by its path relative to it, with its bytes."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


# -- tmpfs: a small, really full disk ----------------------------------------------------------
@pytest.fixture
def tmpfs() -> Iterator[Callable[[Path, str], Path]]:
    mounted: list[Path] = []

    def mount(path: Path, size: str) -> Path:
        path.mkdir(parents=True, exist_ok=True)
        done = sh("mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", path)
        assert done.returncode == 0, f"cannot mount a tmpfs (needs root): {done.stderr}"
        mounted.append(path)
        return path

    yield mount
    for path in reversed(mounted):
        if sh("umount", path).returncode != 0:
            sh("umount", "-l", path)


# -- mounts with the user's environment ----------------------------------------------------------
@dataclass
class Attempt:
    """A `vipfs mount` that was expected to refuse: its exit code (None: it mounted)."""

    returncode: int | None
    stderr: str

    def lines(self) -> list[str]:
        return self.stderr.splitlines()


class Mounts:
    """Starts `vipfs mount` as `user` would; unmounts and reaps everything at teardown."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.count = 0
        self.started: list[tuple[Path, subprocess.Popen[str] | None]] = []

    def _command(self, emu: Emulator, mnt: Path, log: Path | None, *extra: str) -> list[str]:
        logging = ["--log-file", str(log)] if log is not None else []
        return [
            sys.executable, "-m", "vipfs", "mount", str(mnt), "--api-url", emu.url,
            "--key-file", str(emu.key_file), *logging, "-v", *extra,
        ]  # fmt: skip

    def _next(self) -> tuple[Path, Path, Path]:
        name = f"mnt{self.count}"
        self.count += 1
        mnt = self.tmp / name
        mnt.mkdir()
        return mnt, self.tmp / f"{name}.log", self.tmp / f"{name}.stderr"

    def start(self, emu: Emulator, user: User, *extra: str, cwd: Path | None = None) -> Mount:
        """A foreground mount (`-f`), returned once it answers."""
        mnt, log, err = self._next()
        command = self._command(emu, mnt, log, "-f", *extra)
        with open(err, "w") as stderr:
            process = subprocess.Popen(
                command, stderr=stderr, text=True, env=user.env, cwd=cwd or REPO, umask=0o022
            )
        self.started.append((mnt, process))
        mount = Mount(mnt, process, log, command)
        deadline = time.monotonic() + 30
        while not os.path.ismount(mnt):
            if process.poll() is not None:
                raise AssertionError(
                    f"mount exited {process.returncode}: {err.read_text()}{mount.log()}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(f"not mounted after 30 s: {mount.log()}")
            time.sleep(0.05)
        return mount

    def attempt(self, emu: Emulator, user: User, *extra: str, log: bool = True) -> Attempt:
        """A background `vipfs mount` (how users run it): it returns once mounted or refused.
        Without `log` it logs where vipfs chooses."""
        mnt, log_file, _ = self._next()
        command = self._command(emu, mnt, log_file if log else None, *extra)
        done = subprocess.run(
            command, capture_output=True, text=True, env=user.env, cwd=REPO, timeout=60
        )
        if os.path.ismount(mnt):
            self.started.append((mnt, None))  # a daemon: fusermount3 -u ends it
            return Attempt(None, done.stderr)
        return Attempt(done.returncode, done.stderr)

    def close(self) -> None:
        for mnt, process in self.started:
            if os.path.ismount(mnt):
                subprocess.run(["fusermount3", "-u", str(mnt)], capture_output=True, timeout=30)
            if process is None:
                continue
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.send_signal(signal.SIGKILL)
                process.wait()
            if os.path.ismount(mnt):  # still busy: detach it rather than leave a dead mount
                subprocess.run(["fusermount3", "-u", "-z", str(mnt)], capture_output=True)


@pytest.fixture
def mounts(tmp_path: Path, tmpfs: Callable[[Path, str], Path]) -> Iterator[Mounts]:
    """Depends on `tmpfs` so that a mount on a tmpfs is unmounted before the tmpfs is."""
    started = Mounts(tmp_path)
    yield started
    started.close()


def vipfs_as(
    user: User, *argv: str | Path, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """A `vipfs` subcommand run with the user's environment (pid files live under it)."""
    return subprocess.run(
        [sys.executable, "-m", "vipfs", *map(str, argv)],
        capture_output=True,
        text=True,
        env=user.env,
        cwd=REPO,
        timeout=timeout,
    )


def umount(user: User, mount: Mount) -> None:
    """`vipfs umount`: returns once the queue is drained and the process has ended."""
    done = vipfs_as(user, "umount", mount.path, "--timeout", "120", timeout=150)
    assert done.returncode == 0, done.stderr
    assert not os.path.ismount(mount.path)
    mount.process.wait(30)


def detach(mount: Mount) -> None:
    """`fusermount3 -u`: the mount ends without draining its queue (uploads wait for the next)."""
    assert sh("fusermount3", "-u", mount.path).returncode == 0
    mount.process.wait(60)


def status_lines(user: User, mount: Mount) -> list[str]:
    done = vipfs_as(user, "status", mount.path)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def write_clip(tmp_path: Path, name: str, size: int = 200_000) -> Path:
    """A local "video" (random bytes; the host accepts it by its extension)."""
    path = tmp_path / "src" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(os.urandom(size))
    return path


def host_titles(emu: Emulator) -> dict[str, str]:
    """Title → sha256 of every live file of the account."""
    return {f["title"]: f["sha256"] for f in emu.live_files()}


def seed_video(emu: Emulator, title: str, data: bytes) -> None:
    emu.seed({"files": [{"title": title, "content_b64": base64.b64encode(data).decode()}]})


# -- item 5: the queue lives in the state dir, not in a cache ------------------------------------
@pytest.mark.parametrize("where", ["xdg", "defaults", "--state-dir", "config.toml"])
def test_rm_rf_of_the_cache_while_a_file_is_queued_loses_nothing(
    emulator: Emulator, mounts: Mounts, user: User, tmp_path: Path, where: str
) -> None:
    """State under $XDG_STATE_HOME/vipfs/<hash> (default ~/.local/state) or --state-dir
    (`state_dir` in config.toml), the read cache alone under $XDG_CACHE_HOME/vipfs/<hash>
    (default ~/.cache) or --cache-dir, all made 0700 by vipfs; a cache cleaner's `rm -rf` then
    costs nothing queued."""
    h = digest(emulator)
    options: list[str] = []
    if where == "xdg":
        user = user.with_xdg(state=user.home / "xstate", cache=user.home / "xcache")
        state, cache = user.home / "xstate/vipfs" / h, user.home / "xcache/vipfs" / h
    elif where == "defaults":
        state, cache = user.home / ".local/state/vipfs" / h, user.home / ".cache/vipfs" / h
    else:
        state, cache = user.home / "my state", user.home / "my cache"
        options = ["--cache-dir", str(cache)]
        if where == "--state-dir":
            options += ["--state-dir", str(state)]
        else:
            config = user.home / ".config/vipfs/config.toml"
            config.parent.mkdir(parents=True)
            config.write_text(f"state_dir = {json.dumps(str(state))}\n")
    watched = os.urandom(300_000)
    seed_video(emulator, "watched", watched)
    mount = mounts.start(emulator, user, "--write-back", "600", *options)
    clip = write_clip(tmp_path, "queued.mp4")
    assert sh("cp", clip, mount.path).returncode == 0
    assert (mount.path / "watched.mp4").read_bytes() == watched  # fills the read cache

    assert (state / "meta.db").is_file(), f"no {state}/meta.db; state is in {user.state_dir()}"
    assert user.spool_files() and all(state in p.parents for p in user.spool_files())
    assert files_under(cache), f"nothing read-cached under {cache}"
    for junk in ("meta.db", "*.spool", "meta.db-wal"):
        assert not list(cache.rglob(junk)), f"{junk} in the cache dir {cache}"
    assert mode_of(state) == 0o700 and mode_of(cache) == 0o700

    shutil.rmtree(cache)  # `rm -rf ~/.cache/vipfs`, or any cache cleaner
    shutil.rmtree(user.home / ".cache", ignore_errors=True)
    umount(user, mount)
    assert host_titles(emulator).get("queued") == sha256(clip.read_bytes()), mount.log()


def test_a_background_mount_logs_under_the_state_home(
    emulator: Emulator, mounts: Mounts, user: User
) -> None:
    """Logs are state too: `$XDG_STATE_HOME/vipfs/log`, not under the cache."""
    user = user.with_xdg(state=user.home / "xstate")
    attempt = mounts.attempt(emulator, user, log=False)
    assert attempt.returncode is None, f"the mount failed: {attempt}"
    logs = sorted((user.home / "xstate/vipfs/log").glob("*"))
    assert any("mounted" in p.read_text() for p in logs), (
        f"no log under {user.home}/xstate/vipfs/log: {sorted(user.home.rglob('*.log'))}"
    )
    assert not list((user.home / ".cache").rglob("*.log"))


def old_vipfs(tmp_path: Path) -> Path:
    """The vipfs of issue 8's day, unpacked from git, to make a real old-layout state."""
    tree = tmp_path / "old-vipfs"
    tree.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", OLD_LAYOUT_COMMIT, "vipfs"],
        capture_output=True,
        check=True,
        timeout=60,
    )
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True, timeout=60)
    return tree


@pytest.mark.parametrize("state_fs", ["same file system", "other file system"])
def test_first_mount_migrates_the_old_cache_layout_without_losing_a_queued_file(
    emulator: Emulator,
    mounts: Mounts,
    user: User,
    tmp_path: Path,
    tmpfs: Callable[[Path, str], Path],
    state_fs: str,
) -> None:
    old_code = old_vipfs(tmp_path)
    old_user = User(user.home, user.env | {"PYTHONPATH": str(old_code)})
    old_mount = mounts.start(emulator, old_user, "--write-back", "600", cwd=old_code)
    clips = [write_clip(tmp_path, f"clip {i}.mp4") for i in range(2)]
    for clip in clips:
        assert sh("cp", clip, old_mount.path).returncode == 0
    detach(old_mount)  # the queue stays for the next mount
    old = user.home / ".cache" / "vipfs" / digest(emulator)
    assert (old / "meta.db").is_file() and len(list((old / "spool").glob("*.spool"))) == 2
    assert emulator.live_files() == []
    if state_fs == "other file system":  # rename fails (EXDEV): copy, fsync, verify, remove
        tmpfs(user.home / ".local" / "state", "64m")

    mount = mounts.start(emulator, user, "--write-back", "600")
    assert sorted(os.listdir(mount.path)) == sorted([*(c.name for c in clips)])
    state = user.home / ".local" / "state" / "vipfs" / digest(emulator)
    assert (state / "meta.db").is_file(), f"not migrated to {state}: {user.state_dir()}"
    assert not (old / "meta.db").exists() and not list(old.rglob("*.spool"))
    said = [line for line in mount.log().splitlines() if str(old) in line]
    assert said, f"no log line says {old} moved: {mount.log()}"
    shutil.rmtree(user.home / ".cache")  # `rm -rf ~/.cache` after the migration
    umount(user, mount)
    assert host_titles(emulator) == {c.stem: sha256(c.read_bytes()) for c in clips}


# -- item 6: one process per state dir -----------------------------------------------------------
def test_second_mount_on_the_same_state_exits_naming_the_first(
    emulator: Emulator, mounts: Mounts, user: User, tmp_path: Path
) -> None:
    first = mounts.start(emulator, user, "--write-back", "600")
    clip = write_clip(tmp_path, "half.mp4")
    assert sh("cp", clip, first.path).returncode == 0
    state = user.state_dir()
    spooled = files_under(state / "spool") if (state / "spool").is_dir() else {}

    second = mounts.attempt(emulator, user, "--write-back", "0.2")
    assert second.returncode == 1, f"the second mount {second}"
    assert second.lines() == [
        f"vipfs: state directory {state} is in use by the mount at {first.path} (pid {first.pid})"
    ]
    assert sorted(os.listdir(first.path)) == ["half.mp4"]  # the first still serves
    if spooled:
        assert files_under(state / "spool") == spooled  # its spool untouched
    umount(user, first)
    assert host_titles(emulator) == {"half": sha256(clip.read_bytes())}


# -- item 4: a lost database deletes nothing -----------------------------------------------------
def _lose(db: Path, how: str) -> bytes | None:
    """Make meta.db missing, empty or unreadable; returns what an unreadable one holds."""
    for extra in ("-wal", "-shm", "-journal"):
        Path(f"{db}{extra}").unlink(missing_ok=True)
    if how == "missing":
        db.unlink()
        return None
    if how == "empty":
        db.write_bytes(b"")
        return None
    garbage = b"this is no SQLite database\n" * 200
    db.write_bytes(garbage)
    return garbage


@pytest.mark.parametrize("how", ["missing", "empty", "unreadable"])
def test_lost_meta_db_moves_queued_spool_files_to_lost_found(
    emulator: Emulator, mounts: Mounts, user: User, tmp_path: Path, how: str
) -> None:
    first = mounts.start(emulator, user, "--write-back", "600")
    for i in range(2):
        assert sh("cp", write_clip(tmp_path, f"queued {i}.mp4"), first.path).returncode == 0
    detach(first)
    state = user.state_dir()
    queued = sorted(sha256(p.read_bytes()) for p in user.spool_files())
    assert len(queued) == 2
    garbage = _lose(state / "meta.db", how)

    mount = mounts.start(emulator, user, "--write-back", "0.2")
    lost = state / "lost+found"
    kept = files_under(lost) if lost.is_dir() else {}
    assert sorted(map(sha256, kept.values())) == queued, (
        f"queued data not in {lost}: {sorted(kept)}; spool now {user.spool_files()}"
    )
    warned = [ln for ln in mount.log().splitlines() if "WARNING" in ln and "lost+found" in ln]
    assert warned, mount.log()
    lines = [ln.strip() for ln in status_lines(user, mount)]
    assert any(ln.startswith(f"lost+found: 2 file(s) in {lost}") for ln in lines), lines
    report = json.loads((mount.path / ".vipfs" / "status.json").read_text())
    assert report["lost_found"]["dir"] == str(lost)
    assert len(report["lost_found"]["files"]) == 2
    if garbage is not None:  # renamed aside, never deleted
        aside = [p for p in state.iterdir() if p.name.startswith("meta.db.corrupt-")]
        assert [p.read_bytes() for p in aside] == [garbage], sorted(os.listdir(state))
    umount(user, mount)
    assert sorted(map(sha256, files_under(lost).values())) == queued  # still there after


def test_lost_found_never_overwrites_an_earlier_orphan(
    emulator: Emulator, mounts: Mounts, user: User, tmp_path: Path
) -> None:
    """Two losses whose spool files have the same name: lost+found keeps both."""
    first = mounts.start(emulator, user, "--write-back", "600")
    assert sh("cp", write_clip(tmp_path, "one.mp4"), first.path).returncode == 0
    detach(first)
    [spool] = user.spool_files()
    kept = [sha256(spool.read_bytes())]
    _lose(user.state_dir() / "meta.db", "missing")
    second = mounts.start(emulator, user, "--write-back", "600")
    assert sh("cp", write_clip(tmp_path, "two.mp4"), second.path).returncode == 0
    detach(second)
    state = user.state_dir()
    [other] = user.spool_files()
    kept.append(sha256(other.read_bytes()))
    other.rename(spool)  # the same name as the first orphan had
    _lose(state / "meta.db", "missing")
    third = mounts.start(emulator, user, "--write-back", "600")
    lost = state / "lost+found"
    found = files_under(lost) if lost.is_dir() else {}
    assert sorted(map(sha256, found.values())) == sorted(kept), sorted(found)
    lines = [ln.strip() for ln in status_lines(user, third)]
    assert any(ln.startswith(f"lost+found: 2 file(s) in {lost}") for ln in lines), lines


# -- item 7: a cut-off file is never uploaded as complete ----------------------------------------
def test_cp_onto_a_full_disk_gets_enospc_and_the_cut_file_is_never_uploaded(
    emulator: Emulator, mounts: Mounts, tmp_path: Path, tmpfs: Callable[[Path, str], Path]
) -> None:
    """The state (spool and db) on a 2 MB disk: a 4 MB cp fills it."""
    user = make_user(tmp_path, tmpfs(tmp_path / "small-home", "2m"))
    mount = mounts.start(emulator, user, "--write-back", "0.2")
    big = write_clip(tmp_path, "big.mp4", size=4 << 20)
    cp = sh("cp", big, mount.path)
    assert cp.returncode != 0
    assert "No space left on device" in cp.stderr and "Input/output error" not in cp.stderr, (
        cp.stderr
    )
    target = mount.path / "big.mp4"
    wait_for("incomplete status", lambda: status_xattr(target).startswith("incomplete: "))
    lines = status_lines(user, mount)
    assert any("incomplete" in ln and "big.mp4" in ln for ln in lines), lines
    [spool] = user.spool_files()
    prefix = spool.read_bytes()  # the spool data is kept ...
    assert prefix and big.read_bytes().startswith(prefix), len(prefix)
    assert target.read_bytes() == prefix, "the kept data does not read back through the mount"

    assert sh("mount", "-o", "remount,size=64m", user.home).returncode == 0  # space freed
    umount(user, mount)
    assert emulator.files() == [], "the cut-off file was uploaded"

    again = mounts.start(emulator, user, "--write-back", "0.2")
    assert status_xattr(again.path / "big.mp4").startswith("incomplete: ")
    fresh = write_clip(tmp_path, "fresh.mp4", size=300_000)
    assert sh("cp", fresh, again.path / "big.mp4").returncode == 0  # O_TRUNC: a new file
    umount(user, again)
    assert [(f["title"], f["sha256"], f["deleted"]) for f in emulator.files()] == [
        ("big", sha256(fresh.read_bytes()), False)
    ], "the cut-off prefix reached the host"


def test_writer_killed_mid_file_is_kept_incomplete_and_never_uploaded(
    emulator: Emulator, mounts: Mounts, user: User
) -> None:
    mount = mounts.start(emulator, user, "--write-back", "0.2")
    written = os.urandom(3 * 65536)
    fd = os.open(mount.path / "cut.mp4", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        for i in range(0, len(written), 65536):
            assert os.write(fd, written[i : i + 65536]) == 65536
        os.kill(mount.pid, signal.SIGKILL)  # the mount dies while the writer holds the file
        mount.process.wait(10)
    finally:
        with contextlib.suppress(OSError):  # the mount it belonged to is gone
            os.close(fd)
    assert sh("fusermount3", "-u", mount.path).returncode == 0  # the dead mount's leftovers

    again = mounts.start(emulator, user, "--write-back", "0.2")
    target = again.path / "cut.mp4"
    assert status_xattr(target).startswith("incomplete: "), status_xattr(target)
    lines = status_lines(user, again)
    assert any("incomplete" in ln and "cut.mp4" in ln for ln in lines), lines
    assert [p.read_bytes() for p in user.spool_files()] == [written]  # kept ...
    assert target.read_bytes() == written, "the kept data does not read back through the mount"
    umount(user, again)  # drains the queue: a queued file would be uploaded now
    assert emulator.files() == [], "a file its writer never closed was uploaded"

    third = mounts.start(emulator, user, "--write-back", "0.2")
    assert status_xattr(third.path / "cut.mp4").startswith("incomplete: ")
    assert sh("rm", third.path / "cut.mp4").returncode == 0  # as for any queued file
    assert os.listdir(third.path) == []
    wait_for("its spool file to go", lambda: user.spool_files() == [])
    umount(user, third)
    assert emulator.files() == []


# -- item 13: directories vipfs did not make -----------------------------------------------------
USERS_FILES = {"x.cache": b"the user's x.cache\n", "y.spool": b"the user's y.spool\n"}


def users_dir(path: Path, mode: int) -> Path:
    path.mkdir()
    for name, data in USERS_FILES.items():
        (path / name).write_bytes(data)
    path.chmod(mode)
    return path


def test_cache_dir_of_the_user_keeps_its_mode_and_its_files(
    emulator: Emulator, mounts: Mounts, user: User, tmp_path: Path
) -> None:
    mine = users_dir(tmp_path / "my-dir", 0o755)
    watched = os.urandom(200_000)
    seed_video(emulator, "watched", watched)
    for _ in range(2):  # the second mount meets the first one's leftovers
        mount = mounts.start(emulator, user, "--cache-dir", str(mine), "--write-back", "0.2")
        assert (mount.path / "watched.mp4").read_bytes() == watched
        assert mode_of(mine) == 0o755, f"{mine} was chmodded to {mode_of(mine):o}"
        umount(user, mount)
    assert {name: (mine / name).read_bytes() for name in USERS_FILES} == USERS_FILES
    assert mode_of(mine) == 0o755


def other_users_dir(tmp_path: Path) -> Path:
    """A directory someone else owns: made and chowned as root, else one of the system's."""
    if os.getuid() != 0:
        return Path("/usr")
    path = tmp_path / "theirs"
    path.mkdir(mode=0o700)
    os.chown(path, 4242, 4242)
    return path


def assert_refused(attempt: Attempt, directory: Path, why: str) -> None:
    assert attempt.returncode == 2, f"expected exit 2, got {attempt}"
    assert len(attempt.lines()) == 1, f"expected one line: {attempt.lines()}"
    line = attempt.lines()[0]
    assert line.startswith("vipfs: ") and str(directory) in line, line
    assert re.search(why, line), f"{line!r} does not say why ({why})"


@pytest.mark.parametrize(
    ("option", "mode"),
    [("--cache-dir", 0o775), ("--cache-dir", 0o1777), ("--state-dir", 0o757)],
)
def test_a_dir_writable_by_group_or_others_is_refused_untouched(
    emulator: Emulator, mounts: Mounts, user: User, tmp_path: Path, option: str, mode: int
) -> None:
    shared = users_dir(tmp_path / "shared", mode)
    before = os.lstat(shared)
    attempt = mounts.attempt(emulator, user, option, str(shared))
    assert_refused(attempt, shared, "writable")
    after = os.lstat(shared)
    assert (after.st_mode, after.st_uid) == (before.st_mode, before.st_uid)  # sticky bit too
    assert sorted(os.listdir(shared)) == sorted(USERS_FILES)


@pytest.mark.parametrize("option", ["--cache-dir", "--state-dir"])
def test_a_dir_owned_by_another_user_is_refused(
    emulator: Emulator, mounts: Mounts, user: User, tmp_path: Path, option: str
) -> None:
    theirs = other_users_dir(tmp_path)
    before = os.lstat(theirs)
    entries = sorted(os.listdir(theirs))
    attempt = mounts.attempt(emulator, user, option, str(theirs))
    assert_refused(attempt, theirs, r"owned|owner|belongs")
    after = os.lstat(theirs)
    assert (after.st_mode, after.st_uid) == (before.st_mode, before.st_uid)
    assert sorted(os.listdir(theirs)) == entries


def test_a_symlink_planted_as_a_spool_file_is_never_followed(
    emulator: Emulator, mounts: Mounts, user: User, tmp_path: Path
) -> None:
    first = mounts.start(emulator, user, "--write-back", "600")
    assert sh("cp", write_clip(tmp_path, "mine.mp4"), first.path).returncode == 0
    detach(first)
    [spool] = user.spool_files()
    secret = tmp_path / "root-only.mp4"
    secret.write_bytes(os.urandom(150_000))
    secret.chmod(0o600)
    spool.unlink()
    spool.symlink_to(secret)  # what another user with write access to the dir could do

    again = mounts.start(emulator, user, "--write-back", "0.2")
    umount(user, again)  # drains the queue
    leaked = [f for f in emulator.files() if f["sha256"] == sha256(secret.read_bytes())]
    assert leaked == [], "the symlink's target was uploaded"


def test_meta_db_and_its_wal_and_shm_are_private(
    emulator: Emulator, mounts: Mounts, user: User, tmp_path: Path
) -> None:
    mount = mounts.start(emulator, user, "--write-back", "600")
    assert sh("cp", write_clip(tmp_path, "clip.mp4"), mount.path).returncode == 0
    state = user.state_dir()
    names = ("meta.db", "meta.db-wal", "meta.db-shm")
    wait_for("the db's -wal and -shm", lambda: all((state / n).exists() for n in names))
    modes = {n: oct(mode_of(state / n)) for n in names}
    assert modes == dict.fromkeys(names, oct(0o600)), modes
    assert mode_of(state) == 0o700

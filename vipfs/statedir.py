"""Where a mount keeps what it must not lose, and the one process that may use it.

Owns: where state and cache live (a mirror's own directory, `mirror-<name>`, and the logins
its members had, so a member unreachable at mount time still finds its state), the move from the
old layout (`migrate`), and the one-process lock (`StateLock`).
Imports: `vipfs.vfs.localdirs` only.

The authoritative state of an account (meta.db with its -wal/-shm, `spool/`, `lost+found/`,
`lock`) lives in the STATE directory, `$XDG_STATE_HOME/vipfs/<hash>` (`--state-dir`): a cache
cleaner must never reach files not yet uploaded. Only the read cache lives in the CACHE
directory, `$XDG_CACHE_HOME/vipfs/<hash>` (`--cache-dir`), in a `read/` subdirectory.

Older versions kept everything in `~/.cache/vipfs/<hash>`; `migrate` moves it on the first mount
(rename on one file system, else copy + fsync + verify, then remove the old), so no queued file
is lost. `StateLock` makes a second process on the same state directory stop before mounting.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from vipfs.vfs.localdirs import NOFOLLOW, is_regular, open_nofollow

log = logging.getLogger(__name__)

DB_NAME = "meta.db"
DB_FILES = (f"{DB_NAME}-wal", f"{DB_NAME}-shm", DB_NAME)  # the db itself last: it marks "done"
SPOOL = "spool"
LOCK = "lock"
EVENTS = "events.jsonl"  # the event log (vipfs.vfs.eventlog), and its older `events.jsonl.1`
READ_CACHE = "read"  # the subdirectory of the cache dir that vipfs owns
# the read-cache files of older versions, right in the old directory: code-version-size-serial
_OLD_CACHE_FILE = re.compile(r"^[^/]+-[^/-]+-\d+-\d+\.cache$")
_CHUNK = 1 << 20


def xdg_dir(variable: str, fallback: str) -> Path:
    """`$variable` when it is an absolute path (the XDG spec ignores relative ones)."""
    value = os.environ.get(variable, "")
    return Path(value) if os.path.isabs(value) else Path(fallback).expanduser()


def account_digest(api_url: str, login: str) -> str:
    """The <hash> that names one account's directories."""
    return hashlib.sha256(f"{api_url}\0{login}".encode()).hexdigest()[:16]


def state_home() -> Path:
    return xdg_dir("XDG_STATE_HOME", "~/.local/state") / "vipfs"


def default_state_dir(digest: str) -> Path:
    return state_home() / digest


def default_cache_dir(digest: str) -> Path:
    return xdg_dir("XDG_CACHE_HOME", "~/.cache") / "vipfs" / digest


MIRROR_LOGINS = "members.json"  # in a mirror's directory: member → [api_url, login]


def mirror_state_dir(name: str) -> Path:
    """A mirror's own state (its journal, its lock): `$XDG_STATE_HOME/vipfs/mirror-<name>`;
    each member keeps its queue and spool in its own account's directory."""
    return state_home() / f"mirror-{name}"


def known_logins(mirror_dir: Path) -> dict[str, tuple[str, str]]:
    """The api_url and login each member had when last reached (what names its state
    directory); a missing or damaged file is no knowledge, never an error."""
    try:
        raw = json.loads((mirror_dir / MIRROR_LOGINS).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(raw, dict):
        return {}
    return {
        name: (pair[0], pair[1])
        for name, pair in raw.items()
        if isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, str) for p in pair)
    }


def remember_logins(mirror_dir: Path, logins: dict[str, tuple[str, str]]) -> None:
    """Record the members reached now (the others' last known logins stay)."""
    merged = {**known_logins(mirror_dir), **logins}
    path = mirror_dir / MIRROR_LOGINS
    scratch = path.with_name(path.name + ".new")
    scratch.write_text(json.dumps({name: list(pair) for name, pair in merged.items()}) + "\n")
    os.replace(scratch, path)


def legacy_dir(digest: str) -> Path:
    """Where versions before the state directory kept everything (they ignored XDG)."""
    return Path("~/.cache/vipfs").expanduser() / digest


# --- the lock --------------------------------------------------------------------------------


class InUseError(Exception):
    """Another process holds the state directory; the message is one line for the user."""


@dataclass
class StateLock:
    """An exclusive flock on `<state>/lock` for the mount's life; the file says who holds it."""

    fd: int
    path: Path

    @classmethod
    def take(cls, state_dir: Path, mountpoint: Path) -> StateLock:
        path = state_dir / LOCK
        fd = open_nofollow(path, os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = os.pread(fd, 4096, 0).decode(errors="replace").split("\n")
            os.close(fd)
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise
            where = holder[0] if holder and holder[0] else "?"
            pid = holder[1] if len(holder) > 1 and holder[1] else "?"
            raise InUseError(
                f"state directory {state_dir} is in use by the mount at {where} (pid {pid})"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{mountpoint}\n{os.getpid()}\n".encode(), 0)
        return cls(fd, path)

    def release(self) -> None:
        """Unlock (closing the descriptor does it); the file stays, its words no longer hold."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


# --- migration from the old location ------------------------------------------------------------


def migrate(old: Path, state: Path, *, made_by_vipfs: bool) -> bool:
    """Move meta.db and spool/ from `old` to `state` when `state` has no db yet; True if moved.

    Nothing is removed from `old` before its copy in `state` is durable and verified.
    `made_by_vipfs`: `old` is the old default directory, so a spool/ alone is evidence enough,
    and the read-cache files of the old layout are dropped from it too. A directory the user
    named (an old --cache-dir) must hold a meta.db, and nothing else of it is touched.
    """
    if os.path.lexists(state / DB_NAME) or not old.is_dir() or _same_dir(old, state):
        return False
    ours = is_regular(old / DB_NAME) or (made_by_vipfs and (old / SPOOL).is_dir())
    if not ours:
        return False
    user = holder(old / DB_NAME)
    if user is not None:  # an older vipfs still serves it: moving its db would split the queue
        raise InUseError(
            f"state directory {old} is in use by an older vipfs (pid {user}): unmount it "
            "with `vipfs umount`, then mount again"
        )
    kept = _move_spool(old / SPOOL, state / SPOOL)
    kept_wal = False
    for name in DB_FILES:
        if name == DB_NAME and kept_wal:
            break  # the db without its WAL would miss committed rows
        if is_regular(old / name) and not _move_file(old / name, state / name):
            kept = True
            kept_wal |= name.endswith("-wal")
    if made_by_vipfs and not kept:
        for leftover in old.iterdir():
            if _OLD_CACHE_FILE.match(leftover.name) and is_regular(leftover):
                leftover.unlink(missing_ok=True)
    log.warning(
        "moved the upload queue and metadata from %s to %s (state, not cache: a cache "
        "cleaner cannot reach them there)%s",
        old,
        state,
        "; some files stayed behind, see above" if kept else "",
    )
    return True


def holder(path: Path) -> int | None:
    """A process of ours that has `path` open (from /proc/PID/fd), if any."""
    target = os.path.realpath(path)
    for pid in filter(str.isdigit, os.listdir("/proc")):
        if int(pid) == os.getpid():
            continue
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:  # not ours to look at, or gone
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                    return int(pid)
            except OSError:
                continue
    return None


def _same_dir(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _move_spool(old: Path, new: Path) -> bool:
    """Move the spool directory (or what is left of it); True when something stayed behind."""
    if not old.is_dir() or old.is_symlink():
        return False
    if not os.path.lexists(new):
        try:
            os.rename(old, new)
            return False
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
        os.mkdir(new, 0o700)
        os.chmod(new, 0o700)
    kept = False
    for path in sorted(old.iterdir()):
        if is_regular(path):
            kept |= not _move_file(path, new / path.name)
    try:
        old.rmdir()
    except OSError:
        kept = True
    _fsync_dir(new)
    return kept


def _move_file(src: Path, dst: Path) -> bool:
    """Rename, or (across file systems) copy, fsync, verify, then unlink; False if left."""
    if os.path.lexists(dst):
        if is_regular(dst) and _digest(dst) == _digest(src):
            src.unlink()  # an earlier, interrupted migration already copied it
            return True
        log.warning("not moving %s: %s already exists and differs; both kept", src, dst)
        return False
    try:
        os.rename(src, dst)
        return True
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
    partial = dst.with_name(f".{dst.name}.migrating")
    partial.unlink(missing_ok=True)
    source = os.open(src, os.O_RDONLY | NOFOLLOW)
    try:
        target = open_nofollow(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        try:
            with os.fdopen(source, "rb", closefd=False) as r, os.fdopen(target, "wb") as w:
                shutil.copyfileobj(r, w, _CHUNK)
                w.flush()
                os.fsync(w.fileno())
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    finally:
        os.close(source)
    if _digest(partial) != _digest(src):
        partial.unlink(missing_ok=True)
        log.warning("not moving %s: its copy in %s did not verify; kept", src, dst.parent)
        return False
    os.rename(partial, dst)
    _fsync_dir(dst.parent)
    src.unlink()
    return True


def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | NOFOLLOW)
    with os.fdopen(fd, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

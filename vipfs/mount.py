"""`vipfs mount`: the composition root. Builds the client, the model and the FUSE ops; runs them.

The only `trio.run` of the mount lives here, and so do the signals (SIGTERM/SIGINT unmount
cleanly, SIGHUP expires cached listings) and the teardown order. Before anything is mounted the
key and the server are checked, so a bad key or a dead server costs one line and exit 1 with
nothing mounted. Without `-f` the process forks, and the parent exits only once the child's mount
answers (or prints the child's one-line failure).

A mirror remote (`mirror = [...]` in the config) mounts as one tree over several members: each
member is composed by the same `open_member` a single-host mount uses (its own client, state
directory and lock, metadb, spool, read cache, features and `Filesystem`), and
`vipfs.vfs.mirror.MirrorFs` joins them; the FUSE-level options are the mirror's. A member that
cannot be reached at mount time costs one warning (the others serve); a refused key stops it.

Owns: turning settled options into `MountConfig` (`mount_config`; which option lands where is
the option table's `goes`), composing one host's stack (`open_member`) and a mirror of them, the
startup checks, the fork, and the order parts start and stop in.
Imports: everything below it (api, vfs, fuse_ops, pyfuse3); its options come from
vipfs.mount_options, nothing here declares one.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import logging
import math
import os
import re
import signal
import stat
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TextIO
from urllib.parse import urlsplit

import pyfuse3
import trio

from vipfs import config as settings
from vipfs import hygiene, mount_options, runfiles, sdnotify, statedir
from vipfs import status as status_text
from vipfs.api.client import DEFAULT_MAX_REPLY, XvsClient
from vipfs.api.errors import ApiError, AuthError
from vipfs.api.lanes import Lane, lane
from vipfs.api.lowspeed import SpeedFloor
from vipfs.api.plainhttp import InsecureUrlError, check_api_url
from vipfs.api.records import AccountInfo
from vipfs.fuse_ops import Operations
from vipfs.keyfile import LooseKeyFileError, MissingKeyError
from vipfs.vfs import defaults
from vipfs.vfs.attrs import Owner
from vipfs.vfs.eventlog import EventLog
from vipfs.vfs.features import HostFeatures
from vipfs.vfs.filesystem import Filesystem, Options, WriteSetup
from vipfs.vfs.holdlist import HoldList
from vipfs.vfs.hooks import Hooks
from vipfs.vfs.localdirs import DirError, check_dir, private_dir
from vipfs.vfs.metadb import MetaDb
from vipfs.vfs.mirror import Member, MirrorFs
from vipfs.vfs.mirror_journal import set_aside
from vipfs.vfs.mirror_sync import SyncControl
from vipfs.vfs.names import Titles
from vipfs.vfs.readcache import ReadCache
from vipfs.vfs.spool import Spool

log = logging.getLogger("vipfs.mount")

DEFAULT_API_URL = mount_options.DEFAULT_API_URL
ROOT_LISTING_WAIT = 5.0  # seconds the start-up waits for the root listing before mounting anyway


class StartupError(Exception):
    """Mounting cannot start; the message is the one line the user sees, `code` the exit."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


class UnreachableError(StartupError):
    """The host did not answer within `--connect-timeout` (not: it refused the key)."""


def configure(parser: argparse.ArgumentParser) -> None:
    """`vipfs mount`'s arguments: the table in vipfs.mount_options, nothing else."""
    mount_options.add_to(parser)


@dataclass(frozen=True)
class MountConfig:
    mountpoint: Path
    api_url: str
    key: str
    foreground: bool
    options: Options
    attr_timeout: float
    cache_dir: Path | None
    cache_max_size: int
    allow_other: bool
    connect_timeout: float
    debug_fuse: bool
    subtype: str = mount_options.SUBTYPE
    write_back: float = defaults.WRITE_BACK
    transfers: int = defaults.TRANSFERS
    hold: str | None = None
    hold_idle: float = defaults.HOLD_IDLE
    trash: bool = True
    upload_retitle: bool = False  # tokened titles + a retitle edit per file (benchmark baseline)
    dedupe: str = "clone"  # clone: a file with bytes vipfs uploaded becomes a file/clone; off
    unmount_timeout: float | None = None
    low_speed: SpeedFloor = field(default_factory=SpeedFloor)
    max_reply_size: int = DEFAULT_MAX_REPLY
    state_dir: Path | None = None
    allow_non_empty: bool = False
    on_event: str | None = None  # --on-event CMD
    on_event_timeout: float = mount_options.HOOK_TIMEOUT

    @property
    def host(self) -> str:
        return urlsplit(self.api_url).netloc or self.api_url

    def __repr__(self) -> str:  # the key stays out of every repr
        return f"MountConfig(mountpoint={self.mountpoint!r}, api_url={self.api_url!r})"


@dataclass(frozen=True)
class MirrorConfig:
    """A mirror's mount: `config` holds the FUSE-level options and the tree's options (its
    key is empty: no call is made with it), `members` each member's own settings."""

    name: str
    config: MountConfig
    members: tuple[tuple[str, MountConfig], ...]
    state_dir: Path

    @property
    def foreground(self) -> bool:
        return self.config.foreground


Plan = MountConfig | MirrorConfig


def run(args: argparse.Namespace) -> int:
    hygiene.disable_core_dumps()  # before the key is in memory
    try:
        loaded = settings.load(args.config)
        if loaded.is_mirror(args.remote or mount_options.DEFAULT_REMOTE):
            mirror = settings.resolve_mirror(args, loaded)
            keyed = [(m.name, m.args, m.key) for m in mirror.members]
        else:
            found = settings.resolve(args, loaded)
            keyed = [("", args, found.key)]
        for _, member_args, _ in keyed:
            check_api_url(member_args.api_url)
    except (LooseKeyFileError, InsecureUrlError) as exc:  # refused, as ssh refuses: exit 2
        print(f"vipfs: {exc}", file=sys.stderr)
        return 2
    except (settings.ConfigError, MissingKeyError) as exc:
        print(f"vipfs: {exc}", file=sys.stderr)
        return 1
    if not args.foreground and not args.log_file:  # a daemon has no stderr to log to
        args.log_file = str(runfiles.default_log_file(Path(args.mountpoint).absolute()))
    setup_logging(args.verbose, args.log_file)
    for name, _, key in keyed:
        for warning in key.warnings:
            warning = f"{name}: {warning}" if name else warning
            log.warning("%s", warning)
            if args.log_file:  # the log is not the terminal: a background user sees it here
                print(f"vipfs: warning: {warning}", file=sys.stderr)
    try:
        plan: Plan
        if keyed[0][0]:  # a mirror
            members = tuple((name, mount_config(a, key.key)) for name, a, key in keyed)
            plan = MirrorConfig(
                args.remote,
                mount_config(args, ""),
                members,
                statedir.mirror_state_dir(args.remote),
            )
        else:
            plan = mount_config(args, keyed[0][2].key)
        configs = [plan] if isinstance(plan, MountConfig) else [c for _, c in plan.members]
        top = plan if isinstance(plan, MountConfig) else plan.config
        check_mountpoint(top.mountpoint, allow_non_empty=top.allow_non_empty)
        for config in configs:
            check_given_dirs(config)
        if isinstance(plan, MirrorConfig):
            check_own_dirs(plan)
    except (MissingKeyError, StartupError) as exc:
        print(f"vipfs: {exc}", file=sys.stderr)
        return exc.code if isinstance(exc, StartupError) else 1
    if plan.foreground:
        return serve(plan, report=_report_to_stderr)
    return daemonize(plan, log_file=args.log_file)


def mount_config(args: argparse.Namespace, key: str) -> MountConfig:
    """The settled `vipfs mount` arguments as the mount's settings (`goes` in the option table
    names the attribute each option lands in; a unit test holds this function to it)."""

    def local(path: str | None) -> Path | None:
        return Path(path).expanduser().absolute() if path else None

    return MountConfig(
        mountpoint=Path(args.mountpoint).absolute(),
        api_url=args.api_url,
        key=key,
        foreground=args.foreground,
        options=Options(
            owner=Owner(args.uid, args.gid, args.umask),
            dir_cache_time=args.dir_cache_time,
            budget=args.op_timeout,
            deny_read_procs=args.deny_read_procs,
            sync_uploads=args.sync_uploads,
            titles=Titles(args.default_extension),
            embed_url=args.embed_url,
            encoding_poll=args.encoding_poll,
            takedown_poll=args.takedown_poll,
        ),
        attr_timeout=args.attr_timeout,
        cache_dir=local(args.cache_dir),
        cache_max_size=args.cache_max_size,
        max_reply_size=args.max_reply_size,
        allow_other=args.allow_other,
        allow_non_empty=args.allow_non_empty,
        connect_timeout=args.connect_timeout,
        debug_fuse=args.debug_fuse,
        subtype=args.subtype,
        write_back=args.write_back,
        transfers=args.transfers,
        hold=args.hold,
        hold_idle=args.hold_idle,
        trash=not args.no_trash,
        upload_retitle=args.upload_retitle,
        dedupe=args.dedupe,
        unmount_timeout=args.unmount_timeout,
        low_speed=SpeedFloor(args.low_speed_limit, args.low_speed_time),
        state_dir=local(args.state_dir),
        on_event=args.on_event or None,
        on_event_timeout=args.on_event_timeout,
    )


def check_given_dirs(config: MountConfig) -> None:
    """--state-dir and --cache-dir, when they exist already: ours alone, or refused (exit 2).
    Checked before anything else happens; missing ones are created 0700 at mount time."""
    mountpoint = config.mountpoint.resolve()
    for option, path in (("--state-dir", config.state_dir), ("--cache-dir", config.cache_dir)):
        if path is None:
            continue
        real = path.resolve()
        if real == mountpoint or mountpoint in real.parents:  # its files would go through itself
            raise StartupError(f"refusing {option} {path}: inside the mountpoint", code=2)
        if os.path.lexists(path):
            try:
                check_dir(path, f"{option} {path}")
            except DirError as exc:
                raise StartupError(str(exc), code=2) from None


def check_own_dirs(mirror: MirrorConfig) -> None:
    """Each member's --state-dir and --cache-dir its own: one queue, spool or read cache for
    two accounts would mix their files (a shared state dir is locked by the first)."""
    for option, attr in (("--state-dir", "state_dir"), ("--cache-dir", "cache_dir")):
        seen: dict[Path, str] = {}
        for name, config in mirror.members:
            path = getattr(config, attr)
            if path is None:
                continue
            if path in seen:
                raise StartupError(
                    f"mirror members {seen[path]} and {name} have the same {option} {path}; "
                    f"give each its own {attr} in its [remotes.{name}] table",
                    code=2,
                )
            seen[path] = name


def check_mountpoint(path: Path, *, allow_non_empty: bool = False) -> None:
    """A directory, not mounted yet, and empty unless allowed: a mount over entries hides them,
    which looks like lost files (rclone refuses the same way)."""
    try:
        if not stat.S_ISDIR(os.stat(path).st_mode):
            raise StartupError(f"{path} is not a directory")
    except FileNotFoundError:
        raise StartupError(f"{path} does not exist") from None
    except OSError as exc:
        if exc.errno == errno.ENOTCONN:
            raise StartupError(
                f"{path} is a dead mount (its process ended): run fusermount3 -u {path}"
            ) from None
        raise StartupError(f"{path}: {exc.strerror}") from None
    if os.path.ismount(path):
        raise StartupError(f"{path} is already a mount point")
    if not allow_non_empty and _has_entries(path):
        raise StartupError(
            f"{path} is not empty (a mount would hide its entries); "
            "use --allow-non-empty to mount over them"
        )


def _has_entries(path: Path) -> bool:
    try:
        with os.scandir(path) as entries:
            return next(entries, None) is not None
    except OSError as exc:
        raise StartupError(f"{path}: {exc.strerror}") from None


def setup_logging(verbose: int, log_file: str | None) -> None:
    level = logging.DEBUG if verbose >= 2 else logging.INFO if verbose == 1 else logging.WARNING
    if log_file:
        handler = hygiene.private_log_handler(log_file)  # 0600
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(hygiene.LineFormatter(hygiene.LOG_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx and httpcore log whole URLs and headers; their words never reach our log
    for noisy in ("httpx", "httpcore", "hpack"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _report_to_stderr(ok: bool, line: str) -> None:
    if not ok:
        print(line, file=sys.stderr)


def daemonize(config: Plan, *, log_file: str | None) -> int:
    """Fork; the parent waits on a pipe until the child's mount answers or fails, and prints
    the warnings the child logs until then (the log file is not where its user looks)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid:  # the parent: relay the child's warnings and verdict
        os.close(write_end)
        with os.fdopen(read_end) as pipe:
            verdict = relay_startup(pipe)
        if verdict.startswith("ok"):
            return 0
        print(verdict.rstrip("\n") or "vipfs: the mount process ended early", file=sys.stderr)
        _, status = os.waitpid(pid, 0)
        return os.waitstatus_to_exitcode(status) or 1
    os.close(read_end)
    os.setsid()
    devnull = os.open(os.devnull, os.O_RDWR)
    # all three: a daemon holding its caller's stderr keeps `$(vipfs mount ...)` and mount(8)
    # output pipes open forever; the log file (always set in the background) has the words
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    code = serve(config, report=startup_reporter(os.fdopen(write_end, "w")))
    os._exit(code)


WARNING_LINE = "warning: "  # a relayed warning; a verdict is "ok" or "vipfs: why"


class _WarningsToPipe(logging.Handler):
    """Until the mount is ready, each warning the child logs also goes up the pipe."""

    def __init__(self, pipe: TextIO) -> None:
        super().__init__(logging.WARNING)
        self.pipe = pipe

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno == logging.WARNING and not self.pipe.closed:  # errors: the verdict
            line = " ".join(record.getMessage().split())  # one line, whatever it held
            self.pipe.write(f"{WARNING_LINE}{line}\n")
            self.pipe.flush()


def startup_reporter(pipe: TextIO) -> Report:
    """The child's `report`: warnings up the pipe until the one verdict, then nothing."""
    relay = _WarningsToPipe(pipe)
    logging.getLogger().addHandler(relay)

    def report(ok: bool, line: str) -> None:
        with relay.lock or contextlib.nullcontext():
            if pipe.closed:
                return
            logging.getLogger().removeHandler(relay)
            pipe.write("ok\n" if ok else line + "\n")
            pipe.close()

    return report


def relay_startup(pipe: TextIO) -> str:
    """The parent's side: print each relayed warning; return the verdict ("" if none came)."""
    for line in pipe:
        if not line.startswith(WARNING_LINE):
            return line
        print(f"vipfs: {line.rstrip()}", file=sys.stderr, flush=True)
    return ""


Report = Callable[[bool, str], None]


def serve(config: Plan, *, report: Report) -> int:
    """Mount, serve until unmounted, clean up. `report` is told once: ready, or why not."""
    try:
        if isinstance(config, MirrorConfig):
            trio.run(_main_mirror, config, report)
        else:
            trio.run(_main, config, report)
    except StartupError as exc:
        report(False, f"vipfs: {exc}")
        return exc.code
    except Exception as exc:
        log.exception("the mount failed")
        report(False, f"vipfs: the mount failed: {exc}")
        return 1
    return 0


async def check_account(api: XvsClient, config: MountConfig) -> AccountInfo:
    """account/info, retrying an unreachable server for `connect_timeout` seconds."""
    deadline = trio.current_time() + config.connect_timeout
    while True:
        try:
            with trio.fail_after(max(deadline - trio.current_time(), 0.1)):
                return await api.account_info()
        except AuthError as exc:
            raise StartupError(f"the API key was refused by {config.host}: {exc.msg}") from None
        except (ApiError, trio.TooSlowError) as exc:
            if trio.current_time() >= deadline:
                why = str(exc) or "no answer"
                raise UnreachableError(f"cannot reach {config.host}: {why}") from None
            log.info("server not answering yet (%s); retrying", exc)
        await trio.sleep(min(1.0, max(deadline - trio.current_time(), 0)))


def cache_dir_for(config: MountConfig, login: str) -> Path:
    """The read cache's directory (vipfs's files go in its `read/` subdirectory)."""
    if config.cache_dir is not None:
        return config.cache_dir
    return statedir.default_cache_dir(statedir.account_digest(config.api_url, login))


def state_dir_for(config: MountConfig, login: str) -> Path:
    """The directory of what must not be lost: meta.db, spool/, lost+found/, the lock."""
    if config.state_dir is not None:
        return config.state_dir
    return statedir.default_state_dir(statedir.account_digest(config.api_url, login))


def _dir_label(option: str, given: Path | None, path: Path, what: str) -> str:
    return f"{option} {path}" if given is not None else f"the {what} {path}"


def prepare_state(config: MountConfig, login: str) -> tuple[Path, Path, statedir.StateLock]:
    """Create or check the state and cache directories, lock the state, move old state in.

    Raises StartupError: exit 2 for a directory vipfs refuses, 1 when another process holds
    the state."""
    state, cache = state_dir_for(config, login), cache_dir_for(config, login)
    labels = (
        (state, _dir_label("--state-dir", config.state_dir, state, "state directory")),
        (cache, _dir_label("--cache-dir", config.cache_dir, cache, "cache directory")),
    )
    for path, label in labels:
        try:
            private_dir(path, label)
        except DirError as exc:
            raise StartupError(str(exc), code=2) from None
        except OSError as exc:
            raise StartupError(f"cannot create {label}: {exc.strerror}", code=2) from None
    try:
        lock = statedir.StateLock.take(state, config.mountpoint)
    except statedir.InUseError as exc:
        raise StartupError(str(exc)) from None
    try:
        digest = statedir.account_digest(config.api_url, login)
        old = [(statedir.legacy_dir(digest), True)]
        if config.cache_dir is not None:  # older versions kept the db in a --cache-dir too
            old.insert(0, (config.cache_dir, False))
        for path, made_by_vipfs in old:
            if statedir.migrate(path, state, made_by_vipfs=made_by_vipfs):
                break
    except statedir.InUseError as exc:
        lock.release()
        raise StartupError(str(exc)) from None
    except BaseException:
        lock.release()
        raise
    return state, cache, lock


def option_safe(text: str) -> str:
    """A host string (the login) made fit for a FUSE `-o` option: libfuse splits options at
    commas, so a login `x,allow_other` would mount for every user; pyfuse3 wants ASCII."""
    return re.sub(r"[^A-Za-z0-9_.@+-]", "_", text)[:64] or "_"


def fuse_options(config: MountConfig, login: str) -> set[str]:
    options = set(pyfuse3.default_options)
    # an fsname with a ":" is what gnulib's mountlist (df -l) takes for a remote filesystem
    options |= {f"fsname=vipfs:{option_safe(login)}", f"subtype={config.subtype}"}
    options |= {"default_permissions", "noatime"}
    if config.allow_other:
        options.add("allow_other")
    if config.debug_fuse:
        options.add("debug")
    return options


def open_client(config: MountConfig) -> XvsClient:
    return XvsClient(
        config.api_url,
        config.key,
        connect_timeout=min(config.connect_timeout, 10.0),
        retry_budget=config.options.budget,
        low_speed=config.low_speed,
        max_reply_size=config.max_reply_size,
    )


@dataclass
class MemberStack:
    """One host's parts as a mount runs them: what `_serve` starts and tears down."""

    name: str  # "" on a single-host mount
    config: MountConfig
    login: str
    fs: Filesystem
    reader: ReadCache


async def open_member(
    stack: contextlib.AsyncExitStack,
    config: MountConfig,
    api: XvsClient,
    info: AccountInfo | None,
    *,
    name: str = "",
    login: str | None = None,
) -> MemberStack:
    """One host's stack, torn down by `stack` (log, db, lock, in that order): its state
    directory and lock, read cache, metadb, features and `Filesystem`. `info` None: the host
    did not answer, and `login` (its last known) names its state."""
    login = info.login if info is not None else login
    assert login is not None
    state_dir, cache_dir, lock = await trio.to_thread.run_sync(prepare_state, config, login)
    stack.callback(lock.release)
    features = HostFeatures()
    reader = ReadCache(
        api,
        cache_dir / statedir.READ_CACHE,
        max_bytes=config.cache_max_size,
        features=features,
        low_speed=config.low_speed,
    )
    db = await MetaDb.open(state_dir / statedir.DB_NAME)
    stack.push_async_callback(db.close)
    hold = HoldList(idle=config.hold_idle)
    if config.hold is not None:
        hold = HoldList.parse(config.hold, idle=config.hold_idle)
    writes = WriteSetup(
        db=db,
        spool=Spool(state_dir / statedir.SPOOL),
        features=features,
        write_back=config.write_back,
        transfers=config.transfers,
        hold=hold,
        trash=config.trash,
        retitle=config.upload_retitle,
        dedupe=config.dedupe == "clone",
        rate_state=lambda: api.rate_state,
    )
    hooks = None
    if config.on_event:
        hooks = Hooks(
            config.on_event, timeout=config.on_event_timeout, mount=str(config.mountpoint)
        )
    fs = Filesystem(api, options=config.options, reader=reader, writes=writes, hooks=hooks)
    fs.remote.events.member = name or None  # before the history: new events name it
    history = EventLog(state_dir / statedir.EVENTS)
    stack.callback(history.close)
    await trio.to_thread.run_sync(history.attach, fs.remote.events)
    if info is not None:
        fs.quota.update(info)
    return MemberStack(name, config, login, fs, reader)


async def _main(config: MountConfig, report: Report) -> None:
    async with contextlib.AsyncExitStack() as stack:
        api = await stack.enter_async_context(open_client(config))
        info = await check_account(api, config)
        member = await open_member(stack, config, api, info)
        await _serve(config, report, member.fs, [member], member.login, config.host)
    log.info("unmounted %s", config.mountpoint)


async def _main_mirror(mirror: MirrorConfig, report: Report) -> None:
    """Every member's stack, then one `MirrorFs` over them. The members are asked at once
    (an unreachable one costs one `--connect-timeout`, not one each)."""
    try:
        private_dir(mirror.state_dir, f"the mirror's state directory {mirror.state_dir}")
        lock = statedir.StateLock.take(mirror.state_dir, mirror.config.mountpoint)
    except DirError as exc:
        raise StartupError(str(exc), code=2) from None
    except statedir.InUseError as exc:
        raise StartupError(str(exc)) from None
    async with contextlib.AsyncExitStack() as stack:
        stack.callback(lock.release)
        clients = [
            (name, config, await stack.enter_async_context(open_client(config)))
            for name, config in mirror.members
        ]
        infos = await check_members(clients)
        known = statedir.known_logins(mirror.state_dir)
        found: list[tuple[str, MountConfig, XvsClient, AccountInfo | None, str]] = []
        for (name, config, api), info in zip(clients, infos, strict=True):
            remembered = known.get(name)
            if info is not None:
                found.append((name, config, api, info, info.login))
            elif remembered is not None and remembered[0] == config.api_url:
                log.warning(
                    "mirror member %s: cannot reach %s; the others serve, and its changes wait "
                    "in the mirror's journal",
                    name,
                    config.host,
                )
                found.append((name, config, api, None, remembered[1]))
            else:
                log.warning(
                    "mirror member %s: cannot reach %s and it was never mounted here; the "
                    "mount goes on without it (`vipfs mirror sync` fills it in later)",
                    name,
                    config.host,
                )
        if len(found) < settings.MIN_MEMBERS:
            raise StartupError(
                f"mirror {mirror.name}: only {', '.join(f[0] for f in found)} can serve "
                f"now; a mirror needs {settings.MIN_MEMBERS} members that can serve"
            )
        same_account([(name, config, login) for name, config, _, _, login in found])
        for name, config, _, _, login in found:
            await _set_aside_if_moved(mirror.state_dir, name, known.get(name), config, login)
        members = [
            await open_member(stack, config, api, info, name=name, login=login)
            for name, config, api, info, login in found
        ]
        reached = {m.name: (m.config.api_url, m.login) for m in members}
        await trio.to_thread.run_sync(statedir.remember_logins, mirror.state_dir, reached)
        facade = MirrorFs(
            [Member(m.name, m.fs) for m in members],
            mirror.state_dir,
            mirror.config.options,
            name=mirror.name,
        )
        SyncControl(facade)  # `vipfs mirror sync`: its xattr control and its report file
        for name, _, _, info, _ in found:
            if info is None:  # not answering now: its ops are journaled until it answers
                facade.down.add(name)
        hosts = ", ".join(f"{m.name} ({m.config.host})" for m in members)
        await _serve(mirror.config, report, facade, members, f"mirror-{mirror.name}", hosts)
    log.info("unmounted %s", mirror.config.mountpoint)


async def _set_aside_if_moved(
    state_dir: Path, name: str, was: tuple[str, str] | None, config: MountConfig, login: str
) -> None:
    """A member whose API URL or login is not the one its journaled changes were made for
    (the config now names another account) must not get them: they are set aside, kept."""
    if was is None or was == (config.api_url, login):
        return
    label = f"{name} (was {was[1]} at {was[0]})"
    moved = await trio.to_thread.run_sync(set_aside, state_dir, name, label)
    if moved:
        log.warning(
            "mirror member %s is now %s at %s; %d change(s) journaled for %s are set aside, "
            "not replayed (mount with the old settings to finish them)",
            name,
            login,
            config.host,
            moved,
            label,
        )


async def check_members(
    clients: list[tuple[str, MountConfig, XvsClient]],
) -> list[AccountInfo | None]:
    """Each member's account/info, asked at once; None for one that did not answer. A
    refused key stops the mount (one line naming the member)."""
    infos: list[AccountInfo | None] = [None] * len(clients)
    refused: list[str] = []

    async def ask(at: int, name: str, config: MountConfig, api: XvsClient) -> None:
        try:
            infos[at] = await check_account(api, config)
        except UnreachableError:
            infos[at] = None
        except StartupError as exc:
            refused.append(f"mirror member {name}: {exc}")

    async with trio.open_nursery() as nursery:
        for at, (name, config, api) in enumerate(clients):
            nursery.start_soon(ask, at, name, config, api)
    if refused:
        raise StartupError(refused[0])
    if not any(infos):
        raise StartupError(f"cannot reach any member ({', '.join(c[0] for c in clients)})")
    return infos


def same_account(members: list[tuple[str, MountConfig, str]]) -> None:
    """Two members on one account would share one state directory: one line, not a hang."""
    seen: dict[tuple[str, str], str] = {}
    for name, config, login in members:
        account = (config.api_url, login)
        if account in seen:
            raise StartupError(
                f"mirror members {seen[account]} and {name} are the same account "
                f"({login} at {config.host})"
            )
        seen[account] = name


class Served(Protocol):
    """What the mount drives besides the FUSE operations: `Filesystem` or `MirrorFs`."""

    async def run(self, *, task_status: trio.TaskStatus[None] = ...) -> None: ...
    async def list_root(self, within: float) -> bool: ...
    async def wait_uploads(
        self, progress: Callable[[dict[str, Any]], None] | None = None
    ) -> None: ...
    def forget_all(self) -> None: ...


async def _serve(
    config: MountConfig,
    report: Report,
    facade: Filesystem | MirrorFs,
    members: list[MemberStack],
    label: str,
    hosts: str,
) -> None:
    """Mount `facade`, run it and each member's read cache until unmounted. `label`: the
    login (or the mirror's name) that names the mount in the mount table; `hosts`: where
    it comes from, for the log."""
    ops = Operations(facade, attr_timeout=config.attr_timeout)
    await facade.list_root(within=min(config.options.budget, ROOT_LISTING_WAIT))
    pids = runfiles.pid_file(config.mountpoint)  # before init: resolving a path inside would hang
    pyfuse3.init(ops, str(config.mountpoint), fuse_options(config, label))
    try:
        pids.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        pids.write_text(f"{os.getpid()}\n")
        async with trio.open_nursery() as nursery:
            for member in members:
                await nursery.start(member.reader.run)  # reads: someone waits, INTERACTIVE
            with lane(Lane.BACKGROUND):  # the upload queues, strays, retitles, the quota
                await nursery.start(facade.run)
            # No feature probe here: each is asked where first needed (a read, an rm), so a
            # mount's first minute of quota goes to browsing, not to three probes.
            nursery.start_soon(_signals, facade, config)
            nursery.start_soon(_announce, config, label, hosts, report)
            await pyfuse3.main()
            sdnotify.stopping(f"unmounting {config.mountpoint}")
            nursery.cancel_scope.cancel()
    finally:
        pids.unlink(missing_ok=True)
        pyfuse3.close(unmount=True)
    for member in members:
        _left_behind(member)


def _left_behind(member: MemberStack) -> None:
    """Warn of what the member's queue still holds: it resumes at the next mount."""
    left = member.fs.queue_status()
    who = f"{member.name}: " if member.name else ""
    if left is not None and (left.pending or left.held or left.writing):
        log.warning(
            "%s%d upload(s) not finished; they resume at the next mount",
            who,
            left.pending + len(left.held) + len(left.writing),
        )
    if left is not None and left.incomplete:
        log.warning(
            "%s%d incomplete file(s) kept, not uploaded (`vipfs status` lists them)",
            who,
            len(left.incomplete),
        )


async def _announce(config: MountConfig, label: str, hosts: str, report: Report) -> None:
    """Tell the waiting parent once the mount answers a real request."""
    await trio.to_thread.run_sync(os.stat, config.mountpoint)
    log.info("mounted %s as vipfs:%s from %s", config.mountpoint, label, hosts)
    report(True, "")
    sdnotify.ready(f"mounted vipfs:{label} from {hosts} on {config.mountpoint}")


async def _signals(fs: Served, config: MountConfig) -> None:
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as signals:
        async with trio.open_nursery() as nursery:
            async for signum in signals:
                if signum == signal.SIGHUP:
                    fs.forget_all()
                elif nursery.child_tasks:  # a second signal while waiting: stop now
                    log.warning("signal %d again: unmounting without waiting", signum)
                    pyfuse3.terminate()
                else:
                    log.info("signal %d: waiting for pending uploads, then unmounting", signum)
                    sdnotify.stopping(f"signal {signum}: uploading what is queued, then unmounting")
                    nursery.start_soon(_drain_then_stop, fs, config)


def progress_reporter(foreground: bool) -> Callable[[dict[str, object]], None]:
    """Each new progress line once: on the terminal under -f (where the log, on the same
    stderr, would repeat it), else in the log. A mirror's members report in turn, each
    naming itself (`member`): each one's line is shown when it changes, after its name."""
    shown: dict[str, str] = {}

    def progress(status: dict[str, object]) -> None:
        member = status.get("member")
        who = f"{member}: " if isinstance(member, str) else ""
        line = who + status_text.progress_line(status)
        if line != shown.get(who):
            if foreground:
                print(f"vipfs: {line}", file=sys.stderr, flush=True)
            else:
                log.log(logging.INFO if who in shown else logging.WARNING, "%s", line)
            shown[who] = line

    return progress


async def _drain_then_stop(fs: Served, config: MountConfig) -> None:
    """Unmount once the queue is empty (or the unmount timeout ran out), with progress."""
    timeout = config.unmount_timeout if config.unmount_timeout is not None else math.inf
    with trio.move_on_after(timeout) as waited:
        await fs.wait_uploads(progress_reporter(config.foreground))
    if waited.cancelled_caught:
        log.warning("unmount timeout: pending uploads resume at the next mount")
    pyfuse3.terminate()

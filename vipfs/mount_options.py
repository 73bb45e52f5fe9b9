"""The options of `vipfs mount`, in one table: what argv, `mount.vipfs -o` and the config take.

Owns: `OPTIONS` (each option's flags, kind, parser, default, metavar, help and where its value
goes), the argparse binding of that table (`add_to`, with `-o LIST` for it), `Deferred` (the
stand-in default that lets a config file fill what argv left out) and the parsers of option
values. Imports: argparse, vipfs.vfs.defaults and the owners of the other defaults it shows
(vipfs.api.client, vipfs.api.lowspeed, vipfs.vfs.readpolicy, vipfs.vfs.namespace), and late
vipfs.mount_helper (the one reader of `-o` lists); never pyfuse3 nor vipfs.mount, so
`mount.vipfs` and `vipfs config check` can read it on a machine without FUSE.

Three readers, one table: `add_to` builds the `vipfs mount` parser; `vipfs.config` checks and
converts a remote's TOML keys against it; `vipfs.mount_helper` turns `-o a_b=c` into `--a-b c`
by it. `goes` names the attribute of `vipfs.mount.MountConfig` the value lands in (a test
checks that every option gets there), or `config` / `process` for the options that choose the
settings or shape the process rather than the mount.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from vipfs.api.client import DEFAULT_MAX_REPLY
from vipfs.api.lowspeed import DEFAULT_LIMIT as DEFAULT_LOW_SPEED_LIMIT
from vipfs.api.lowspeed import DEFAULT_WINDOW as DEFAULT_LOW_SPEED_TIME
from vipfs.vfs import defaults
from vipfs.vfs.namespace import TRASH
from vipfs.vfs.readpolicy import DEFAULT_DENIED, parse_names

DEFAULT_REMOTE = "default"
DEFAULT_API_URL = "https://vipstream.cc/api"
SUBTYPE = "vipfs"  # the mount table's fuse.SUBTYPE
CONNECT_TIMEOUT = 30.0  # seconds an unreachable server is retried at start (the mount's alone)
HOOK_TIMEOUT = 30.0  # seconds an --on-event hook may run

# value: takes one; flag: store_true; count: -v -v; optional: a value or none (then `const`);
# positional: no dashes
Kind = Literal["value", "flag", "count", "optional", "positional"]


@dataclass(frozen=True)
class Option:
    """One option: how argv spells it, how its text becomes a value, and where the value goes."""

    flags: tuple[str, ...]  # ("-f", "--foreground"), or ("mountpoint",) for a positional
    help: str
    goes: str  # a MountConfig attribute path ("options.budget"), or "config" / "process"
    kind: Kind = "value"
    parse: Callable[[str], object] | None = None  # None: the text itself
    default: object = None
    const: object = None  # kind "optional": the value when the option is given bare
    metavar: str | None = None
    optional: bool = False  # kind "positional": may be left out
    settable: bool = True  # a config file's remote may set it (not: argv's own, like REMOTE)

    @property
    def dest(self) -> str:
        """The name in argparse's namespace and in a config file (`dir_cache_time`)."""
        return self.flags[-1].lstrip("-").replace("-", "_")


class Deferred:
    """A parser default standing in until the remote's settings are known.

    Wrapping the defaults is how `vipfs.config.apply` tells "not given" from "given, and equal to
    the default", so `--dir-cache-time 300` on the command line beats `dir_cache_time = 60`.
    """

    def __init__(self, option: Option) -> None:
        self.option = option

    @property
    def value(self) -> object:
        return self.option.default

    def __add__(self, other: int) -> object:  # argparse's `count` adds to its default
        return self.value + other  # type: ignore[operator]

    def __repr__(self) -> str:
        return repr(self.value)

    def __str__(self) -> str:
        return str(self.value)


# -- value parsers: each refuses nonsense in one line (argparse makes that exit 2) -------------


def subtype(text: str) -> str:
    if not text or not all(c.isalnum() or c in "-_" for c in text):
        raise argparse.ArgumentTypeError(f"{text!r}: letters, digits, - and _ only")
    return text


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: must be 0 or more")
    return value


def positive_int(text: str) -> int:
    value = non_negative_int(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"{text!r}: must be at least 1")
    return value


def non_negative_float(text: str) -> float:
    """Seconds where 0 means "at once" or "not at all"; `inf` is "forever"."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value >= 0:  # also NaN
        raise argparse.ArgumentTypeError(f"{text!r}: must be 0 or more")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r}: must be more than 0")
    return value


_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def byte_size(text: str) -> int:
    """`65536`, `64K`, `64M`, `1G` (also `64MiB`, `64mb`): binary units, at least 64 KiB."""
    number = text.strip().upper().removesuffix("B").removesuffix("I")
    unit = number[-1:] if number[-1:] in _UNITS else ""
    digits = number[: len(number) - len(unit)]
    if not digits.isdigit() or int(digits) * _UNITS[unit] < 1 << 16:
        raise argparse.ArgumentTypeError(f"{text!r}: a size such as 64M, at least 64K")
    return int(digits) * _UNITS[unit]


EXTENSION_MAX = 16  # characters a default extension may have, its dot included


def extension(text: str) -> str:
    """`--default-extension`: `mp4` or `.mp4` → `.mp4`; empty → "" (none added)."""
    if not text:
        return ""
    ext = text if text.startswith(".") else "." + text
    if "/" in ext or "\0" in ext or ext == "." or len(ext) > EXTENSION_MAX:
        raise argparse.ArgumentTypeError(
            f"{text!r}: an extension such as .mp4 (at most {EXTENSION_MAX} characters, no /)"
        )
    return ext


def embed_template(text: str) -> str:
    """`--embed-url`: an http(s) URL with `{code}` where the file code goes; "" is off. The
    host's embed domain changes, so vipfs never guesses it: the user states it."""
    if not text:
        return ""
    scheme, _, rest = text.partition("://")
    if scheme.lower() not in ("http", "https") or not rest or rest.startswith("/"):
        raise argparse.ArgumentTypeError(
            f"{text!r}: an http(s) URL such as https://host/e/{{code}}"
        )
    if "{code}" not in text:
        raise argparse.ArgumentTypeError(f"{text!r}: has no {{code}} for the file code")
    if any(c.isspace() or not c.isprintable() for c in text):
        raise argparse.ArgumentTypeError(f"{text!r}: a URL has no spaces or control characters")
    return text


def process_names(text: str) -> frozenset[str]:
    try:
        return parse_names(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def dedupe_mode(text: str) -> str:
    if text not in ("clone", "off"):
        raise argparse.ArgumentTypeError(f"{text!r}: want clone or off")
    return text


def octal(text: str) -> int:
    return int(text, 8)


# -- the table, in the order `vipfs mount --help` shows it --------------------------------------

OPTIONS: tuple[Option, ...] = (
    Option(
        ("remote",),
        f"a remote from the config file ([remotes.NAME]; default {DEFAULT_REMOTE!r})",
        "config",
        kind="positional",
        optional=True,
        settable=False,
    ),
    Option(
        ("--config",),
        "read only this config file (default $VIPFS_CONFIG, else "
        "~/.config/vipfs/config.toml, and /etc/vipfs/config.toml for root)",
        "config",
        metavar="FILE",
        settable=False,
    ),
    Option(
        ("mountpoint",),
        "an empty directory to mount the account on (see --allow-non-empty)",
        "mountpoint",
        kind="positional",
        settable=False,
    ),
    Option(("--api-url",), "the host's API root", "api_url", default=DEFAULT_API_URL),
    Option(
        ("--key-file",),
        "file holding the API key (else $VIPFS_KEY, else the remote's)",
        "config",
        settable=False,  # a remote's `key_file` is read by vipfs.config.find_key
    ),
    Option(
        ("-f", "--foreground"), "stay in the foreground", "foreground", kind="flag", default=False
    ),
    Option(
        ("--dir-cache-time",),
        f"seconds a folder listing is trusted (default {defaults.DIR_CACHE_TIME:g})",
        "options.dir_cache_time",
        parse=non_negative_float,
        default=defaults.DIR_CACHE_TIME,
        metavar="S",
    ),
    Option(
        ("--attr-timeout",),
        f"seconds the kernel caches names and attributes (default {defaults.ATTR_TIMEOUT:g})",
        "attr_timeout",
        parse=non_negative_float,
        default=defaults.ATTR_TIMEOUT,
        metavar="S",
    ),
    Option(
        ("--state-dir",),
        "the upload queue, spool and metadata: what must not be lost "
        "(default $XDG_STATE_HOME/vipfs/<hash>, i.e. ~/.local/state/vipfs/...)",
        "state_dir",
    ),
    Option(
        ("--cache-dir",),
        "the read cache, safe to delete (default $XDG_CACHE_HOME/vipfs/<hash>, "
        "i.e. ~/.cache/vipfs/...); vipfs keeps its files in a read/ subdirectory",
        "cache_dir",
    ),
    Option(
        ("--cache-max-size",),
        f"read cache size cap (default {defaults.CACHE_MAX_SIZE >> 30} GiB)",
        "cache_max_size",
        parse=non_negative_int,
        default=defaults.CACHE_MAX_SIZE,
        metavar="BYTES",
    ),
    Option(
        ("--max-reply-size",),
        "largest API reply read, e.g. 64M; a bigger one fails that call "
        f"(default {DEFAULT_MAX_REPLY >> 20} MiB)",
        "max_reply_size",
        parse=byte_size,
        default=DEFAULT_MAX_REPLY,
        metavar="BYTES",
    ),
    Option(
        ("--deny-read-procs",),
        "refuse reads (EACCES) by these processes: names as /proc/PID/comm shows them, "
        "comma-separated, given as --deny-read-procs=LIST; without LIST (or with 'default' "
        "in it): known thumbnailers and indexers, see docs/desktop.md",
        "options.deny_read_procs",
        kind="optional",
        parse=process_names,
        const=frozenset(DEFAULT_DENIED),
        default=frozenset(),
        metavar="LIST",
    ),
    Option(
        ("--subtype",),
        f"the mount table shows the type fuse.SUBTYPE (default {SUBTYPE}); 'sshfs' makes "
        "GLib file managers treat the mount as remote (a pretence, see docs/desktop.md)",
        "subtype",
        parse=subtype,
        default=SUBTYPE,
    ),
    Option(("--allow-other",), "let other users in", "allow_other", kind="flag", default=False),
    Option(
        ("--allow-non-empty",),
        "mount over a directory that has entries (they are hidden while mounted; "
        "-o nonempty says the same)",
        "allow_non_empty",
        kind="flag",
        default=False,
    ),
    Option(
        ("--uid",),
        "owner of every entry",
        "options.owner.uid",
        parse=non_negative_int,
        default=os.getuid(),
    ),
    Option(
        ("--gid",),
        "group of every entry",
        "options.owner.gid",
        parse=non_negative_int,
        default=os.getgid(),
    ),
    Option(
        ("--umask",),
        "permission bits to clear, octal (default 022)",
        "options.owner.umask",
        parse=octal,
        default=0o022,
    ),
    Option(
        ("--connect-timeout",),
        f"how long to keep trying an unreachable server at start (default {CONNECT_TIMEOUT:g})",
        "connect_timeout",
        parse=positive_float,
        default=CONNECT_TIMEOUT,
        metavar="S",
    ),
    Option(
        ("--op-timeout",),
        "how long an interactive call may wait on the API before EIO "
        f"(default {defaults.OP_TIMEOUT:g})",
        "options.budget",
        parse=positive_float,
        default=defaults.OP_TIMEOUT,
        metavar="S",
    ),
    Option(
        ("--write-back",),
        f"seconds after the last close before a file uploads (default {defaults.WRITE_BACK:g})",
        "write_back",
        parse=non_negative_float,
        default=defaults.WRITE_BACK,
        metavar="S",
    ),
    Option(
        ("--transfers",),
        f"uploads at once (default {defaults.TRANSFERS})",
        "transfers",
        parse=positive_int,
        default=defaults.TRANSFERS,
        metavar="N",
    ),
    Option(
        ("--low-speed-limit",),
        "abort an upload or download attempt that moves less than BYTES per second "
        "over --low-speed-time; it is retried later, a read gets EIO; 0: off "
        f"(default {DEFAULT_LOW_SPEED_LIMIT})",
        "low_speed.limit",
        parse=non_negative_int,
        default=DEFAULT_LOW_SPEED_LIMIT,
        metavar="BYTES",
    ),
    Option(
        ("--low-speed-time",),
        f"the window of --low-speed-limit, in seconds (default {DEFAULT_LOW_SPEED_TIME:g})",
        "low_speed.window",
        parse=positive_float,
        default=DEFAULT_LOW_SPEED_TIME,
        metavar="S",
    ),
    Option(
        ("--hold",),
        "temp-name patterns held until renamed (comma-separated; +GLOBS adds to defaults)",
        "hold",
        metavar="GLOBS",
    ),
    Option(
        ("--hold-idle",),
        f"a held temp file uploads anyway after S idle seconds, an empty one is dropped "
        f"(default {defaults.HOLD_IDLE:g})",
        "hold_idle",
        parse=non_negative_float,
        default=defaults.HOLD_IDLE,
        metavar="S",
    ),
    Option(
        ("--default-extension",),
        "added to the names of host files whose title has no video extension ('' for none)",
        "options.titles.default_extension",
        parse=extension,
        default=".mp4",
        metavar="EXT",
    ),
    Option(
        ("--embed-url",),
        "the host's embed link, with {code} for the file code, e.g. "
        "https://HOST/e/{code}: files then show it as user.vipfs.embed (default: none)",
        "options.embed_url",
        parse=embed_template,
        default="",
        metavar="TEMPLATE",
    ),
    Option(
        ("--encoding-poll",),
        "seconds between file/encodings polls while an upload of vipfs's is not ready yet "
        f"(user.vipfs.status: encoding 40%%, then ready); 0: off "
        f"(default {defaults.ENCODING_POLL:g})",
        "options.encoding_poll",
        parse=non_negative_float,
        default=defaults.ENCODING_POLL,
        metavar="S",
    ),
    Option(
        ("--takedown-poll",),
        "seconds between file/dmca and file/deleted polls (DMCA notices, files the host "
        f"deleted); 0: off (default {defaults.TAKEDOWN_POLL:g})",
        "options.takedown_poll",
        parse=non_negative_float,
        default=defaults.TAKEDOWN_POLL,
        metavar="S",
    ),
    Option(
        ("--sync-uploads",),
        "close() uploads and waits, like fsync (EIO when the upload fails)",
        "options.sync_uploads",
        kind="flag",
        default=False,
    ),
    Option(
        ("--dedupe",),
        "clone: a file with the bytes of one vipfs uploaded becomes one file/clone of it, "
        "no upload; off: always upload (default clone)",
        "dedupe",
        parse=dedupe_mode,
        default="clone",
        metavar="clone|off",
    ),
    Option(
        ("--upload-retitle",),
        argparse.SUPPRESS,  # the benchmark's baseline: the upload design before issue 10
        "upload_retitle",
        kind="flag",
        default=False,
    ),
    Option(
        ("--no-trash",),
        f"where the host cannot delete, refuse rm/rmdir (EPERM) instead of using {TRASH}",
        "trash",  # inverted: --no-trash is trash=False
        kind="flag",
        default=False,
    ),
    Option(
        ("--unmount-timeout",),
        "on SIGTERM/SIGINT wait at most S seconds for pending uploads (default: wait)",
        "unmount_timeout",
        parse=non_negative_float,
        metavar="S",
    ),
    Option(
        ("--on-event",),
        "run CMD with /bin/sh -c once per event (queued, uploaded, ready, failed, dmca, "
        "deleted), one at a time, the event in VIPFS_EVENT, VIPFS_PATH, VIPFS_CODE, VIPFS_LINK, "
        "... (never the key); `vipfs events` lists the events",
        "on_event",
        metavar="CMD",
    ),
    Option(
        ("--on-event-timeout",),
        f"kill an --on-event hook after S seconds (default {HOOK_TIMEOUT:g}; 0: never)",
        "on_event_timeout",
        parse=non_negative_float,
        default=HOOK_TIMEOUT,
        metavar="S",
    ),
    Option(("-v", "--verbose"), "-v info, -vv debug", "process", kind="count", default=0),
    Option(
        ("--log-file",),
        "log here (default: stderr with -f, else ~/.local/state/vipfs/log/<mount>.log)",
        "process",
    ),
    Option(("--debug-fuse",), "log every FUSE request", "debug_fuse", kind="flag", default=False),
)

BY_NAME: dict[str, Option] = {option.dest: option for option in OPTIONS}


def long_flags() -> dict[str, Option]:
    """`--dir-cache-time` → its option: what `mount.vipfs -o dir_cache_time=…` may name."""
    return {flag: option for option in OPTIONS for flag in option.flags if flag.startswith("--")}


def add_to(parser: argparse.ArgumentParser, *, positionals: bool = True) -> None:
    """Declare every option on `parser`, and `-o LIST` for them; a settable option's default is
    a `Deferred`. Without `positionals`: the options alone (what `-o` parses its list with)."""
    parser.add_argument(
        "-o",
        action=_OptionList,
        metavar="LIST",
        help="options as mount(8) and sshfs take them: -o allow_other,dir_cache_time=10 "
        "is --allow-other --dir-cache-time 10",
    )
    for option in OPTIONS:
        default = Deferred(option) if option.settable else option.default
        if option.kind == "positional":
            if not positionals:
                continue
            nargs = "?" if option.optional else None
            parser.add_argument(option.dest, nargs=nargs, default=default, help=option.help)
        elif option.kind == "flag":
            parser.add_argument(
                *option.flags, action="store_true", default=default, help=option.help
            )
        elif option.kind == "count":
            parser.add_argument(*option.flags, action="count", default=default, help=option.help)
        else:
            extra: dict[str, Any] = {"type": option.parse} if option.parse else {}
            parser.add_argument(
                *option.flags,
                nargs="?" if option.kind == "optional" else None,
                const=option.const,
                default=default,
                metavar=option.metavar,
                help=option.help,
                **extra,
            )


class _OptionList(argparse.Action):
    """`-o a_b=c,d`: turned into `--a-b c --d` by mount(8)'s helper (one parser of `-o`), then
    parsed into the same namespace, so `-o` and the long options are one and the same."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        from vipfs.mount_helper import HelperError, translate  # late: it reads this table

        try:
            flags = translate("", "", [str(values)]).options
        except HelperError as exc:
            raise argparse.ArgumentError(None, str(exc)) from None
        options = argparse.ArgumentParser(add_help=False, allow_abbrev=False, exit_on_error=False)
        add_to(options, positionals=False)
        try:
            options.parse_known_args(flags, namespace)  # defaults: already in the namespace
        except argparse.ArgumentError as exc:
            raise argparse.ArgumentError(None, f"-o {values}: {exc.message}") from None

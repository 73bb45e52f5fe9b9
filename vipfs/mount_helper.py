"""`mount.vipfs`: what mount(8) runs for an fstab line, turned into `vipfs mount`.

mount(8) calls a helper as `HELPER SOURCE MOUNTPOINT [-sfnv] [-o OPTIONS] [-t TYPE]`, either
directly (`/sbin/mount.fuse.vipfs` or `/sbin/mount.vipfs`, a link to this script) or through
fuse3's `mount.fuse3`, which runs `vipfs SOURCE MOUNTPOINT -o OPTIONS` for `-t fuse.vipfs` and
for `vipfs#SOURCE` with `-t fuse`; `vipfs` hands such a call here. Either way:

- SOURCE is a remote from the config file (`vipfs#` stripped; `default` if empty);
- `-o a_b=c` becomes `--a-b c` and a bare `a_b` becomes `--a-b`, as rclone does, checked
  against `vipfs mount`'s own options so a typo fails the mount instead of being ignored
  (`-s`, sloppy, drops unknown options with a warning instead); fuse2's `nonempty` is
  `allow_non_empty`, `ro` is `read_only`;
- options that belong to mount(8), systemd or the kernel's generic mount flags (`_netdev`,
  `nofail`, `x-systemd.*`, `rw`, `dev`, `suid`, ...) are dropped: vipfs sets its own;
- a key never goes on a command line: `key=` is refused, `key_file=` is the way.

The command then replaces this process; `vipfs mount` without `-f` returns once the mount
answers, which is what mount(8) waits for.

Owns: the fstab/mount(8) calling convention and its translation. Imports: vipfs.mount_options
(late, for the table of options it checks `-o` against); never vipfs.mount or pyfuse3.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vipfs.mount_options import Option

PREFIX = "vipfs#"
# options for mount(8), fstab, systemd or generic mount flags; vipfs decides those itself
IGNORED = frozenset(
    {
        *("_netdev", "nofail", "auto", "noauto", "defaults", "rw", "fsname", "subtype"),
        *("user", "nouser", "users", "owner", "group", "silent", "loud"),
        *("dev", "nodev", "suid", "nosuid", "exec", "noexec", "async", "sync"),
        *("atime", "noatime", "diratime", "nodiratime", "relatime", "norelatime"),
        *("strictatime", "lazytime", "nolazytime"),
    }
)
IGNORED_PREFIXES = ("x-", "comment=", "X-")
REFUSED = {
    "key": "an API key must not be a mount option (it would show in ps and mtab); "
    "use key_file=PATH",
    "foreground": "mount(8) would wait forever for a foreground mount",
    "f": "mount(8) would wait forever for a foreground mount",
    "help": "not a mount option",
}
RENAMED = {"ro": "read_only", "nonempty": "allow_non_empty"}  # fuse2's and mount's words


class HelperError(Exception):
    """The mount line cannot be turned into a `vipfs mount` command; says which option and why."""


@dataclass
class Translation:
    remote: str
    mountpoint: str
    options: list[str] = field(default_factory=list)  # `vipfs mount` arguments
    dropped: list[str] = field(default_factory=list)  # what was left out, for -v
    unknown: list[str] = field(default_factory=list)  # dropped because of -s: always said

    def command(self) -> list[str]:
        # mount(8) clears PATH, so the same interpreter runs vipfs rather than a PATH lookup
        return [sys.executable, "-m", "vipfs", "mount", self.remote, self.mountpoint, *self.options]


def split_options(text: str) -> list[str]:
    """fstab's comma list, where a double-quoted value may hold commas (`a="x,y"`)."""
    items: list[str] = []
    current: list[str] = []
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            items.append("".join(current))
            current = []
        else:
            current.append(char)
    if quoted:
        raise HelperError(f"unbalanced quote in -o {text}")
    items.append("".join(current))
    return [item for item in items if item]


def translate(
    source: str,
    mountpoint: str,
    option_lists: Sequence[str],
    *,
    sloppy: bool = False,
    known: dict[str, Option] | None = None,
) -> Translation:
    """The `vipfs mount` command an fstab line means; `known`: the long options it may name
    (default: the option table's)."""
    from vipfs import mount_options as table  # late: `mount.vipfs -h` needs none of it

    known = table.long_flags() if known is None else known
    remote = source.removeprefix(PREFIX) or table.DEFAULT_REMOTE
    result = Translation(remote, mountpoint)
    for option in (item for text in option_lists for item in split_options(text)):
        name, has_value, value = option.partition("=")
        if name in IGNORED or option.startswith(IGNORED_PREFIXES):
            result.dropped.append(option)
            continue
        if name in REFUSED:
            raise HelperError(f"-o {name}: {REFUSED[name]}")
        flag = "--" + RENAMED.get(name, name).replace("_", "-")
        target = known.get(flag)
        if target is None:
            if sloppy:
                result.unknown.append(option)
                continue
            raise HelperError(f"-o {name}: not an option of vipfs mount (see vipfs mount --help)")
        if target.kind in ("flag", "count"):
            if has_value:
                raise HelperError(f"-o {name} is a flag and takes no value")
            result.options.append(flag)
        elif target.kind == "optional" and not has_value:  # an optional value (deny_read_procs)
            result.options.append(flag)
        elif not has_value or not value:
            raise HelperError(f"-o {name} needs a value: {name}=...")
        else:
            result.options += [flag, value]
    return result


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mount.vipfs",
        description="mount(8) helper: a vipfs remote from an fstab line or mount -t fuse.vipfs",
        epilog="an /etc/fstab line:\n  vipfs#default /mnt/vip fuse.vipfs "
        "_netdev,nofail,key_file=/etc/vipfs/key,dir_cache_time=300 0 0\n"
        "options a_b=c become vipfs mount --a-b c; see docs/OPERATIONS.md",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("source", help="REMOTE or vipfs#REMOTE (a [remotes.NAME] of the config)")
    parser.add_argument("mountpoint", help="an empty directory")
    parser.add_argument(
        "-o", dest="options", action="append", default=[], help="comma-separated options"
    )
    parser.add_argument("-s", dest="sloppy", action="store_true", help="drop unknown options")
    parser.add_argument("-f", dest="fake", action="store_true", help="do everything but mount")
    parser.add_argument("-n", dest="no_mtab", action="store_true", help="(ignored: no mtab)")
    parser.add_argument("-v", dest="verbose", action="store_true", help="show the command")
    parser.add_argument("-t", dest="type", help="(ignored: fuse.vipfs)")
    parser.add_argument("-N", dest="namespace", help="(not supported)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.namespace:
        print("mount.vipfs: -N (mount namespaces) is not supported", file=sys.stderr)
        return 1
    try:
        result = translate(args.source, args.mountpoint, args.options, sloppy=args.sloppy)
    except HelperError as exc:
        print(f"mount.vipfs: {exc}", file=sys.stderr)
        return 1
    command = result.command()
    if result.unknown:
        print(f"mount.vipfs: ignoring unknown options {','.join(result.unknown)}", file=sys.stderr)
    if args.verbose:
        if result.dropped:
            print(f"mount.vipfs: left to mount(8): {','.join(result.dropped)}", file=sys.stderr)
        print(f"mount.vipfs: {shlex.join(command)}", file=sys.stderr)
    if args.fake:
        return 0
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(command[0], command)
    return 1  # not reached


if __name__ == "__main__":
    sys.exit(main())

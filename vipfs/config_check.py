"""`vipfs config check [REMOTE]`: what a mount of REMOTE would use, and where each part came from.

It resolves the remote exactly as `vipfs mount` does (the same parser, `vipfs.config.resolve`),
so what it prints is what a mount gets: the files read, the remotes, the API URL, the key's
origin and permissions with the key masked, the options the config sets, and every warning.
With `--online` it also asks the server whether it accepts the key. For a mirror it lists
each member the same way (every member has its own API URL and key).

Owns: the `vipfs config check` report. Imports: vipfs.config, vipfs.mount_options (the mount's
option table), vipfs.api; never pyfuse3, so the check runs where FUSE is missing.
"""

from __future__ import annotations

import argparse
import stat
import sys
from pathlib import Path

import trio

from vipfs import config as settings
from vipfs import mount_options
from vipfs.api.client import XvsClient
from vipfs.api.errors import ApiError, AuthError
from vipfs.api.plainhttp import InsecureUrlError
from vipfs.keyfile import MissingKeyError
from vipfs.mount_options import DEFAULT_REMOTE


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    check = sub.add_parser(
        "check",
        help="show the files, remote, API URL and key (masked) a mount would use",
        description="Show what `vipfs mount REMOTE ...` would use and where it came from (for "
        "a mirror: each member's API URL and key); exit 1 if it could not mount.",
    )
    check.add_argument("remote", nargs="?", default=None, help="the remote (default 'default')")
    check.add_argument("--config", metavar="FILE", help="read only this config file")
    check.add_argument("--key-file", help="check this key file instead of the remote's")
    check.add_argument("--api-url", help="check this API URL instead of the remote's")
    check.add_argument(
        "--online", action="store_true", help="also ask the server whether it accepts the key"
    )
    check.add_argument(
        "--timeout",
        type=mount_options.positive_float,
        default=15.0,
        metavar="S",
        help="for --online (default 15)",
    )


def run(args: argparse.Namespace) -> int:
    parser = argparse.ArgumentParser(add_help=False)
    mount_options.add_to(parser)  # the mount's own options: what is checked is what a mount does
    argv = [args.remote or DEFAULT_REMOTE, "MOUNTPOINT"]
    if args.config:
        argv += ["--config", args.config]
    if args.key_file:
        argv += ["--key-file", args.key_file]
    if args.api_url:
        argv += ["--api-url", args.api_url]
    mount_args = parser.parse_args(argv)
    out = sys.stdout
    try:
        loaded = settings.load(args.config)
    except settings.ConfigError as exc:
        print(f"error: {exc}", file=out)
        return 1
    print("config files:", file=out)
    for path in loaded.looked:
        print(f"  {path} ({'read' if path in loaded.read else 'not found'})", file=out)
    print(f"remotes: {', '.join(loaded.remote_names) or '(none)'}", file=out)
    if loaded.is_mirror(mount_args.remote):
        return _check_mirror(args, mount_args, loaded)
    try:
        found = settings.resolve(mount_args)
    except settings.ConfigError as exc:
        print(f"error: {exc}", file=out)
        return 1
    except MissingKeyError as exc:
        print(f"remote {mount_args.remote!r}: api_url {mount_args.api_url}", file=out)
        print(f"error: {exc}", file=out)
        return 1
    remote = found.remote
    print(f"remote {remote.name!r}{'' if remote.declared else ' (built-in defaults)'}:", file=out)
    where = "  (--api-url)" if args.api_url else _origin(remote, "api_url")
    print(f"  api_url: {mount_args.api_url}{where}", file=out)
    print(f"  key: {found.key.masked} from {found.key.origin}", file=out)
    if found.key.path is not None:
        print(f"  key file: {found.key.path} ({_describe(found.key.path)})", file=out)
    for name, value in sorted(remote.settings.items()):
        if name not in ("api_url", *settings.KEY_SETTINGS):
            print(
                f"  {name} = {getattr(mount_args, name, value)!r}{_origin(remote, name)}", file=out
            )
    for warning in found.key.warnings:
        print(f"warning: {warning}", file=out)
    if not args.online:
        return 0
    verdict, ok = trio.run(_ask_server, mount_args.api_url, found.key.key, args.timeout)
    print(f"online: {verdict}", file=out)
    return 0 if ok else 1


def _check_mirror(
    args: argparse.Namespace, mount_args: argparse.Namespace, loaded: settings.Config
) -> int:
    """A mirror: its own settings, then each member as a single remote is shown."""
    out = sys.stdout
    try:
        found = settings.resolve_mirror(mount_args, loaded)
    except (settings.ConfigError, MissingKeyError) as exc:
        print(f"error: {exc}", file=out)
        return 1
    mirror = found.mirror
    names = ", ".join(member.name for member in found.members)
    print(f"mirror {mirror.name!r}: members {names}", file=out)
    for name in sorted(mirror.remote.settings):
        if name not in ("api_url", *settings.KEY_SETTINGS):
            value = getattr(mount_args, name, mirror.remote.settings[name])
            print(f"  {name} = {value!r}{_origin(mirror.remote, name)}", file=out)
    verdicts = []
    for member in found.members:
        remote, member_args = member.remote, member.args
        print(f"member {member.name!r}:", file=out)
        print(f"  api_url: {member_args.api_url}{_origin(remote, 'api_url')}", file=out)
        print(f"  key: {member.key.masked} from {member.key.origin}", file=out)
        if member.key.path is not None:
            print(f"  key file: {member.key.path} ({_describe(member.key.path)})", file=out)
        own = remote.settings.keys() - mirror.remote.settings.keys()
        for name in sorted(own - {"api_url", *settings.KEY_SETTINGS}):
            print(f"  {name} = {getattr(member_args, name)!r}{_origin(remote, name)}", file=out)
        for warning in member.key.warnings:
            print(f"warning: {member.name}: {warning}", file=out)
        if args.online:
            verdicts.append(
                trio.run(_ask_server, member_args.api_url, member.key.key, args.timeout)
            )
            print(f"  online: {verdicts[-1][0]}", file=out)
    return 0 if all(ok for _, ok in verdicts) else 1


def _origin(remote: settings.Remote, name: str) -> str:
    path = remote.origins.get(name)
    return f"  (from {path})" if path else "  (default)"


def _describe(path: Path) -> str:
    info = path.stat()
    return f"mode {stat.S_IMODE(info.st_mode):04o}, uid {info.st_uid}"


async def _ask_server(api_url: str, key: str, budget: float) -> tuple[str, bool]:
    try:
        with trio.fail_after(budget):
            async with XvsClient(api_url, key, retry_budget=budget) as api:
                info = await api.account_info()
    except InsecureUrlError as exc:
        return str(exc), False
    except AuthError:
        return "the server refused the key", False
    except (ApiError, trio.TooSlowError) as exc:
        return f"cannot reach {api_url}: {exc or 'no answer'}", False
    return f"the server accepts the key (login {info.login})", True

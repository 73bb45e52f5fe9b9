"""Where a mount's settings come from: config files with named remotes, the environment, argv.

One module owns the order, so `vipfs mount`, `mount.vipfs` and `vipfs config check` cannot
disagree about it:

- files: `$VIPFS_CONFIG` or `--config FILE` alone; otherwise `/etc/vipfs/config.toml` (only
  for root) and then `~/.config/vipfs/config.toml` (`$XDG_CONFIG_HOME` honoured), the later
  file winning key by key;
- in a file, top-level keys are defaults for every remote and `[remotes.NAME]` tables hold
  `api_url`, `key_file` (or `key`, discouraged) and any `vipfs mount` option by its long name
  (`dir_cache_time = 60`); `default` is the remote used when none is named;
- an option given on the command line beats the remote's value, which beats the built-in default;
- a remote whose table holds `mirror = ["vip", "wish"]` is a mirror: its members are other
  remotes of the same config, each with its own api_url, key and options; a member's setting
  comes from argv, else its table, else the mirror's table, else the top-level keys, else the
  built-in default (`Config.mirror`, `resolve_mirror`);
- the key: `--key-file`, then `$VIPFS_KEY`, then the remote's `key_file`, then its `key`
  (a mirror member: its own `key_file` or `key` only, as every member is another account).
  A file holding the key (key file, or a config file with `key =`) that group or others may
  read is refused (`LooseKeyFileError`), as ssh refuses such a private key. `$VIPFS_KEY` is
  removed from the environment once read (`take_env_key`), so no child process inherits it.

Nothing here logs, prints or puts the key in an exception; `mask` is the only way it is shown.

Owns: the config files' order and merge, the key's sources, and turning a remote's TOML values
into option values. Imports: vipfs.mount_options (which keys a remote may set, and how each
value parses), vipfs.keyfile, vipfs.hygiene; never argparse's private classes.
"""

from __future__ import annotations

import argparse
import copy
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from vipfs.hygiene import take_env
from vipfs.keyfile import MissingKeyError, loose_key_file, read_key_file
from vipfs.mount_options import BY_NAME, DEFAULT_REMOTE, Deferred, Option, octal

SYSTEM_CONFIG = Path("/etc/vipfs/config.toml")
# settings that are not `vipfs mount` options but still belong in a remote's table
KEY_SETTINGS = ("key", "key_file")
MIRROR_KEY = "mirror"  # [remotes.NAME] mirror = ["vip", "wish"]: NAME is a mirror of those
MIN_MEMBERS = 2
# a member's name is part of xattr names (user.vipfs.<member>.code) and of a comma list
# (user.vipfs.members); a mirror's name is part of a directory name (mirror-<name>)
MEMBER_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


class ConfigError(Exception):
    """The config files cannot be used as they are; the message is one line for the user."""


def user_config() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
    return Path(base) / "vipfs" / "config.toml"


def config_paths(explicit: str | None = None) -> list[Path]:
    """The files to read, lowest priority first."""
    chosen = explicit or os.environ.get("VIPFS_CONFIG")
    if chosen:
        return [Path(chosen).expanduser()]
    paths = [SYSTEM_CONFIG] if os.geteuid() == 0 else []
    return [*paths, user_config()]


@dataclass(frozen=True)
class Remote:
    """One remote's settings (option dest → value) and the file that set each of them."""

    name: str
    settings: Mapping[str, object]
    origins: Mapping[str, Path] = field(default_factory=dict)
    declared: bool = True  # False: `default` with no table of its own


@dataclass(frozen=True)
class Config:
    looked: tuple[Path, ...]  # every file considered, in order
    read: tuple[Path, ...]  # those that existed and were read
    defaults: Mapping[str, object]
    tables: Mapping[str, Mapping[str, object]]
    origins: Mapping[tuple[str, str], Path]  # (remote or "", key) → file

    @property
    def remote_names(self) -> list[str]:
        return sorted(self.tables)

    def is_mirror(self, name: str) -> bool:
        return MIRROR_KEY in self.tables.get(name, {})

    def _where(self) -> str:
        return ", ".join(map(str, self.read)) or "no config file found: " + ", ".join(
            map(str, self.looked)
        )

    def remote(self, name: str = DEFAULT_REMOTE) -> Remote:
        if name not in self.tables and name != DEFAULT_REMOTE:
            raise ConfigError(f"no remote named {name!r} ([remotes.{name}] in {self._where()})")
        if self.is_mirror(name):
            raise ConfigError(f"remote {name!r} is a mirror; it is mounted as one (vipfs mount)")
        return self._layered(name, ("",), name)

    def _layered(self, name: str, under: tuple[str, ...], top: str) -> Remote:
        """The settings of `top`'s table over those of `under` (lowest first; "" is the
        top-level keys), without the `mirror` list, as remote `name`."""
        settings: dict[str, object] = {}
        origins: dict[str, Path] = {}
        for layer in (*under, top):
            table = self.defaults if layer == "" else self.tables.get(layer, {})
            for key, value in table.items():
                if key == MIRROR_KEY and layer != "":
                    continue
                settings[key] = value
                origins[key] = self.origins[(layer, key)]
        return Remote(name, settings, origins, declared=top in self.tables)

    def mirror(self, name: str) -> Mirror:
        """The mirror `name`: its own settings (the FUSE-level options, and defaults for its
        members) and each member's settings, in the order the list gives them."""
        table = self.tables.get(name, {})
        names = table.get(MIRROR_KEY)
        where = f"{self.origins.get((name, MIRROR_KEY), '?')}: [remotes.{name}]"
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ConfigError(
                f'{where} mirror must be a list of remote names, like mirror = ["vip", "wish"]'
            )
        if not MEMBER_NAME.fullmatch(name):
            raise ConfigError(f"{where}: a mirror's name may hold only letters, digits, - and _")
        if len(names) < MIN_MEMBERS:
            raise ConfigError(
                f"{where} mirror names {len(names)} remote(s); a mirror needs {MIN_MEMBERS} or more"
            )
        members = []
        for member in names:
            if names.count(member) > 1:
                raise ConfigError(f"{where} mirror names {member!r} twice")
            if member not in self.tables:
                raise ConfigError(
                    f"{where} mirror names {member!r}, but there is no [remotes.{member}] "
                    f"in {self._where()}"
                )
            if self.is_mirror(member):
                raise ConfigError(
                    f"{where} mirror names {member!r}, which is itself a mirror; "
                    "members are single hosts"
                )
            if not MEMBER_NAME.fullmatch(member):
                raise ConfigError(
                    f"{where} mirror names {member!r}: a member's name may hold only letters, "
                    "digits, - and _ (it is part of xattr names such as "
                    "user.vipfs.<member>.code)"
                )
            members.append(self._layered(member, ("", name), member))
        return Mirror(name, self._layered(name, ("",), name), tuple(members))


@dataclass(frozen=True)
class Mirror:
    """A mirror remote: `remote` is its own table over the top-level keys (the FUSE-level
    options come from it); `members` each layer their table over it."""

    name: str
    remote: Remote
    members: tuple[Remote, ...]


def load(explicit: str | None = None) -> Config:
    """Read and merge the config files; a file named explicitly must exist."""
    looked = config_paths(explicit)
    read: list[Path] = []
    defaults: dict[str, object] = {}
    tables: dict[str, dict[str, object]] = {}
    origins: dict[tuple[str, str], Path] = {}
    for path in looked:
        try:
            data = tomllib.loads(path.read_text())
        except FileNotFoundError:
            if explicit or os.environ.get("VIPFS_CONFIG"):
                raise ConfigError(f"the config file {path} does not exist") from None
            continue
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read {path}: {exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path} is not valid TOML: {exc}") from None
        read.append(path)
        remotes = data.pop("remotes", {})
        if not isinstance(remotes, dict):
            raise ConfigError(f"{path}: `remotes` must be tables like [remotes.NAME]")
        for key, value in _normalized(data, path, "top level").items():
            defaults[key] = value
            origins[("", key)] = path
        for name, table in remotes.items():
            if not isinstance(table, dict):
                raise ConfigError(f"{path}: remotes.{name} must be a table ([remotes.{name}])")
            merged = tables.setdefault(name, {})
            for key, value in _normalized(table, path, f"[remotes.{name}]").items():
                merged[key] = value
                origins[(name, key)] = path
    return Config(tuple(looked), tuple(read), defaults, tables, origins)


def _normalized(table: Mapping[str, object], path: Path, where: str) -> dict[str, object]:
    """Keys as option dests: `dir-cache-time` and `dir_cache_time` are the same setting."""
    out: dict[str, object] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            raise ConfigError(f"{path}: {key} in {where} is a table; only remotes hold tables")
        out[key.replace("-", "_")] = value
    return out


# --- command-line options over the remote's settings ------------------------------------------


def apply(args: argparse.Namespace, remote: Remote) -> None:
    """Replace each `Deferred` in `args` by the remote's value, or else by the table's default.

    A remote may set any option the table marks settable, plus `key`/`key_file`; any other key
    is refused (a typo would otherwise be ignored)."""
    for key in remote.settings:
        option = BY_NAME.get(key)
        if key not in KEY_SETTINGS and (option is None or not option.settable):
            raise ConfigError(
                f"{remote.origins.get(key, '?')}: unknown setting {key!r} for remote "
                f"{remote.name!r} (see `vipfs mount --help`)"
            )
    for name, value in list(vars(args).items()):
        if not isinstance(value, Deferred):
            continue  # given on the command line: it wins
        option = value.option
        if name in remote.settings:
            setattr(args, name, _coerce(option, remote.settings[name], remote))
        else:
            setattr(args, name, option.default)


def _coerce(option: Option, value: object, remote: Remote) -> object:
    """A TOML value as the option's value, through the parser argv's text goes through."""
    where = f"{remote.origins.get(option.dest, '?')}: {option.dest} (remote {remote.name!r})"
    if option.kind == "count":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{where} must be a number")
    if option.kind == "flag":
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where} must be true or false")
    if isinstance(value, bool) and option.kind == "optional":  # `true`: given without a value
        return option.const if value else option.default
    if isinstance(value, bool):
        raise ConfigError(f"{where} takes a value, not true/false")
    convert = option.parse
    if convert is None:
        return str(value)
    if isinstance(value, int | float) and convert is octal:
        return value  # umask = 0o022 in TOML is already the number
    if isinstance(value, str | int | float):
        try:  # a number as its text: `transfers = 0` meets the check `--transfers 0` does
            return convert(value if isinstance(value, str) else str(value))
        except argparse.ArgumentTypeError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        except (TypeError, ValueError):
            pass
    raise ConfigError(f"{where}: cannot use {value!r}")


# --- the key --------------------------------------------------------------------------------


@dataclass(frozen=True)
class FoundKey:
    """The key, where it came from, and what is wrong with how it is kept."""

    key: str = field(repr=False)
    origin: str
    path: Path | None = None
    warnings: tuple[str, ...] = ()

    @property
    def masked(self) -> str:
        return mask(self.key)


def mask(key: str) -> str:
    """Enough of a key to recognise it, never enough to use it: `45tz…6df`."""
    if len(key) < 12:
        return "…" * 3
    return f"{key[:4]}…{key[-3:]}"


def find_key(key_file: str | None, remote: Remote) -> FoundKey:
    env = take_env_key()  # out of the environment even when another source wins
    if key_file:
        return _from_file(Path(key_file).expanduser(), "--key-file")
    if env:
        return FoundKey(env, "$VIPFS_KEY")
    configured = remote.settings.get("key_file")
    if isinstance(configured, str) and configured:
        origin = remote.origins["key_file"]
        # a relative key_file sits beside the config file that names it, whatever the cwd
        return _from_file(origin.parent / Path(configured).expanduser(), f"key_file in {origin}")
    inline = remote.settings.get("key")
    if isinstance(inline, str) and inline.strip():
        source = remote.origins["key"]
        refusal = _loose(source, "config file holding a key")
        if refusal is not None:
            raise refusal
        warnings = (f"the key is written in {source}; prefer key_file = a 0600 file",)
        return FoundKey(inline.strip(), f"key in {source}", source, warnings)
    files = ", ".join(map(str, dict.fromkeys(remote.origins.values())))
    where = files if remote.declared and files else str(user_config())
    raise MissingKeyError(
        f"no API key: use --key-file FILE, $VIPFS_KEY, "
        f"or key_file in [remotes.{remote.name}] of {where}"
    )


def take_env_key() -> str:
    """`$VIPFS_KEY`, gone from the environment once read: from `os.environ` (so no child
    inherits it) and from this process's /proc/PID/environ."""
    return take_env("VIPFS_KEY").strip()


def _from_file(path: Path, origin: str) -> FoundKey:
    return FoundKey(read_key_file(path), origin, path)


def _loose(path: Path, what: str) -> MissingKeyError | None:
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    return loose_key_file(path, mode, what)


@dataclass(frozen=True)
class MountSettings:
    remote: Remote
    key: FoundKey
    config: Config


def resolve(args: argparse.Namespace, config: Config | None = None) -> MountSettings:
    """Settle `vipfs mount` arguments in place from the config; find the key.

    Raises ConfigError or MissingKeyError with the line to show the user.
    """
    config = config or load(args.config)
    remote = config.remote(args.remote or DEFAULT_REMOTE)
    apply(args, remote)
    return MountSettings(remote, find_key(args.key_file, remote), config)


@dataclass(frozen=True)
class MemberSettings:
    """One member of a mirror: its own settled arguments and its own key."""

    remote: Remote
    args: argparse.Namespace
    key: FoundKey

    @property
    def name(self) -> str:
        return self.remote.name


@dataclass(frozen=True)
class MirrorSettings:
    mirror: Mirror
    members: tuple[MemberSettings, ...]
    config: Config


def resolve_mirror(args: argparse.Namespace, config: Config | None = None) -> MirrorSettings:
    """Settle a mirror's arguments in place (its own table: the FUSE-level options) and each
    member's in a copy (argv > the member's table > the mirror's > the top level > built-in);
    find each member's key in its own table.

    Raises ConfigError or MissingKeyError with the line to show the user."""
    config = config or load(args.config)
    args.remote = args.remote or DEFAULT_REMOTE  # `default` may be a mirror too
    mirror = config.mirror(args.remote)
    given_env = bool(take_env_key())  # out of the environment whatever happens next
    if args.key_file or given_env:
        raise ConfigError(
            f"mirror {mirror.name!r}: each member uses its own key_file; "
            "--key-file and $VIPFS_KEY name one key, for one remote"
        )
    members = []
    for remote in mirror.members:
        member_args = copy.copy(args)  # before `apply` below settles the mirror's own
        member_args.remote = remote.name
        apply(member_args, remote)
        members.append(MemberSettings(remote, member_args, find_key(None, remote)))
    apply(args, mirror.remote)
    return MirrorSettings(mirror, tuple(members), config)

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
- the key: `--key-file`, then `$VIPFS_KEY`, then the remote's `key_file`, then its `key`.
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
import os
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

    def remote(self, name: str = DEFAULT_REMOTE) -> Remote:
        if name not in self.tables and name != DEFAULT_REMOTE:
            where = ", ".join(map(str, self.read)) or "no config file found: " + ", ".join(
                map(str, self.looked)
            )
            raise ConfigError(f"no remote named {name!r} ([remotes.{name}] in {where})")
        settings = {**self.defaults, **self.tables.get(name, {})}
        origins = {
            key: self.origins.get((name, key)) or self.origins[("", key)] for key in settings
        }
        return Remote(name, settings, origins, declared=name in self.tables)


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


def resolve(args: argparse.Namespace) -> MountSettings:
    """Settle `vipfs mount` arguments in place from the config; find the key.

    Raises ConfigError or MissingKeyError with the line to show the user.
    """
    config = load(args.config)
    remote = config.remote(args.remote or DEFAULT_REMOTE)
    apply(args, remote)
    return MountSettings(remote, find_key(args.key_file, remote), config)

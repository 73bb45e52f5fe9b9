"""Where the API key comes from: a key file, `$VIPFS_KEY`, or the user's config. Never argv.

A key file holds the key on its first line that is not blank or a `#` comment; a `login = NAME`
line may sit beside it (the emulator writes one).

The key is read, stripped and handed over; nothing here logs or prints it.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

CONFIG = Path("~/.config/vipfs/config.toml")
_LOGIN = re.compile(r"^login\s*=", re.IGNORECASE)


class MissingKeyError(Exception):
    """No usable key; the message says where vipfs looked."""


def load_key(key_file: str | None, *, config: Path = CONFIG) -> str:
    if key_file:
        return _read(Path(key_file).expanduser())
    env = os.environ.get("VIPFS_KEY", "").strip()
    if env:
        return env
    path = config.expanduser()
    if path.exists():
        try:
            data = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise MissingKeyError(f"cannot read {path}: {exc}") from None
        if isinstance(data.get("key"), str) and data["key"].strip():
            return str(data["key"]).strip()
        if isinstance(data.get("key_file"), str):
            return _read(Path(data["key_file"]).expanduser())
    raise MissingKeyError(f"no API key: use --key-file FILE, $VIPFS_KEY, or key_file in {config}")


def _read(path: Path) -> str:
    """The key of a key file: its first line that is not blank, a `#` comment or `login = ...`."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise MissingKeyError(f"cannot read the key file {path}: {exc.strerror}") from None
    for raw in text.splitlines():
        line = raw.strip()
        if line and not line.startswith("#") and not _LOGIN.match(line):
            return line
    raise MissingKeyError(f"the key file {path} holds no key")

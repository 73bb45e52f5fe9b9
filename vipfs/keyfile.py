"""Where the API key comes from: a key file, `$VIPFS_KEY`, or the user's config. Never argv.

The key is read, stripped and handed over; nothing here logs or prints it.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

CONFIG = Path("~/.config/vipfs/config.toml")


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
    try:
        key = path.read_text().strip()
    except OSError as exc:
        raise MissingKeyError(f"cannot read the key file {path}: {exc.strerror}") from None
    if not key:
        raise MissingKeyError(f"the key file {path} is empty")
    return key

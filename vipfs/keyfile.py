"""The key file format: the key on its first line that is not blank or a `#` comment; a
`login = NAME` line may sit beside it (the emulator writes one).

Which file (or `$VIPFS_KEY`, or the config) supplies the key is `vipfs.config`'s business.
The key is read, stripped and handed over; nothing here logs or prints it.
"""

from __future__ import annotations

import re
from pathlib import Path

_LOGIN = re.compile(r"^login\s*=", re.IGNORECASE)


class MissingKeyError(Exception):
    """No usable key; the message says where vipfs looked."""


def read_key_file(path: Path) -> str:
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

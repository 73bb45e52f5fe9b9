"""The key file format: the key on its first line that is not blank or a `#` comment; a
`login = NAME` line may sit beside it (the emulator writes one).

Owns: reading a key file (format and mode check).
Imports: the standard library only.

A key file that group or others may read is refused, as ssh refuses such a private key: the
key would already be out. The mode is checked on the descriptor the key is read from, so a
file swapped between the check and the read cannot slip through.

Which file (or `$VIPFS_KEY`, or the config) supplies the key is `vipfs.config`'s business.
The key is read, stripped and handed over; nothing here logs or prints it.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

_LOGIN = re.compile(r"^login\s*=", re.IGNORECASE)


class MissingKeyError(Exception):
    """No usable key; the message says where vipfs looked."""


class LooseKeyFileError(MissingKeyError):
    """The file holding the key is readable by group or others; the message says `chmod 600`."""


def loose_key_file(path: Path, mode: int, what: str = "key file") -> LooseKeyFileError | None:
    """The refusal for a file holding a key with these permission bits, if they are too loose."""
    if not mode & 0o077:
        return None
    return LooseKeyFileError(
        f"the {what} {path} is readable by others (mode {stat.S_IMODE(mode):04o}); "
        f"run chmod 600 {path}"
    )


def read_key_file(path: Path) -> str:
    """The key of a key file: its first line that is not blank, a `#` comment or `login = ...`."""
    try:
        with open(path, "rb") as handle:
            refusal = loose_key_file(path, os.fstat(handle.fileno()).st_mode)
            if refusal is not None:
                raise refusal
            text = handle.read().decode("utf-8", errors="replace")
    except OSError as exc:
        raise MissingKeyError(f"cannot read the key file {path}: {exc.strerror}") from None
    for raw in text.splitlines():
        line = raw.strip()
        if line and not line.startswith("#") and not _LOGIN.match(line):
            return line
    raise MissingKeyError(f"the key file {path} holds no key")

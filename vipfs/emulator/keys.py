"""API key files: the key alone on the first non-empty, non-`#` line, optionally `login = NAME`.

Owns: the emulator's key files and the key -> user mapping.
Imports: the standard library only; never `vipfs.api` or `vipfs.vfs`.

vipfs reads the same format. Keys are secrets: nothing here prints or logs one.
"""

from __future__ import annotations

import os
import re
import secrets
import string
from pathlib import Path

KEY_RE = re.compile(r"^(\d+)(\w{16})$")
_LOGIN_RE = re.compile(r"^login\s*=\s*(\S.*)$", re.IGNORECASE)


class KeyFileError(Exception):
    pass


def read_key_file(path: Path) -> tuple[str, str | None]:
    """(key, login or None). The key's format is checked; its value never goes into a message."""
    key: str | None = None
    login: str | None = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = _LOGIN_RE.match(line)
        if m:
            login = m.group(1).strip()
        elif key is None:
            key = line
    if key is None or not KEY_RE.match(key):
        raise KeyFileError(f"{path}: no key of the form <digits><16 word characters>")
    return key, login


def user_id(key: str) -> int:
    """The account id a key carries (the regex backtracks: `45tzu…` is user 4)."""
    m = KEY_RE.match(key)
    if m is None:
        raise KeyFileError("malformed key")
    return int(m.group(1))


def generate_key(usr_id: int) -> str:
    # A letter first, so the id the regex reads back is exactly `usr_id`.
    tail = secrets.choice(string.ascii_lowercase) + "".join(
        secrets.choice(string.ascii_lowercase + string.digits) for _ in range(15)
    )
    return f"{usr_id}{tail}"


def write_key_file(path: Path, key: str, login: str | None = None) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("# vipfs emulator API key\n" + key + "\n")
        if login:
            f.write(f"login = {login}\n")
    os.chmod(path, 0o600)

"""The key file format: comments, blank lines and a `login = ...` line around the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from vipfs.keyfile import MissingKeyError, read_key_file

KEY = "1abcdefghijklmnop"


def test_key_file_with_comments_and_login(tmp_path: Path) -> None:
    path = tmp_path / "key"
    path.write_text(f"# my key\n\nlogin = demo\n  {KEY}  \nsecond line\n")
    assert read_key_file(path) == KEY


def test_empty_or_missing_key_file(tmp_path: Path) -> None:
    (tmp_path / "empty").write_text("# nothing\nlogin = x\n")
    with pytest.raises(MissingKeyError, match="holds no key"):
        read_key_file(tmp_path / "empty")
    with pytest.raises(MissingKeyError, match="cannot read the key file"):
        read_key_file(tmp_path / "absent")

"""The key file format: comments, blank lines and a `login = ...` line around the key; and a
key file others may read is refused, as ssh refuses such a private key."""

from __future__ import annotations

from pathlib import Path

import pytest

from vipfs.keyfile import LooseKeyFileError, MissingKeyError, read_key_file

KEY = "1abcdefghijklmnop"


def private(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


def test_key_file_with_comments_and_login(tmp_path: Path) -> None:
    path = private(tmp_path / "key", f"# my key\n\nlogin = demo\n  {KEY}  \nsecond line\n")
    assert read_key_file(path) == KEY


def test_empty_or_missing_key_file(tmp_path: Path) -> None:
    private(tmp_path / "empty", "# nothing\nlogin = x\n")
    with pytest.raises(MissingKeyError, match="holds no key"):
        read_key_file(tmp_path / "empty")
    with pytest.raises(MissingKeyError, match="cannot read the key file"):
        read_key_file(tmp_path / "absent")


@pytest.mark.parametrize("mode", [0o604, 0o640, 0o644, 0o666, 0o700 | 0o070])
def test_a_key_file_readable_by_group_or_others_is_refused(tmp_path: Path, mode: int) -> None:
    path = private(tmp_path / "key", f"{KEY}\n", mode)
    with pytest.raises(LooseKeyFileError) as caught:
        read_key_file(path)
    message = str(caught.value)
    assert message.endswith(f"chmod 600 {path}") and KEY not in message
    assert "\n" not in message


def test_a_symlink_is_judged_by_the_file_it_names(tmp_path: Path) -> None:
    target = private(tmp_path / "key", f"{KEY}\n", 0o644)
    link = tmp_path / "link"
    link.symlink_to(target)
    with pytest.raises(LooseKeyFileError):
        read_key_file(link)
    target.chmod(0o400)
    assert read_key_file(link) == KEY

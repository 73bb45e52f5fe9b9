"""Where the key comes from, in order: --key-file, $VIPFS_KEY, config.toml."""

from __future__ import annotations

from pathlib import Path

import pytest

from vipfs.keyfile import MissingKeyError, load_key

KEY = "1abcdefghijklmnop"


def test_key_file_with_comments_and_login(tmp_path: Path) -> None:
    path = tmp_path / "key"
    path.write_text(f"# my key\n\nlogin = demo\n{KEY}\n")
    assert load_key(str(path), config=tmp_path / "none.toml") == KEY


def test_env_then_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config.toml"
    monkeypatch.setenv("VIPFS_KEY", "from-env")
    assert load_key(None, config=config) == "from-env"
    monkeypatch.delenv("VIPFS_KEY")
    (tmp_path / "k").write_text(KEY + "\n")
    config.write_text(f'key_file = "{tmp_path / "k"}"\n')
    assert load_key(None, config=config) == KEY
    config.write_text('key = "inline"\n')
    assert load_key(None, config=config) == "inline"


def test_missing_key_says_where_to_put_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VIPFS_KEY", raising=False)
    with pytest.raises(MissingKeyError, match="--key-file"):
        load_key(None, config=tmp_path / "none.toml")
    (tmp_path / "empty").write_text("# nothing\n")
    with pytest.raises(MissingKeyError, match="holds no key"):
        load_key(str(tmp_path / "empty"))

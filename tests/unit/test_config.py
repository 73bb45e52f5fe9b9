"""Config files with named remotes: which file, which remote, which value wins, which key."""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from vipfs import config, mount
from vipfs.keyfile import LooseKeyFileError, MissingKeyError

KEY = "45tzu7ub0wtftr6df"


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """No real config, key or system file leaks into a test."""
    for name in ("VIPFS_KEY", "VIPFS_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(config, "SYSTEM_CONFIG", tmp_path / "etc" / "config.toml")
    yield tmp_path


def write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path


def user_file(tmp_path: Path, text: str) -> Path:
    return write(tmp_path / "xdg" / "vipfs" / "config.toml", text)


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    mount.configure(parser)
    return parser.parse_args(argv)


def test_remote_is_optional_before_mountpoint() -> None:
    assert (parse("/mnt").remote, parse("/mnt").mountpoint) == (None, "/mnt")
    args = parse("myremote", "/mnt", "-f")
    assert (args.remote, args.mountpoint, args.foreground) == ("myremote", "/mnt", True)


def test_remote_fills_what_argv_left_out(tmp_path: Path) -> None:
    key = write(tmp_path / "key", KEY + "\n")
    user_file(
        tmp_path,
        f"""
dir_cache_time = 10          # a default for every remote
[remotes.work]
api_url = "http://127.0.0.1:9/api"
key_file = "{key}"
dir-cache-time = 60
attr_timeout = 2
allow_other = true
umask = "027"
verbose = 1
""",
    )
    loud = parse("work", "/mnt", "-vv")
    config.resolve(loud)
    assert loud.verbose == 2
    args = parse("work", "/mnt", "--attr-timeout", "1")  # 1 is also the built-in default
    found = config.resolve(args)
    assert args.api_url == "http://127.0.0.1:9/api"
    assert args.dir_cache_time == 60.0
    assert args.attr_timeout == 1.0  # given on the command line: beats the file
    assert args.allow_other is True and args.umask == 0o027 and args.verbose == 1
    plain = argparse.ArgumentParser()
    mount.configure(plain)
    assert args.op_timeout == plain.get_default("op_timeout").value  # nobody set it
    assert args.foreground is False
    assert found.key.key == KEY and found.key.path == key and not found.key.warnings
    assert "key_file in" in found.key.origin

    other = parse("/mnt")  # the default remote: only the top-level defaults
    with pytest.raises(MissingKeyError, match=r"no API key: .*\[remotes.default\]"):
        config.resolve(other)
    assert other.dir_cache_time == 10.0 and other.api_url == mount.DEFAULT_API_URL


def test_user_file_overrides_system_file_key_by_key(tmp_path: Path) -> None:
    write(config.SYSTEM_CONFIG, '[remotes.a]\napi_url = "http://sys/api"\nattr_timeout = 5\n')
    user = user_file(tmp_path, '[remotes.a]\napi_url = "http://user/api"\n')
    loaded = config.load()
    assert loaded.read == (config.SYSTEM_CONFIG, user)  # we run as root: /etc is read first
    remote = loaded.remote("a")
    assert remote.settings == {"api_url": "http://user/api", "attr_timeout": 5}
    assert remote.origins["attr_timeout"] == config.SYSTEM_CONFIG


def test_explicit_config_file_is_the_only_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user_file(tmp_path, "[remotes.a]\n")
    only = write(tmp_path / "only.toml", "[remotes.b]\n")
    assert config.load(str(only)).remote_names == ["b"]
    monkeypatch.setenv("VIPFS_CONFIG", str(only))
    assert config.load().remote_names == ["b"]
    with pytest.raises(config.ConfigError, match="does not exist"):
        config.load(str(tmp_path / "absent.toml"))


@pytest.mark.parametrize(
    ("text", "argv", "message"),
    [
        ("[remotes.a]\n", ("nope", "/mnt"), "no remote named 'nope'"),
        ("[remotes.a]\nspeed = 3\n", ("a", "/mnt"), "unknown setting 'speed'"),
        ("[remotes.a]\nmountpoint = '/x'\n", ("a", "/mnt"), "unknown setting 'mountpoint'"),
        ("[remotes.a]\nallow_other = 'yes'\n", ("a", "/mnt"), "must be true or false"),
        ("[remotes.a]\ndir_cache_time = true\n", ("a", "/mnt"), "not true/false"),
        ("[remotes.a]\ndir_cache_time = 'soon'\n", ("a", "/mnt"), "'soon' is not a number"),
        ("[remotes.a\n", ("a", "/mnt"), "is not valid TOML"),
        ("remotes = 3\n", ("a", "/mnt"), "must be tables"),
    ],
)
def test_bad_config_says_what_and_where(
    tmp_path: Path, text: str, argv: tuple[str, ...], message: str
) -> None:
    path = user_file(tmp_path, text)
    with pytest.raises(config.ConfigError, match=message) as caught:
        config.resolve(parse(*argv))
    assert str(path) in str(caught.value) or "remote named" in str(caught.value)


def test_key_order_file_env_remote_file_inline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli_key = write(tmp_path / "cli.key", "1clikey000000000\n")
    remote_key = write(tmp_path / "remote.key", KEY + "\n")
    path = user_file(tmp_path, f'[remotes.a]\nkey_file = "{remote_key}"\nkey = "inline-key-000"\n')
    remote = config.load().remote("a")
    monkeypatch.setenv("VIPFS_KEY", "1envkey0000000000")
    assert config.find_key(str(cli_key), remote).key == "1clikey000000000"
    assert "VIPFS_KEY" not in os.environ  # taken out even when --key-file wins
    monkeypatch.setenv("VIPFS_KEY", "1envkey0000000000")
    assert config.find_key(None, remote).origin == "$VIPFS_KEY"
    assert "VIPFS_KEY" not in os.environ  # taken once read
    found = config.find_key(None, remote)
    assert found.key == KEY and not found.warnings
    path.write_text('[remotes.a]\nkey = "inline-key-000"\n')
    found = config.find_key(None, config.load().remote("a"))
    assert found.key == "inline-key-000"
    assert any("prefer key_file" in w for w in found.warnings)


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660])
def test_a_key_readable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    key = write(tmp_path / "remote.key", KEY + "\n", mode=mode)
    path = user_file(tmp_path, f'[remotes.a]\nkey_file = "{key}"\n')
    with pytest.raises(LooseKeyFileError) as caught:
        config.find_key(None, config.load().remote("a"))
    assert str(caught.value) == (
        f"the key file {key} is readable by others (mode {mode:04o}); run chmod 600 {key}"
    )
    with pytest.raises(LooseKeyFileError, match=f"chmod 600 {key}$"):
        config.find_key(str(key), config.load().remote("a"))
    path.write_text('[remotes.a]\nkey = "inline-key-000"\n')
    path.chmod(mode)
    with pytest.raises(LooseKeyFileError, match=f"config file holding a key {path} .*chmod 600"):
        config.find_key(None, config.load().remote("a"))
    key.chmod(0o400)
    assert config.find_key(str(key), config.load().remote("a")).key == KEY


def test_top_level_key_file_still_works(tmp_path: Path) -> None:
    """The layout vipfs read before remotes existed: key_file at the top of config.toml."""
    key = write(tmp_path / "key", f"login = me\n{KEY}\n")
    user_file(tmp_path, f'key_file = "{key}"\n')
    assert config.resolve(parse("/mnt")).key.key == KEY


def test_mask_never_shows_the_key() -> None:
    assert config.mask(KEY) == "45tz…6df"
    assert config.mask("short") == "………"
    found = config.FoundKey(KEY, "test")
    assert KEY not in repr(found) and found.masked == "45tz…6df"


def test_relative_key_file_is_beside_its_config(tmp_path: Path) -> None:
    path = user_file(tmp_path, '[remotes.a]\nkey_file = "a.key"\n')
    write(path.parent / "a.key", KEY + "\n")
    found = config.find_key(None, config.load().remote("a"))
    assert found.key == KEY and found.path == path.parent / "a.key"


def test_state_dir_is_a_setting_like_the_others(tmp_path: Path) -> None:
    key = write(tmp_path / "key", KEY + "\n")
    user_file(
        tmp_path,
        f'[remotes.work]\nkey_file = "{key}"\nstate_dir = "/srv/vipfs/state"\n'
        'cache_dir = "/var/cache/vipfs"\n',
    )
    args = parse("work", "/mnt")
    config.resolve(args)
    assert (args.state_dir, args.cache_dir) == ("/srv/vipfs/state", "/var/cache/vipfs")
    given = parse("work", "/mnt", "--state-dir", "/elsewhere")
    config.resolve(given)
    assert given.state_dir == "/elsewhere"


def test_embed_url_is_a_remote_setting_checked_as_argv_is(tmp_path: Path) -> None:
    key = write(tmp_path / "key", KEY + "\n")
    user_file(
        tmp_path, f'[remotes.a]\nkey_file = "{key}"\nembed_url = "https://e.example/e/{{code}}"\n'
    )
    args = parse("a", "/mnt")
    config.resolve(args)
    assert args.embed_url == "https://e.example/e/{code}"
    user_file(tmp_path, f'[remotes.a]\nkey_file = "{key}"\nembed_url = "https://e.example/e/"\n')
    with pytest.raises(config.ConfigError, match=r"embed_url.*has no \{code\}"):
        config.resolve(parse("a", "/mnt"))

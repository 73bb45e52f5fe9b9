"""A mirror remote in the config: its members, each member's settings, the one-line errors."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pytest

from tests.unit.test_config import isolated, parse, user_file, write
from vipfs import config, mount

__all__ = ["isolated"]  # the autouse fixture: no real config or key leaks in

VIP_KEY = "vipkey0000000001"
WISH_KEY = "wishkey000000002"


def two_members(tmp_path: Path, extra: str = "") -> Path:
    vip = write(tmp_path / "vip.key", VIP_KEY + "\n")
    wish = write(tmp_path / "wish.key", WISH_KEY + "\n")
    return user_file(
        tmp_path,
        f"""
dir_cache_time = 10            # top level: under everything
attr_timeout = 3
[remotes.vip]
api_url = "http://127.0.0.1:9/vip"
key_file = "{vip}"
dir_cache_time = 60            # the member's own: beats the mirror's
[remotes.wish]
api_url = "http://127.0.0.1:9/wish"
key_file = "{wish}"
[remotes.all]
mirror = ["vip", "wish"]
dir_cache_time = 30            # the mirror's: beats the top level
transfers = 2
allow_other = true
{extra}
""",
    )


def test_members_layer_argv_member_mirror_top_level_builtin(tmp_path: Path) -> None:
    two_members(tmp_path)
    args = parse("all", "/mnt", "--transfers", "5")
    found = config.resolve_mirror(args)
    vip, wish = found.members
    assert [m.name for m in found.members] == ["vip", "wish"]  # the list's order
    assert (vip.key.key, wish.key.key) == (VIP_KEY, WISH_KEY)  # each its own key
    assert vip.args.api_url == "http://127.0.0.1:9/vip"
    assert wish.args.api_url == "http://127.0.0.1:9/wish"
    assert vip.args.dir_cache_time == 60.0  # its table
    assert wish.args.dir_cache_time == 30.0  # the mirror's table
    assert vip.args.attr_timeout == 3.0  # the top level
    assert vip.args.transfers == wish.args.transfers == 5  # argv beats every table
    plain = argparse.ArgumentParser()
    mount.configure(plain)
    assert vip.args.op_timeout == plain.get_default("op_timeout").value  # built-in
    assert args.allow_other is True and args.dir_cache_time == 30.0  # the mirror's own
    assert "mirror" not in found.mirror.remote.settings


def test_a_single_host_remote_is_not_a_mirror(tmp_path: Path) -> None:
    two_members(tmp_path)
    loaded = config.load()
    assert loaded.is_mirror("all") and not loaded.is_mirror("vip")
    with pytest.raises(config.ConfigError, match="'all' is a mirror"):
        config.resolve(parse("all", "/mnt"))


@pytest.mark.parametrize(
    ("mirror", "message"),
    [
        ('"vip"', r"must be a list of remote names"),
        ('["vip"]', r"names 1 remote\(s\); a mirror needs 2 or more"),
        ('["vip", "vip"]', r"names 'vip' twice"),
        ('["vip", "lulu"]', r"names 'lulu', but there is no \[remotes.lulu\]"),
        ('["vip", "other"]', r"names 'other', which is itself a mirror"),
        ('["vip", 3]', r"must be a list of remote names"),
    ],
)
def test_bad_member_lists_are_one_line(tmp_path: Path, mirror: str, message: str) -> None:
    path = user_file(
        tmp_path,
        f'[remotes.vip]\n[remotes.wish]\n[remotes.other]\nmirror = ["vip", "wish"]\n'
        f"[remotes.bad]\nmirror = {mirror}\n",
    )
    with pytest.raises(config.ConfigError, match=message) as caught:
        config.resolve_mirror(parse("bad", "/mnt"))
    assert "\n" not in str(caught.value) and str(path) in str(caught.value)


def test_a_member_name_must_fit_an_xattr_name(tmp_path: Path) -> None:
    user_file(
        tmp_path, '[remotes."a.b"]\n[remotes.wish]\n[remotes.all]\nmirror = ["a.b", "wish"]\n'
    )
    with pytest.raises(config.ConfigError, match=r"only letters, digits, - and _"):
        config.resolve_mirror(parse("all", "/mnt"))


def test_one_key_for_every_member_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    two_members(tmp_path)
    key = write(tmp_path / "one.key", VIP_KEY + "\n")
    with pytest.raises(config.ConfigError, match="each member uses its own key_file"):
        config.resolve_mirror(parse("all", "/mnt", "--key-file", str(key)))
    monkeypatch.setenv("VIPFS_KEY", VIP_KEY)
    with pytest.raises(config.ConfigError, match="each member uses its own key_file"):
        config.resolve_mirror(parse("all", "/mnt"))
    assert "VIPFS_KEY" not in os.environ  # taken out even though refused


def test_a_setting_no_option_has_is_refused_in_the_mirror_table(tmp_path: Path) -> None:
    two_members(tmp_path, "speed = 3\n")
    with pytest.raises(config.ConfigError, match="unknown setting 'speed'"):
        config.resolve_mirror(parse("all", "/mnt"))


def test_the_default_remote_may_be_a_mirror(tmp_path: Path) -> None:
    two_members(tmp_path, '[remotes.default]\nmirror = ["wish", "vip"]\n')
    args = parse("/mnt")
    found = config.resolve_mirror(args)
    assert args.remote == "default" and [m.name for m in found.members] == ["wish", "vip"]

"""mount.vipfs: fstab options → `vipfs mount` arguments."""

from __future__ import annotations

import subprocess
import sys

import pytest

from vipfs.cli import is_mount_helper_call
from vipfs.mount_helper import HelperError, split_options, translate


def test_fstab_line_becomes_a_vipfs_mount_command() -> None:
    done = translate(
        "vipfs#work",
        "/mnt/vip",
        ["_netdev,nofail,x-systemd.automount,key_file=/etc/vipfs/key", "dir_cache_time=300,rw"],
    )
    assert done.remote == "work" and done.mountpoint == "/mnt/vip"
    assert done.options == ["--key-file", "/etc/vipfs/key", "--dir-cache-time", "300"]
    assert done.dropped == ["_netdev", "nofail", "x-systemd.automount", "rw"]
    assert done.command()[-7:] == [
        "mount", "work", "/mnt/vip", "--key-file", "/etc/vipfs/key", "--dir-cache-time", "300",
    ]  # fmt: skip
    assert done.command()[1:3] == ["-m", "vipfs"]  # no PATH lookup: mount(8) clears PATH


def test_source_forms_and_flags() -> None:
    assert translate("vipfs#", "/m", []).remote == "default"
    assert translate("default", "/m", []).remote == "default"
    flags = translate("x", "/m", ["allow_other,uid=1000,gid=100,umask=027,dev,suid,defaults"])
    assert flags.options == ["--allow-other", "--uid", "1000", "--gid", "100", "--umask", "027"]
    config = translate("x", "/m", ["config=/etc/vipfs/a.toml", 'cache_dir="/var/c,d"'])
    assert config.options == ["--config", "/etc/vipfs/a.toml", "--cache-dir", "/var/c,d"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ("key=1abcdefghijklmnop", "use key_file=PATH"),
        ("foreground", "wait forever"),
        ("dir_cache=3", "not an option of vipfs mount"),
        ("allow_other=1", "is a flag"),
        ("key_file", "needs a value"),
        ("key_file=", "needs a value"),
        ('cache_dir="/x', "unbalanced quote"),
    ],
)
def test_bad_options_fail_the_mount(options: str, message: str) -> None:
    with pytest.raises(HelperError, match=message):
        translate("default", "/m", [options])


def test_sloppy_drops_unknown_options_but_never_a_key() -> None:
    done = translate("default", "/m", ["dir_cache=3,allow_other"], sloppy=True)
    assert done.options == ["--allow-other"] and done.unknown == ["dir_cache=3"]
    with pytest.raises(HelperError):
        translate("default", "/m", ["key=abc"], sloppy=True)


def test_read_only_needs_the_mount_to_support_it() -> None:
    with pytest.raises(HelperError, match="-o ro"):
        translate("default", "/m", ["ro"], known={})


def test_split_options_keeps_quoted_commas() -> None:
    assert split_options('a,b="c,d",,e=') == ["a", "b=c,d", "e="]


def test_vipfs_recognises_mount_fuse3_calls() -> None:
    assert is_mount_helper_call(["default", "/mnt", "-o", "rw"])
    assert is_mount_helper_call(["default", "/mnt"])
    assert not is_mount_helper_call(["mount", "/mnt"])
    assert not is_mount_helper_call(["--version"])
    assert not is_mount_helper_call(["emulator"])


def test_fake_and_verbose_print_the_command_without_running_it() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "vipfs", "vipfs#work", "/mnt/x", "-f", "-v", "-o",
         "_netdev,key_file=/k,dir_cache_time=9"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "left to mount(8): _netdev" in done.stderr
    assert "-m vipfs mount work /mnt/x --key-file /k --dir-cache-time 9" in done.stderr
    refused = subprocess.run(
        [sys.executable, "-m", "vipfs.mount_helper", "default", "/mnt/x", "-o", "key=secret1234"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert refused.returncode == 1 and "secret1234" not in refused.stderr


def test_nonempty_is_allow_non_empty() -> None:
    """fuse2's and rclone's word for mounting over entries."""
    assert translate("default", "/m", ["nonempty"]).options == ["--allow-non-empty"]
    assert translate("default", "/m", ["allow_non_empty"]).options == ["--allow-non-empty"]

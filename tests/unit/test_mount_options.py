"""The option table: every option reaches the setting its `goes` names, with its own value."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import pytest

from vipfs import config, mount, mount_options
from vipfs.mount_options import OPTIONS, Option

KEY = "45tzu7ub0wtftr6df"

# argv text for an option, by its parser: a value no default has
SAMPLES: dict[object, str] = {
    float: "7.5",
    int: "7",
    mount_options.octal: "027",
    mount_options.byte_size: "128K",
    mount_options.non_negative_int: "7",
    mount_options.positive_float: "7.5",
    mount_options.positive_int: "7",
    mount_options.non_negative_float: "7.5",
    mount_options.subtype: "sshfs",
    mount_options.process_names: "gimp",
    mount_options.extension: ".mkv",
    mount_options.dedupe_mode: "off",
    mount_options.embed_template: "https://embed.example/e/{code}",
    None: "/srv/sample",
}
# where the mount's settings are not the option's value itself
TRANSFORMED: dict[str, Callable[[object], object]] = {
    "trash": lambda value: not value,
    "cache_dir": lambda value: Path(str(value)),
    "state_dir": lambda value: Path(str(value)),
}
ROUTED = [o for o in OPTIONS if o.goes not in ("config", "process", "mountpoint")]


def settled(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    mount.configure(parser)
    args = parser.parse_args([*argv, "/mnt"])
    config.apply(args, config.Remote("default", {}))
    return args


def landed(option: Option, args: argparse.Namespace) -> object:
    value: object = mount.mount_config(args, KEY)
    for part in option.goes.split("."):
        value = getattr(value, part)
    return value


@pytest.mark.parametrize("option", ROUTED, ids=lambda o: o.dest)
def test_every_option_lands_where_the_table_says(option: Option) -> None:
    flag = option.flags[-1]
    argv = [flag] if option.kind == "flag" else [f"{flag}={SAMPLES[option.parse]}"]
    args = settled(*argv)
    given = getattr(args, option.dest)
    assert given != option.default  # the sample is not the default
    expected = TRANSFORMED.get(option.goes, lambda value: value)(given)
    assert landed(option, args) == expected
    assert landed(option, settled()) != expected  # and without it, the setting differs


def test_defaults_come_from_the_table() -> None:
    args = settled()
    for option in OPTIONS:
        if option.settable:
            assert getattr(args, option.dest) == option.default, option.dest


def test_a_remote_may_set_only_what_the_table_marks_settable() -> None:
    settable = {o.dest for o in OPTIONS if o.settable}
    assert "dir_cache_time" in settable and "write_back" in settable
    assert not settable & {"remote", "mountpoint", "config", "key_file"}
    assert all(o.dest.replace("_", "-") in o.flags[-1] for o in OPTIONS)


@pytest.mark.parametrize(("text", "ext"), [("mp4", ".mp4"), (".mkv", ".mkv"), ("", "")])
def test_default_extension_takes_with_or_without_the_dot(text: str, ext: str) -> None:
    assert mount_options.extension(text) == ext
    options = mount.mount_config(settled(f"--default-extension={text}"), KEY).options
    assert options.titles.default_extension == ext


@pytest.mark.parametrize("text", ["a/b", "mp\0", ".", "." + "x" * 16])
def test_default_extension_refuses_nonsense_in_one_line(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError) as caught:
        mount_options.extension(text)
    assert "\n" not in str(caught.value) and "extension" in str(caught.value)


def test_dedupe_takes_clone_or_off() -> None:
    assert mount_options.dedupe_mode("clone") == "clone"
    assert mount_options.dedupe_mode("off") == "off"
    with pytest.raises(argparse.ArgumentTypeError, match="want clone or off"):
        mount_options.dedupe_mode("yes")


@pytest.mark.parametrize(
    "template",
    [
        "embed.example/e/{code}",
        "ftp://embed.example/{code}",
        "https://embed.example/e/",
        "https:///{code}",
    ],
)
def test_embed_url_needs_http_and_code(template: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError) as err:
        mount_options.embed_template(template)
    assert "\n" not in str(err.value) and template in str(err.value)


def test_embed_url_off_by_default_and_kept_as_given() -> None:
    assert mount_options.embed_template("") == ""
    given = "HTTPS://embed.example/e/{code}.html"
    assert mount_options.embed_template(given) == given

"""How the command line answers a mistake: two lines naming it, the subcommand's usage, a
"did you mean" for a typo, and no option taken for another by its prefix."""

from __future__ import annotations

import pytest

from vipfs import config
from vipfs.cli import COMMANDS, build_parser, main


def refused(capsys: pytest.CaptureFixture[str], *argv: str) -> list[str]:
    """The lines `vipfs ARGV` prints on stderr when argparse refuses it (exit 2)."""
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(argv)
    assert exit_info.value.code == 2
    return capsys.readouterr().err.splitlines()


def test_a_prefix_of_an_option_is_not_the_option(capsys: pytest.CaptureFixture[str]) -> None:
    lines = refused(capsys, "mount", "--dir-cache-tim", "10", "/mnt")
    assert lines == [
        "usage: vipfs mount [options] [remote] mountpoint",
        "vipfs mount: error: unrecognized option --dir-cache-tim; did you mean --dir-cache-time?",
    ]


def test_a_typo_in_a_nested_subcommand_shows_that_subcommand(
    capsys: pytest.CaptureFixture[str],
) -> None:
    lines = refused(capsys, "config", "check", "--api-ur", "https://x/api")
    assert lines == [
        "usage: vipfs config check [options] [remote]",
        "vipfs config check: error: unrecognized option --api-ur; did you mean --api-url?",
    ]
    lines = refused(capsys, "umount", "/mnt", "--bogus-thing")
    assert lines[0] == "usage: vipfs umount [options] mountpoint"
    assert lines[1] == "vipfs umount: error: unrecognized option --bogus-thing"
    lines = refused(capsys, "mount", "--bogus")  # the typo, not "mountpoint is required"
    assert lines[1] == "vipfs mount: error: unrecognized option --bogus"
    lines = refused(capsys, "mount", "--allow-nonempty", "/mnt")
    assert lines[1].endswith("did you mean --allow-non-empty?")
    args = build_parser().parse_args(["mount", "--", "--a-directory"])
    assert args.mountpoint == "--a-directory"
    lines = refused(capsys, "umount", "/mnt", "/other")
    assert lines[1] == "vipfs umount: error: unrecognized arguments: /other"


@pytest.mark.parametrize(
    ("argv", "why"),
    [
        (["--transfers", "abc"], "argument --transfers: 'abc' is not a whole number"),
        (["--transfers", "0"], "argument --transfers: '0': must be at least 1"),
        (["--op-timeout", "-5"], "argument --op-timeout: '-5': must be more than 0"),
        (["--connect-timeout", "0"], "argument --connect-timeout: '0': must be more than 0"),
        (["--dir-cache-time", "-1"], "argument --dir-cache-time: '-1': must be 0 or more"),
        (["--write-back", "nan"], "argument --write-back: 'nan': must be 0 or more"),
        (["--uid", "-3"], "argument --uid: '-3': must be 0 or more"),
        (["-o", "allow_other,transfers=abc"], "-o allow_other,transfers=abc: 'abc' is not"),
        (["-o", "key=x"], "-o key: an API key must not be a mount option"),
        (["-o", "dir_cache_tim=1"], "-o dir_cache_tim: not an option of vipfs mount"),
    ],
)
def test_a_bad_value_costs_two_lines(
    argv: list[str], why: str, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = refused(capsys, "mount", *argv, "/mnt")
    assert len(lines) == 2
    assert lines[0] == "usage: vipfs mount [options] [remote] mountpoint"
    assert lines[1].startswith(f"vipfs mount: error: {why}")


def test_zero_where_zero_means_something(capsys: pytest.CaptureFixture[str]) -> None:
    args = build_parser().parse_args(["mount", "--write-back", "0", "--dir-cache-time", "0", "/m"])
    assert args.write_back == 0 and args.dir_cache_time == 0


def test_dash_o_is_the_long_options(capsys: pytest.CaptureFixture[str]) -> None:
    """sshfs's and rclone's habit, parsed by mount(8)'s helper: one reader of `-o`."""
    args = build_parser().parse_args(
        ["mount", "work", "/mnt", "-o", "allow_other,dir_cache_time=10", "-o", "nonempty,rw"]
    )
    config.apply(args, config.Remote("work", {"dir_cache_time": 60, "transfers": 3}))
    assert args.allow_other is True and args.allow_non_empty is True
    assert args.dir_cache_time == 10.0  # given: beats the remote's 60
    assert args.transfers == 3  # not given: the remote's
    assert (args.remote, args.mountpoint) == ("work", "/mnt")


def test_the_config_file_meets_the_same_checks() -> None:
    args = build_parser().parse_args(["mount", "/mnt"])
    with pytest.raises(config.ConfigError, match=r"op_timeout .*'-5': must be more than 0"):
        config.apply(args, config.Remote("work", {"op_timeout": -5}))
    args = build_parser().parse_args(["mount", "/mnt"])
    config.apply(args, config.Remote("work", {"umask": 0o027, "transfers": 2}))
    assert args.umask == 0o027
    assert args.transfers == 2


def test_a_typo_of_a_top_level_option(capsys: pytest.CaptureFixture[str]) -> None:
    assert refused(capsys, "--verison") == [
        "usage: vipfs [options] COMMAND ...",
        "vipfs: error: unrecognized option --verison; did you mean --version?",
    ]


def test_vipfs_alone_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    out = capsys.readouterr().out
    for name, _, help_line in COMMANDS:
        assert name in out and help_line in out


def test_help_still_shows_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["mount", "--help"])
    out = capsys.readouterr().out
    assert "--dir-cache-time S" in out and "-o LIST" in out and "--allow-non-empty" in out

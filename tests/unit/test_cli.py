"""The command table: every registered command builds its parser and shows help."""

from __future__ import annotations

import subprocess
import sys

import pytest

from vipfs import __version__
from vipfs.cli import COMMANDS, build_parser


def test_version() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "vipfs", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == f"vipfs {__version__}"


@pytest.mark.parametrize("name", [c[0] for c in COMMANDS] or ["--help"])
def test_every_command_has_help(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser()
    with pytest.raises(SystemExit) as exit_info:
        parser.parse_args([name, "--help"] if name != "--help" else ["--help"])
    assert exit_info.value.code == 0
    assert "usage:" in capsys.readouterr().out

"""The command table: every registered command builds its parser and shows help."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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


# `-c` wrapper: pyfuse3 made unimportable (None in sys.modules), then `python -m vipfs ARGS`
WITHOUT_PYFUSE3 = (
    "import runpy, sys; sys.modules['pyfuse3'] = None; "
    "sys.argv = ['vipfs', *sys.argv[1:]]; runpy.run_module('vipfs', run_name='__main__')"
)


def without_pyfuse3(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_PYFUSE3, *args], capture_output=True, text=True
    )


def test_the_emulator_runs_without_pyfuse3() -> None:
    out = without_pyfuse3("emulator", "--help")
    assert out.returncode == 0, out.stderr
    assert "usage: vipfs emulator" in out.stdout
    mount = without_pyfuse3("mount", "--help")  # the wrapper does hide pyfuse3
    assert mount.returncode != 0 and "pyfuse3" in mount.stderr


def test_the_option_table_needs_no_pyfuse3() -> None:
    """`vipfs config check` and mount(8)'s helper read the table, not the mount."""
    check = without_pyfuse3("config", "check", "--help")
    assert check.returncode == 0, check.stderr
    helper = without_pyfuse3("default", "/mnt", "-o", "dir_cache_time=60,allow_other", "-f", "-v")
    assert helper.returncode == 0, helper.stderr
    assert "mount default /mnt --dir-cache-time 60 --allow-other" in helper.stderr


def test_umount_and_status_need_no_pyfuse3(tmp_path: Path) -> None:
    """They only talk to a running mount (its status.json and pid): no FUSE needed."""
    for command in ("umount", "status"):
        out = without_pyfuse3(command, "--help")
        assert out.returncode == 0, out.stderr
        assert f"usage: vipfs {command}" in out.stdout
    gone = without_pyfuse3("umount", str(tmp_path))  # not mounted: a clear refusal, no traceback
    assert "Traceback" not in gone.stderr and "pyfuse3" not in gone.stderr


def test_help_lists_every_command_without_importing_one() -> None:
    probe = (
        "import sys, contextlib, io\n"
        "from vipfs.cli import COMMANDS, main\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):\n"
        "    main(['--help'])\n"
        "print(sorted(m for _, m, _ in COMMANDS if m in sys.modules))\n"
        "print(out.getvalue())\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    imported, _, help_text = out.stdout.partition("\n")
    assert imported == "[]"
    for name, _, help_line in COMMANDS:
        assert name in help_text and help_line in help_text

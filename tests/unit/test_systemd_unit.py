"""docs/systemd/vipfs@.service: its commands are real vipfs commands, and systemd accepts it."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from vipfs.cli import build_parser

UNIT = Path(__file__).resolve().parents[2] / "docs" / "systemd" / "vipfs@.service"
BIN = Path(sys.executable).parent


def command(key: str) -> list[str]:
    lines = [line for line in UNIT.read_text().splitlines() if line.startswith(f"{key}=")]
    assert len(lines) == 1, key
    text = lines[0].split("=", 1)[1].replace("%i", "work")
    text = text.replace("${VIPFS_MOUNTPOINT}", "/mnt/vipfs/work")
    return shlex.split(text)


def test_commands_parse_as_vipfs_commands() -> None:
    start = command("ExecStart")
    assert start[0] == "/usr/local/bin/vipfs"
    args = build_parser().parse_args(start[1:])
    assert (args.command, args.remote, args.mountpoint) == ("mount", "work", "/mnt/vipfs/work")
    assert args.foreground  # Type=notify: systemd supervises the process itself
    stop = build_parser().parse_args(command("ExecStop")[1:])
    assert (stop.command, stop.mountpoint) == ("umount", "/mnt/vipfs/work")
    text = UNIT.read_text()
    assert "Type=notify" in text and "Restart=on-failure" in text
    assert "After=network-online.target" in text and "--key" not in text


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze missing")
def test_systemd_analyze_verify(tmp_path: Path) -> None:
    unit = tmp_path / "vipfs@.service"
    unit.write_text(UNIT.read_text().replace("/usr/local/bin/vipfs", str(BIN / "vipfs")))
    done = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(tmp_path / "vipfs@work.service")],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr

"""`vipfs demo`'s banner names a `vipfs` that works from another terminal."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from vipfs.demo import TRY, command_hint

OURS = Path(sys.executable).parent / "vipfs"  # the venv's script, which setup installs


@pytest.fixture(autouse=True)
def _installed() -> None:
    if not OURS.exists():
        pytest.skip("runs from an installed venv (scripts/setup.sh)")


def test_plain_name_when_path_finds_this_installation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(OURS.parent))
    assert command_hint() == "vipfs"


def test_full_path_when_path_has_no_vipfs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert command_hint() == str(OURS)


def test_full_path_when_path_finds_another_vipfs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    other = tmp_path / "vipfs"
    other.write_text("#!/bin/sh\n")
    other.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert command_hint() == str(OURS)


def test_banner_uses_the_hint() -> None:
    shown = TRY.format(mnt="/m", vipfs="/x/.venv/bin/vipfs")
    assert "then: /x/.venv/bin/vipfs status /m" in shown

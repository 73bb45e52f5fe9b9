"""scripts/setup.sh runs pip only when the packaging files, the extras or the python changed.

It runs in a scratch copy of the repository's packaging files, with a stand-in `.venv/bin/python`
that records each pip call and a `dpkg-query` that reports every Debian package installed, so
nothing is installed and the real `.venv` is not touched.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

FAKE_PYTHON = """#!/bin/sh
if [ "$1" = -VV ]; then echo "Python 3.11.0 (stand-in)"; exit 0; fi
echo "$*" >>"$(dirname "$0")/../pip-calls"
"""


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "setup.sh", tmp_path / "scripts" / "setup.sh")
    for name in ("setup.cfg", "pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    python = tmp_path / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(FAKE_PYTHON)
    python.chmod(0o755)
    fakebin = tmp_path / "fakebin"
    fakebin.mkdir()
    dpkg = fakebin / "dpkg-query"
    dpkg.write_text("#!/bin/sh\necho 'install ok installed'\n")
    dpkg.chmod(0o755)
    return tmp_path


def setup(clone: Path, *args: str) -> int:
    """Run setup.sh in the clone; the number of pip installs it made so far."""
    env = {**os.environ, "PATH": f"{clone / 'fakebin'}:{os.environ['PATH']}"}
    done = subprocess.run(
        ["bash", str(clone / "scripts" / "setup.sh"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    calls = clone / ".venv" / "pip-calls"
    lines = calls.read_text().splitlines() if calls.exists() else []
    return sum(" install -q -e " in line for line in lines)


def test_pip_runs_once_until_the_packaging_changes(clone: Path) -> None:
    assert setup(clone, "test") == 1
    assert setup(clone, "test") == 1  # nothing changed: no pip
    assert setup(clone) == 1  # the test install serves the runtime one
    with open(clone / "setup.cfg", "a") as f:
        f.write("\n# a new dependency, say\n")
    assert setup(clone, "test") == 2


def test_runtime_then_test_installs_the_extras(clone: Path) -> None:
    assert setup(clone) == 1
    assert setup(clone) == 1
    assert setup(clone, "test") == 2  # the runtime install lacks the test extras


def test_failed_pip_leaves_no_stamp(clone: Path) -> None:
    python = clone / ".venv" / "bin" / "python"
    python.write_text(FAKE_PYTHON + "exit 1\n")
    env = {**os.environ, "PATH": f"{clone / 'fakebin'}:{os.environ['PATH']}"}
    failed = subprocess.run(
        ["bash", str(clone / "scripts" / "setup.sh")], env=env, capture_output=True, text=True
    )
    assert failed.returncode == 1 and "installing vipfs into .venv failed" in failed.stderr
    assert not (clone / ".venv" / "setup.stamp").exists()


def test_readme_lists_what_setup_installs() -> None:
    """Every Debian package setup.sh can install is named in the README's setup paragraph, and
    every package named there is one setup.sh installs."""
    script = (ROOT / "scripts" / "setup.sh").read_text()
    lists = re.findall(r"^\s*(?:\[ .* \] && )?want\+?=\(([^)]*)\)", script, re.MULTILINE)
    installed = {name for found in lists for name in found.split()}
    assert {"fuse3", "tmux", "ffmpeg"} <= installed, lists
    readme = (ROOT / "README.md").read_text()
    setup_part = readme[readme.index("Both install the Debian packages") :]
    setup_part = setup_part[: setup_part.index("pip runs only")]
    named = set(re.findall(r"`([a-z0-9][a-z0-9.+-]*)`", setup_part)) - {"scripts/setup.sh", "sudo"}
    assert named == installed

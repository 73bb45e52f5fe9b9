"""A terminal of a test's own: one detached tmux server (its own socket), killed at the end.

Commands that draw for a person (rich progress bars) do so only on a terminal, so the tests
that check what they draw run them in a tmux pane and read it back with `capture-pane`.
"""

from __future__ import annotations

import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tests.integration.conftest import sh

EXIT_MARK = "exited with "  # printed by the pane's shell once the command ends


class Terminal:
    """One tmux window `main` of `width` x `height`, running one command of the test's."""

    def __init__(self, socket: str) -> None:
        self.socket = socket

    def tmux(self, *args: str) -> str:
        done = sh("tmux", "-L", self.socket, *args, timeout=30)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def start(self, *argv: str | Path, width: int = 150, height: int = 40) -> None:
        """Run `vipfs ARGV...` in the pane; its exit status is printed after it (EXIT_MARK),
        and the pane stays open so the last screen can still be read."""
        command = shlex.join([sys.executable, "-m", "vipfs", *map(str, argv)])
        script = f'{command}; echo "{EXIT_MARK}$?"; sleep 3600'
        self.tmux(
            "new-session", "-d", "-s", "main", "-x", str(width), "-y", str(height), script
        )  # fmt: skip

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "main")

    def wait_for(self, what: str, check: Callable[[str], bool], timeout: float = 60) -> str:
        """The first screen `check` accepts; fail naming `what`, with the screen, on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.screen()
            if check(text):
                return text
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; the screen:\n{text}")
            time.sleep(0.1)

    def exit_status(self, timeout: float = 120) -> int:
        """Wait for the command to end; its exit status."""
        text = self.wait_for("the command to end", lambda s: EXIT_MARK in s, timeout)
        tail = text.split(EXIT_MARK, 1)[1].split()[0]
        return int(tail)

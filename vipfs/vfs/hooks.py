"""`--on-event CMD`: a command run once per event, off the loop, one at a time.

Owns: `Hooks` (the bounded queue of events waiting for the hook, the one task that runs them,
the hook's environment, its timeout and the bounded capture of its output into the log).
Imports: `vipfs.vfs.events`.

The hook is `/bin/sh -c CMD` with stdin /dev/null and the event in `VIPFS_*` variables, over
the mount's own environment, which never holds the API key (`config.take_env_key` removed it
before the mount started; `VIPFS_KEY` is dropped here all the same). It runs in a session of
its own, so the timeout kills whatever it started too. A hook that fails, hangs or floods its
output costs a line in the log: events queue behind it (up to `BACKLOG`; past that they are
dropped for the hook, with one warning), and nothing else waits on it.
"""

from __future__ import annotations

import logging
import math
import os
import signal
import subprocess
from collections.abc import Mapping

import trio

from vipfs.vfs.events import Event

log = logging.getLogger(__name__)

SHELL = "/bin/sh"
BACKLOG = 256  # events waiting for the hook; more are dropped for it
OUTPUT_MAX = 4096  # bytes of a hook's output that reach the log
VALUE_MAX = 4096  # characters of one VIPFS_* value
DRAIN_WAIT = 1.0  # seconds the output is read after the shell exits (a background child of
# the hook may keep the pipe open: its output is not waited for)


class Hooks:
    """The `--on-event` command of one mount. `tell` is the `Events` listener; `run` is the
    task (start it in the model's nursery)."""

    def __init__(
        self,
        command: str,
        *,
        timeout: float,
        mount: str,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.command = command
        self.timeout = timeout if timeout > 0 else math.inf
        self.mount = mount
        base = dict(os.environ if environ is None else environ)
        base.pop("VIPFS_KEY", None)
        self._base = base
        self._send, self._receive = trio.open_memory_channel[Event](BACKLOG)
        self._dropping = False

    def tell(self, event: Event) -> None:
        """Queue `event` for the hook; never blocks (a full backlog drops it, warned once
        per overflow)."""
        try:
            self._send.send_nowait(event)
        except trio.WouldBlock:
            if not self._dropping:
                log.warning(
                    "on-event hook: %d events waiting; dropping events for it from seq %d",
                    BACKLOG,
                    event.seq,
                )
                self._dropping = True
        else:
            self._dropping = False

    def environment(self, event: Event) -> dict[str, str]:
        """The hook's environment: the mount's, plus the event (absent fields: empty)."""
        fields = {
            "VIPFS_EVENT": event.event,
            "VIPFS_PATH": event.path,
            "VIPFS_CODE": event.code,
            "VIPFS_LINK": event.link,
            "VIPFS_SOURCE": event.source,
            "VIPFS_DETAIL": event.detail,
            "VIPFS_MEMBER": event.member,  # the mirror member it happened on (empty: one host)
            "VIPFS_SEQ": str(event.seq),
            "VIPFS_TIME": event.time,
            "VIPFS_MOUNT": self.mount,
        }
        return {**self._base, **{k: _value(v) for k, v in fields.items()}}

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        async for event in self._receive:
            try:
                await self.run_one(event)
            except OSError as exc:  # no /bin/sh, no processes left: the mount goes on
                log.warning("on-event hook for %s (seq %d) did not start: %s", *_of(event), exc)
            except Exception:  # a bug here must not end the mount, nor the next hooks
                log.exception("on-event hook for %s (seq %d): internal error", *_of(event))

    async def run_one(self, event: Event) -> int | None:
        """Run the hook for one event; its exit status, None when it was killed."""
        process = await trio.lowlevel.open_process(
            [SHELL, "-c", self.command],
            env=self.environment(event),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        output = bytearray()
        read = trio.Event()
        try:
            with trio.move_on_after(self.timeout):
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(_read, process, output, read)
                    await process.wait()
                    with trio.move_on_after(DRAIN_WAIT):
                        await read.wait()
                    nursery.cancel_scope.cancel()
        finally:
            killed = process.returncode is None
            if killed:
                _kill(process)
                with trio.CancelScope(shield=True), trio.move_on_after(5):
                    await process.wait()
            if process.stdout is not None:
                with trio.CancelScope(shield=True):
                    await process.stdout.aclose()
        shown = output.decode(errors="replace").strip()
        if shown:
            log.info("on-event hook for %s (seq %d) said: %s", *_of(event), shown)
        if killed:
            log.warning(
                "on-event hook for %s (seq %d) killed after %g s", *_of(event), self.timeout
            )
            return None
        if process.returncode != 0:
            log.warning(
                "on-event hook for %s (seq %d) failed: exit %d", *_of(event), process.returncode
            )
        return process.returncode


async def _read(process: trio.Process, output: bytearray, done: trio.Event) -> None:
    """Keep the first OUTPUT_MAX bytes; read and drop the rest (a full pipe would stall it)."""
    assert process.stdout is not None
    while chunk := await process.stdout.receive_some(65536):
        output += chunk[: max(0, OUTPUT_MAX - len(output))]
    done.set()


def _kill(process: trio.Process) -> None:
    """The hook's whole session: the shell and whatever it started."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    except OSError:
        process.kill()


def _value(text: str | None) -> str:
    """An event field as an environment value: NUL cannot be in one, and size is bounded."""
    return "" if text is None else text.replace("\0", "")[:VALUE_MAX]


def _of(event: Event) -> tuple[str, int]:
    return event.event, event.seq

"""What each member of a mirror owes: ops journaled for it, tried at once or replayed in order.

Owns: `Member`, and `Owed`: the members that cannot be reached now (`down`), the mirror
journal while the mirror runs, doing an op on every member at once (`everywhere`), recording
what a member owes (`owe`, durable before it returns), and one replayer per member that
replays its owed ops strictly in order once it answers again (BACKGROUND lane).
Imports: trio, `vipfs.api.lanes`, `vipfs.vfs` errors, filesystem, mirror_journal, mirror_ops.

A member owes an op when it could not be reached (an EIO-like failure), and then every later
op for it too, until its journal is empty again: that keeps its order. An op being written
to the journal already counts (`_owing`), so one racing it queues behind it.
"""

from __future__ import annotations

import errno
import logging
from dataclasses import dataclass
from pathlib import Path

import trio

from vipfs.api.lanes import Lane, lane
from vipfs.vfs.errors import VfsError
from vipfs.vfs.filesystem import Filesystem
from vipfs.vfs.mirror_journal import MirrorJournal, Op
from vipfs.vfs.mirror_ops import apply

log = logging.getLogger(__name__)

UNREACHABLE = frozenset((errno.EIO, errno.ETIMEDOUT, errno.EAGAIN, errno.ECONNREFUSED))
RETRY = 2.0  # seconds between tries of a member that cannot be reached


@dataclass(slots=True)
class Member:
    name: str
    fs: Filesystem


class Owed:
    def __init__(self, members: list[Member], state_dir: Path, budget: float) -> None:
        self.members = members
        self.state_dir = state_dir
        self.budget = budget  # the longest a probe of a member that is away may take
        self.down: set[str] = set()  # members not answering: their ops are journaled
        self._journal: MirrorJournal | None = None
        self._wake = {m.name: trio.Event() for m in members}
        self._owing: dict[str, int] = {}  # ops being written to the journal now, per member

    @property
    def journal(self) -> MirrorJournal:
        if self._journal is None:
            raise VfsError(errno.EIO, "the mirror journal is not open (the mirror is not running)")
        return self._journal

    def counts(self) -> dict[str, int]:
        """Each member's backlog (0 when the journal is not open)."""
        backlog = self._journal.counts() if self._journal is not None else {}
        return {m.name: backlog.get(m.name, 0) for m in self.members}

    async def open(self) -> None:
        self._journal = await MirrorJournal.open(self.state_dir)
        await self.clean_stash()

    async def close(self) -> None:
        if self._journal is not None:
            await self._journal.close()

    async def replayer(self, m: Member) -> None:
        """Replay the member's owed ops in order once it answers again (BACKGROUND lane)."""
        with lane(Lane.BACKGROUND):
            while True:
                owed = self.journal.pending(m.name)
                if not owed and m.name not in self.down:
                    event = self._wake[m.name]
                    await event.wait()
                    if self._wake[m.name] is event:
                        self._wake[m.name] = trio.Event()
                    continue
                if not owed:
                    if await self._probe(m):
                        self.down.discard(m.name)
                    else:
                        await trio.sleep(RETRY)
                    continue
                op_id, op = owed[0]
                try:
                    await apply(m.fs, op)
                except VfsError as exc:
                    if exc.errno in UNREACHABLE:
                        self.down.add(m.name)
                        await trio.sleep(RETRY)
                        continue
                    log.warning("%s: %s of %s refused: %s", m.name, op["op"], _path(op), exc.why)
                except Exception as exc:
                    log.warning("%s: %s of %s failed: %s", m.name, op["op"], _path(op), exc)
                    await trio.sleep(RETRY * 5)
                    continue
                await self._done(m, op_id, op)
                if not self.journal.count(m.name):
                    self.down.discard(m.name)

    async def _probe(self, m: Member) -> bool:
        with trio.move_on_after(self.budget):
            try:
                await m.fs.remote.api.account_info()
            except Exception:
                return False
            return True
        return False

    async def _done(self, m: Member, op_id: int, op: Op) -> None:
        await self.journal.done(m.name, op_id)
        stash = op.get("stash")
        if stash and not self.journal.names_stash(stash):
            await trio.to_thread.run_sync(lambda: Path(stash).unlink(missing_ok=True))

    async def clean_stash(self) -> None:
        """Stashed copies no owed op names any more were linked into every member's spool."""
        stash = self.journal.stash

        def run() -> None:
            for path in stash.glob("*.spool"):
                if not self.journal.names_stash(str(path)):
                    path.unlink(missing_ok=True)

        await trio.to_thread.run_sync(run)

    async def owe(self, items: list[tuple[Member, Op]]) -> None:
        """Record ops the members owe. They count as owed from this call on, before the
        journal's write returns, so an op that arrives meanwhile (rsync's rename racing the
        close before it) queues behind them instead of overtaking them."""
        if not items:
            return
        for m, _ in items:
            self._owing[m.name] = self._owing.get(m.name, 0) + 1
        try:
            await self.journal.append([(m.name, op) for m, op in items])
        finally:
            for m, _ in items:
                self._owing[m.name] -= 1
        for m, _ in items:
            self._wake[m.name].set()

    def leaving(self, m: Member) -> set[tuple[str, ...]]:
        """Paths the member still shows but an op it owes moves away or removes: stale there
        until replayed, so the union must not show them (rsync's temp name, renamed on the
        first member at once, is renamed on a lagging one only by its replayer)."""
        gone = ("rename", "unlink", "rmdir")
        return {tuple(op["path"]) for _, op in self.journal.pending(m.name) if op["op"] in gone}

    def behind(self, m: Member) -> bool:
        """Whether ops for `m` must queue behind what it already owes (or it is away)."""
        owes = self.journal.count(m.name) or self._owing.get(m.name, 0)
        return m.name in self.down or bool(owes)

    async def everywhere(self, op: Op, members: list[Member] | None = None) -> list[object]:
        """Do `op` on every member at once; the unreachable ones owe it. The results of the
        members that did it, in config order; every member refusing: the first one's errno."""
        targets = members if members is not None else self.members
        done: dict[str, object] = {}
        refused: dict[str, VfsError] = {}
        owed: list[tuple[Member, Op]] = []

        async def one(m: Member) -> None:
            if self.behind(m):
                owed.append((m, op))
                return
            try:
                done[m.name] = await apply(m.fs, op)
            except VfsError as exc:
                if exc.errno in UNREACHABLE:
                    self.down.add(m.name)
                    owed.append((m, op))
                else:
                    refused[m.name] = exc

        async with trio.open_nursery() as nursery:
            for m in targets:
                nursery.start_soon(one, m)
        await self.owe(sorted(owed, key=lambda item: targets.index(item[0])))
        if not done and not owed and refused:
            raise next(refused[m.name] for m in targets if m.name in refused)
        for name, exc in refused.items():
            if done or owed:
                log.info("%s: %s of %s refused there: %s", name, op["op"], _path(op), exc.why)
        return [done[m.name] for m in targets if m.name in done]

    def readable(self) -> list[Member]:
        """Members for read-side ops: those answering (all of them when none is)."""
        up = [m for m in self.members if m.name not in self.down]
        return up or list(self.members)

    def away(self, m: Member) -> None:
        self.down.add(m.name)
        self._wake[m.name].set()


def _path(op: Op) -> str:
    return "/" + "/".join(op.get("path", []))

"""A mirror's journal: the operations each member still owes, in order, kept across restarts.

Owns: the journal database (`<mirror state>/journal.db`) and its in-memory copy: per member,
the ops not yet applied there, oldest first; and setting aside the ops of a member whose
account changed (`set_aside`).  Imports: trio, `vipfs.vfs.localdirs`.

An op is a small JSON object naming paths (never inodes or host ids: a member that was away
resolves them again when it is back). A row is written before the op is tried on a member
that cannot be reached, and before a spool file is shared (so a kill -9 between the two
leaves the share to be finished at the next mount); it is deleted once the member did it
or refused it for good. Ops of one member replay strictly in id order.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import trio

from vipfs.vfs.localdirs import private_dir

Op = dict[str, Any]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS ops (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    member TEXT NOT NULL,
    op TEXT NOT NULL
)
"""


class MirrorJournal:
    def __init__(self, conn: sqlite3.Connection, stash: Path) -> None:
        self._conn = conn
        self.stash = stash  # where shared spool files wait for every member's link
        self._lock = trio.Lock()
        self._pending: dict[str, list[tuple[int, Op]]] = {}
        for op_id, member, text in conn.execute("SELECT id, member, op FROM ops ORDER BY id"):
            self._pending.setdefault(member, []).append((op_id, json.loads(text)))

    @classmethod
    async def open(cls, state_dir: Path) -> MirrorJournal:
        def run() -> MirrorJournal:
            private_dir(state_dir)
            private_dir(state_dir / "share")
            conn = sqlite3.connect(state_dir / "journal.db", check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute(_SCHEMA)
            conn.commit()
            return cls(conn, state_dir / "share")

        return await trio.to_thread.run_sync(run)

    async def close(self) -> None:
        async with self._lock:
            await trio.to_thread.run_sync(self._conn.close)

    def count(self, member: str) -> int:
        return len(self._pending.get(member, ()))

    def pending(self, member: str) -> list[tuple[int, Op]]:
        """The member's ops not yet applied, oldest first (a copy)."""
        return list(self._pending.get(member, ()))

    def counts(self) -> dict[str, int]:
        return {name: len(ops) for name, ops in self._pending.items() if ops}

    def names_stash(self, path: str) -> bool:
        """Whether an op still pending shares the stashed spool file `path`."""
        return any(op.get("stash") == path for ops in self._pending.values() for _, op in ops)

    async def append(self, items: list[tuple[str, Op]]) -> list[int]:
        """Record ops (member, op) in one transaction, durable before this returns."""

        def run() -> list[int]:
            ids = []
            with self._conn:
                for member, op in items:
                    cur = self._conn.execute(
                        "INSERT INTO ops (member, op) VALUES (?, ?)", (member, json.dumps(op))
                    )
                    assert cur.lastrowid is not None
                    ids.append(cur.lastrowid)
            return ids

        async with self._lock:
            ids = await trio.to_thread.run_sync(run)
        for op_id, (member, op) in zip(ids, items, strict=True):
            self._pending.setdefault(member, []).append((op_id, op))
        return ids

    async def done(self, member: str, op_id: int) -> None:
        """The member did the op, or refused it for good: it is owed no more."""

        def run() -> None:
            with self._conn:
                self._conn.execute("DELETE FROM ops WHERE id = ?", (op_id,))

        async with self._lock:
            await trio.to_thread.run_sync(run)
        ops = self._pending.get(member, [])
        ops[:] = [(i, op) for i, op in ops if i != op_id]


def set_aside(state_dir: Path, member: str, label: str) -> int:
    """Move every op still owed to `member` under `label`, a name no member has: they were
    journaled for the account the member named then, and replaying them on another account
    (its API URL or login changed in the config) would change files nobody asked to change
    there. They stay in the database, for the user to see (`vipfs status`) or finish by
    mounting with the old settings. Returns how many were moved; runs in a worker thread."""
    path = state_dir / "journal.db"
    if not path.exists():
        return 0
    conn = sqlite3.connect(path)
    try:
        conn.execute(_SCHEMA)
        with conn:
            moved = conn.execute("UPDATE ops SET member = ? WHERE member = ?", (label, member))
        return moved.rowcount
    finally:
        conn.close()

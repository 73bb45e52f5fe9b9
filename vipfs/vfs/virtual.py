"""`/.vipfs/`: read-only JSON views of the account, generated when a file is opened.

Owns: `/.vipfs`: its files, their producers, snapshots and modes (`Virtual`).
Imports: `vipfs.api.protocol` only.

Each open handle gets its own snapshot, so a reader never sees the content change under it.
Their size is unknown before opening (getattr says 0), so handles are opened with direct_io.
The write engine adds `status.json` through `Virtual.add`, the event stream `events.jsonl` (a
producer of bytes: JSON lines, not one document).

What only the account's owner should read (email, balance, earnings) is `private`: mode 0600
where the rest is 0444, so with `--allow-other` the kernel (the mount uses
`default_permissions`) refuses it to other users with EACCES.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from vipfs.api.protocol import XvsApi

Producer = Callable[[], Awaitable[object]]

PRIVATE_MODE = 0o600
PRIVATE = frozenset({"account.json", "stats.json"})  # email and balance; daily earnings


def to_json(value: object) -> bytes:
    """Records, lists and dicts as pretty JSON; datetimes as ISO text (server-local)."""
    return (json.dumps(_plain(value), indent=2, ensure_ascii=False) + "\n").encode()


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


class Virtual:
    """The files of `/.vipfs/`, by name, each with the call that produces its content."""

    def __init__(self, api: XvsApi) -> None:
        self._producers: dict[str, Producer] = {
            "account.json": api.account_info,  # AccountInfo holds no key: safe to show
            "stats.json": api.account_stats,
            "encodings.json": api.file_encodings,
            "deleted.json": api.file_deleted,
            "dmca.json": api.file_dmca,
        }

    def add(self, name: str, producer: Producer) -> None:
        self._producers[name] = producer

    def mode(self, name: str) -> int:
        """Permission bits to show: PRIVATE_MODE for the owner's own data, else 0 (default)."""
        return PRIVATE_MODE if name in PRIVATE else 0

    def names(self) -> list[str]:
        return sorted(self._producers)

    def __contains__(self, name: str) -> bool:
        return name in self._producers

    async def render(self, name: str) -> bytes:
        """A producer's bytes as they are (JSON lines), anything else as pretty JSON."""
        value = await self._producers[name]()
        return value if isinstance(value, bytes) else to_json(value)

"""The plain records the facade takes and gives: what fuse_ops translates and mount composes.

Owns: `Options`, `WriteSetup`, `DirEntry`, `Opened`, `AttrChanges`, and the `FileReader`
protocol the read cache meets.  Imports: `vipfs.vfs.attrs`, `defaults`, `features`, `holdlist`,
`metadb`, `names` (`Titles`), `spool` (types only).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from vipfs.vfs import defaults
from vipfs.vfs.attrs import Attr, Owner
from vipfs.vfs.features import HostFeatures
from vipfs.vfs.holdlist import HoldList
from vipfs.vfs.metadb import MetaDb
from vipfs.vfs.names import Titles
from vipfs.vfs.spool import Spool


class FileReader(Protocol):
    """The read cache as the facade uses it (vipfs.vfs.readcache.ReadCache)."""

    async def open(self, code: str) -> int: ...
    async def read(self, handle: int, offset: int, size: int) -> bytes: ...
    async def release(self, handle: int) -> None: ...
    def known_size(self, code: str) -> int | None: ...


@dataclass(frozen=True, slots=True)
class Options:
    owner: Owner = field(default_factory=Owner.current)
    dir_cache_time: float = defaults.DIR_CACHE_TIME
    budget: float = defaults.OP_TIMEOUT  # seconds an interactive call may wait on the API
    deny_read_procs: frozenset[str] = frozenset()  # process names refused reads (readpolicy)
    sync_uploads: bool = False  # close (flush) uploads and waits, like fsync
    titles: Titles = field(
        default_factory=Titles
    )  # how names and host titles map (`--default-extension`)
    embed_url: str = ""  # `--embed-url`: a template with {code}; "" is no user.vipfs.embed
    encoding_poll: float = defaults.ENCODING_POLL  # seconds; 0: no file/encodings polls
    takedown_poll: float = defaults.TAKEDOWN_POLL  # seconds; 0: no file/dmca, file/deleted polls


@dataclass(slots=True)
class WriteSetup:
    """What the write side is built from; the mount composes it (tests too)."""

    db: MetaDb
    spool: Spool
    features: HostFeatures
    write_back: float = defaults.WRITE_BACK
    transfers: int = defaults.TRANSFERS
    hold: HoldList | None = None
    trash: bool = True
    clock: Callable[[], float] = time.time
    rate_state: Callable[[], object] | None = None  # the client's limiter, for status.json
    # True: the upload design before issue 10 (tokened title, `upload/server` per file, a
    # retitle edit after each): the benchmark's baseline, `--upload-retitle`
    retitle: bool = False
    # a file whose bytes vipfs already uploaded becomes a file/clone of it (`--dedupe clone`)
    dedupe: bool = True


@dataclass(frozen=True, slots=True)
class DirEntry:
    name: str
    attr: Attr
    next_id: int


@dataclass(frozen=True, slots=True)
class Opened:
    fh: int
    direct_io: bool = False


@dataclass(frozen=True, slots=True)
class AttrChanges:
    """What a setattr asks for; None means unchanged."""

    size: int | None = None
    mtime_ns: int | None = None
    mode: int | None = None

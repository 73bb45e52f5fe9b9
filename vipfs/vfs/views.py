"""The folders as the user sees them: each host listing under our own knowledge.

Owns: the `View` of each folder (the fetched answer and the named `Listing` built from it),
building it (in a worker thread for big folders), our own one-entry edits of it (`add`,
`drop`, noted in the host's journal too), and showing queued files in their folders (which
rows a folder holds is the queue's own index: `UploadQueue.in_folder`, `stand_ins`).
Imports: `vipfs.api` (records, offloop), `vipfs.vfs` inodes (keys), listing, metadb (rows),
remote (the host's parts).

A view is built whole once per fetched answer; our changes then edit it in place, so a write
into a folder of 10,000 files costs no more than one into an empty one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import trio

from vipfs.api import offloop
from vipfs.api.records import FileEntry, Folder, FolderListing
from vipfs.vfs.inodes import EntryKey, FileKey, FolderKey, QueuedKey
from vipfs.vfs.listing import Listing, Pending, file_entry, folder_entry, pending_entry
from vipfs.vfs.metadb import Upload
from vipfs.vfs.names import Titles
from vipfs.vfs.remote import Remote

log = logging.getLogger(__name__)

# Seconds after a rename during which a listing still showing the old name may be a stale
# read (hosts cache answers, 60 s on bufjoy's memcached): our name stays until then.
STALE_WINDOW = 60.0

# Folders this big are named in a worker thread (about 15 µs an entry); one at a time.
OFF_LOOP_ENTRIES = 5000


@dataclass(frozen=True, slots=True)
class View:
    """A folder's view: the answer it was built from, and the named children."""

    fetched: FolderListing
    listing: Listing


@dataclass(frozen=True, slots=True)
class _Expected:
    """A name our own rename gave an entry, to be checked against the host's next answer."""

    fld_id: int
    name: str
    before: FolderListing | None  # the answer the view showed at the rename
    at: float  # when, on the journal's clock


@dataclass(frozen=True, slots=True)
class _Inputs:
    """What a folder's view is built from besides the server's answer (compared by value;
    the exact names by the metadata's change count, so a check never copies them)."""

    exact: Mapping[str, str] = field(compare=False)
    version: int
    pending: list[Pending]
    hide: set[str]
    posted: set[tuple[int, str]]


def _named(fld_id: int, raw: FolderListing, inputs: _Inputs, titles: Titles) -> Listing:
    return Listing(
        fld_id,
        raw,
        titles=titles,
        exact=inputs.exact,
        pending=inputs.pending,
        hide=inputs.hide,
        posted=inputs.posted,
    )


def pending_of(row: Upload) -> Pending:
    return Pending(row.id, row.name, row.token, row.code, row.replaces)


class Views:
    def __init__(self, remote: Remote, titles: Titles | None = None) -> None:
        self._remote = remote
        self.titles = titles or Titles()
        self._views: dict[int, View] = {}
        self._expected: dict[EntryKey, _Expected] = {}
        self._build_slot = trio.CapacityLimiter(1)  # one big folder named at a time

    async def get(self, fld_id: int) -> Listing:
        """The folder's view, fetched (within the budget) and built when the answer is new."""
        fetched = await self._remote.listings.get(fld_id)
        cached = self._views.get(fld_id)
        if cached is not None and cached.fetched is fetched:
            return cached.listing
        self._check_renames(fld_id, fetched)
        listing = None
        if len(fetched.files) + len(fetched.folders) >= OFF_LOOP_ENTRIES:
            listing = await self._build_off_loop(fld_id, fetched)
            cached = self._views.get(fld_id)
            if cached is not None and cached.fetched is fetched:
                return cached.listing  # another caller won the race (and may have edited it)
        if listing is None:
            listing = self._build(fld_id, fetched, self._inputs(fld_id, snapshot=False))
        self._views[fld_id] = View(fetched, listing)
        return listing

    def cached(self, fld_id: int) -> Listing | None:
        """The view as it is now, without a fetch (None when none was built)."""
        view = self._views.get(fld_id)
        return None if view is None else view.listing

    def all(self) -> Iterable[tuple[int, View]]:
        return self._views.items()

    def clear(self) -> None:
        self._views.clear()

    # -- our own changes, one entry at a time ------------------------------------------------
    def add(self, fld_id: int, entry: FileEntry | Folder) -> None:
        """Our own change shows at once, without a call, and survives a listing that lags."""
        self._remote.journal.added(fld_id, entry)
        listing = self.cached(fld_id)
        if listing is None:
            return
        if isinstance(entry, Folder):
            listing.add(folder_entry(entry, self.titles), entry)
        else:
            writes = self._remote.writes
            meta = writes.metadata.meta(entry.code) if writes is not None else None
            listing.add(file_entry(entry, self.titles, meta.name if meta else ""), entry)

    def expect(self, fld_id: int, key: EntryKey, name: str) -> None:
        """Our rename named `key` `name` in `fld_id`: the folder's next answer from the host
        must show that name, or the host's own wins (a host may drop an edit silently)."""
        view = self._views.get(fld_id)
        before = None if view is None else view.fetched
        self._expected[key] = _Expected(fld_id, name, before, self._remote.journal.now())

    def drop(self, fld_id: int, key: EntryKey) -> None:
        self._expected.pop(key, None)
        self._remote.journal.removed(fld_id, key)
        listing = self.cached(fld_id)
        if listing is not None:
            listing.remove(key)

    def unshow(self, fld_id: int, key: EntryKey) -> None:
        """Out of the view only (no journal note): it shows as a queued file meanwhile."""
        listing = self.cached(fld_id)
        if listing is not None:
            listing.remove(key)

    def show_pending(self, row: Upload) -> None:
        """A file in the upload queue shows in its folder under its own name."""
        listing = self.cached(row.fld_id)
        if listing is not None:
            listing.add(pending_entry(pending_of(row)), None)

    def hide_pending(self, fld_id: int, upload_id: int) -> None:
        """The queued file no longer shows in `fld_id` (done, discarded, or moved away)."""
        listing = self.cached(fld_id)
        if listing is not None:
            listing.remove(QueuedKey(upload_id))

    def _check_renames(self, fld_id: int, fetched: FolderListing) -> None:
        """A new answer for `fld_id` settles the renames it shows: one the host did not take
        is logged (once) and the host's name shows again instead of ours. An answer with the
        old name inside STALE_WINDOW may be a cached read: it settles nothing yet."""
        now = self._remote.journal.now()
        for key, want in list(self._expected.items()):
            if want.fld_id != fld_id or want.before is fetched:
                continue
            shown = self._host_name(key, fetched)
            if shown is None:
                continue  # not in this answer yet (a host's listing may lag)
            if shown != want.name and now - want.at < STALE_WINDOW:
                continue
            del self._expected[key]
            if shown != want.name:
                log.warning(
                    "the host did not take the name %r (it still shows %r): showing the host's",
                    want.name,
                    shown,
                )
                self._remote.journal.forget(fld_id, key)

    def _host_name(self, key: EntryKey, fetched: FolderListing) -> str | None:
        """The name the host's own answer gives `key` (None when it does not list it)."""
        if isinstance(key, FolderKey):
            for folder in fetched.folders:
                if folder.fld_id == key.fld_id:
                    return self.titles.folder_name(folder.name)
        elif isinstance(key, FileKey):
            file = fetched.file(key.code)
            if file is not None:
                writes = self._remote.writes
                meta = writes.metadata.meta(file.code) if writes is not None else None
                return self.titles.listed_file_name(file.title, meta.name if meta else "")
        return None

    # -- building ------------------------------------------------------------------------------
    def _inputs(self, fld_id: int, *, snapshot: bool = True) -> _Inputs:
        """What a view of `fld_id` is built from. A build on the loop reads the mirror itself;
        only a worker thread needs (and pays for) a copy of it."""
        writes = self._remote.writes
        mirror: Mapping[str, str] = writes.metadata if writes is not None else {}
        version = writes.metadata.version if writes is not None else 0
        hide, posted = self._stand_ins()
        exact = dict(mirror) if snapshot else mirror
        return _Inputs(exact, version, self._pending(fld_id), hide, posted)

    def _build(self, fld_id: int, fetched: FolderListing, inputs: _Inputs) -> Listing:
        return _named(fld_id, self._remote.journal.apply(fld_id, fetched), inputs, self.titles)

    async def _build_off_loop(self, fld_id: int, fetched: FolderListing) -> Listing | None:
        """Name a big folder in a worker thread, so a 100,000-entry listing does not hold
        every other handler for seconds. The thread sees only snapshots; when our own changes
        touched the inputs meanwhile, or the folder has journal notes, None: build it here."""
        journal = self._remote.journal
        if journal.apply(fld_id, fetched) is not fetched:
            return None
        inputs = self._inputs(fld_id)

        def build() -> Listing:  # the journal stays on the loop: it had nothing to apply
            listing = _named(fld_id, fetched, inputs, self.titles)
            listing.children  # noqa: B018  (sorted here too: readdir asks for it next)
            return listing

        listing = await offloop.run_sync(build, limiter=self._build_slot)
        if journal.apply(fld_id, fetched) is not fetched:
            return None
        return listing if self._inputs(fld_id, snapshot=False) == inputs else None

    def _stand_ins(self) -> tuple[set[str], set[tuple[int, str]]]:
        """Codes, and (folder, title sent), of host files that queued rows stand for."""
        writes = self._remote.writes
        if writes is None:
            return set(), set()
        return writes.queue.stand_ins()

    def _pending(self, fld_id: int) -> list[Pending]:
        writes = self._remote.writes
        rows = writes.queue.in_folder(fld_id) if writes is not None else []
        return [pending_of(row) for row in rows]

"""What the upload queue shows: its rows grouped by state, for `vipfs status` and status.json.

Owns: `QueueItem`, `QueueStatus` (and its JSON form), and `status_of`, the one grouping of
rows by `UploadState`. Imports: `metadb` (the row and its states), `progress` (a running
attempt's bytes and rate).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from vipfs.vfs.metadb import Upload, UploadState
from vipfs.vfs.progress import Progress

FolderPath = Callable[[int], str | None]  # fld_id → "A/B" in the mount, None if not known


@dataclass(frozen=True, slots=True)
class QueueItem:
    """One queue row as `vipfs status` and `/.vipfs/status.json` show it."""

    id: int
    name: str
    fld_id: int
    size: int
    state: str
    attempts: int
    last_error: str | None
    next_try: float
    code: str | None
    sent: int = 0  # bytes of the running attempt handed to the network so far
    rate: float | None = None  # bytes/s of the running attempt lately; None: not known
    eta: float | None = None  # seconds left at that rate

    @property
    def total(self) -> int:
        return self.size


@dataclass(frozen=True, slots=True)
class QueueStatus:
    writing: list[QueueItem]
    held: list[QueueItem]
    queued: list[QueueItem]
    uploading: list[QueueItem]
    retrying: list[QueueItem]  # queued after a failed attempt (also listed in `queued`)
    failed: list[QueueItem]
    incomplete: list[QueueItem] = field(default_factory=list)
    empty: list[QueueItem] = field(default_factory=list)  # 0 bytes: kept here, never uploaded

    @property
    def pending(self) -> int:
        """Rows an unmount waits for."""
        return len(self.queued) + len(self.uploading)

    def to_json(self, folder_path: FolderPath | None = None) -> dict[str, Any]:
        """Each row with `dir`, its folder's path in the mount (None where not known)."""

        def items(rows: list[QueueItem]) -> list[dict[str, Any]]:
            return [
                {
                    "id": r.id,
                    "name": r.name,
                    "fld_id": r.fld_id,
                    "size": r.size,
                    "state": r.state,
                    "attempts": r.attempts,
                    "error": r.last_error,
                    "next_try": r.next_try,
                    "code": r.code,
                    "sent": r.sent,
                    "total": r.total,
                    "rate": r.rate,
                    "eta": r.eta,
                    "dir": None if folder_path is None else folder_path(r.fld_id),
                }
                for r in rows
            ]

        return {
            "writing": items(self.writing),
            "held": items(self.held),
            "queued": items(self.queued),
            "uploading": items(self.uploading),
            "retrying": items(self.retrying),
            "failed": items(self.failed),
            "incomplete": items(self.incomplete),
            "empty": items(self.empty),
        }


def status_of(rows: Iterable[Upload], running: Callable[[int], Progress | None]) -> QueueStatus:
    """Group `rows` by state, in id order; `running(id)` is how far a running attempt is."""

    def item(r: Upload) -> QueueItem:
        now = running(r.id)
        return QueueItem(
            r.id,
            r.name,
            r.fld_id,
            r.size,
            str(r.state),
            r.attempts,
            r.last_error,
            r.next_try,
            r.code,
            0 if now is None else now.sent,
            None if now is None else now.rate,
            None if now is None else now.eta,
        )

    ordered = sorted(rows, key=lambda r: r.id)
    by = {s: [item(r) for r in ordered if r.state is s] for s in UploadState}
    return QueueStatus(
        writing=by[UploadState.WRITING],
        held=by[UploadState.HELD],
        queued=by[UploadState.QUEUED],
        uploading=by[UploadState.UPLOADING],
        retrying=[i for i in by[UploadState.QUEUED] if i.attempts > 0],
        failed=by[UploadState.FAILED],
        incomplete=by[UploadState.INCOMPLETE],
        empty=by[UploadState.EMPTY],
    )

"""What happened to the account's files, as a stream of events: queued, uploaded, ready, …

Owns: `Event` (one happening, with the file's path in the mount, its code and link, and on a
mirror the member it happened on) and `Events`, the one place every part reports to (`emit`)
and every consumer reads from: the in-memory ring that `/.vipfs/events.jsonl` shows, and the
listeners (the event log on disk, the `--on-event` hooks) that are told of each event as it is
emitted; `merged`, a mirror's members' streams as one history.
Imports: the standard library only.

Parts emit with a folder id and a name, not a path: the path is resolved here, through the
model's inode table, so a file's path is worked out in one place. A listener's failure is
logged and never reaches the part that emitted: an event is news, not a step of the change.
"""

from __future__ import annotations

import json
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger(__name__)

# the kinds the issue names; a part emits only these, so consumers can rely on the list
KINDS = frozenset({"queued", "uploaded", "ready", "failed", "dmca", "deleted"})
RING = 1000  # events `/.vipfs/events.jsonl` keeps in memory

FolderPath = Callable[[int], str | None]  # fld_id → "A/B" in the mount, None if not known
LinkOf = Callable[[int, str], str | None]  # (fld_id, code) → the watch link, if listed
Listener = Callable[["Event"], None]


@dataclass(frozen=True, slots=True)
class Event:
    """One event. `path` is the file's path in the mount (None where it is not known);
    `source` says what the file came through: `upload` (copied in), `url` (a URL upload),
    `clone` (a copy without bytes) or `host` (a state the host reported)."""

    seq: int
    time: str  # ISO 8601, UTC
    event: str
    path: str | None
    code: str | None
    link: str | None
    source: str = "upload"
    detail: str | None = None  # a failure's reason, a DMCA deadline, …
    member: str | None = None  # the mirror member (remote name) it happened on; None: one host

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        """The event as one JSON line (no newline): the form of the log and of events.jsonl."""
        return json.dumps(self.to_json(), ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: object) -> Event | None:
        """An event read back from the log; None for anything not shaped as one (a torn
        last line after a crash, a hand edit): the log is history, never trusted to parse."""
        if not isinstance(raw, dict) or set(raw) - {"member"} != _FIELDS - {"member"}:
            return None  # a log written before mirrors has no `member`: still an event
        seq, kind = raw["seq"], raw["event"]
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1 or kind not in KINDS:
            return None
        texts = ("time", "source")
        optional = ("path", "code", "link", "detail", "member")
        if not all(isinstance(raw[k], str) for k in texts):
            return None
        if not all(raw.get(k) is None or isinstance(raw.get(k), str) for k in optional):
            return None
        return cls(**raw)


_FIELDS = frozenset(("seq", "time", "event", "path", "code", "link", "source", "detail", "member"))


class Events:
    """The account's event stream (one per host: a mirror's members each have their own)."""

    def __init__(self, *, clock: Callable[[], float] = time.time, first_seq: int = 1) -> None:
        self._clock = clock
        self._next = first_seq
        self._ring: deque[Event] = deque(maxlen=RING)
        self._listeners: list[Listener] = []
        self.folder_path: FolderPath | None = None  # set by the model (its inode table)
        self.link_of: LinkOf | None = None  # set by the remote (its cached listings)
        self.member: str | None = None  # a mirror member's name: every event it emits names it

    def listen(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def restore(self, history: Iterable[Event]) -> None:
        """Events of earlier mounts (the log on disk) back into the ring, oldest first, so
        `/.vipfs/events.jsonl` shows them and new events number on after the last of them."""
        for event in history:
            self._ring.append(event)
            self._next = max(self._next, event.seq + 1)

    @property
    def next_seq(self) -> int:
        return self._next

    def path_of(self, fld_id: int | None, name: str | None) -> str | None:
        """A file's path in the mount from its folder and name; None if the folder is not
        known (the kernel forgot its node) or no name was given."""
        if name is None or fld_id is None or self.folder_path is None:
            return None
        folder = self.folder_path(fld_id)
        if folder is None:
            return None
        return f"{folder}/{name}" if folder else name

    def emit(
        self,
        kind: str,
        *,
        fld_id: int | None = None,
        name: str | None = None,
        path: str | None = None,
        code: str | None = None,
        link: str | None = None,
        source: str = "upload",
        detail: str | None = None,
    ) -> Event:
        """Record one event and tell every listener; synchronous, so a part can emit inside
        its one model step. Give `path`, or `fld_id` and `name` to resolve it."""
        if kind not in KINDS:
            raise ValueError(f"unknown event kind {kind!r}")
        when = datetime.fromtimestamp(self._clock(), UTC).isoformat(timespec="seconds")
        event = Event(
            seq=self._next,
            time=when.replace("+00:00", "Z"),
            event=kind,
            path=path if path is not None else self.path_of(fld_id, name),
            code=code,
            link=link if link is not None else self._link(fld_id, code),
            source=source,
            detail=detail,
            member=self.member,
        )
        self._next += 1
        self._ring.append(event)
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:  # a consumer's bug must not undo the change that emitted
                log.exception("an event listener failed on %s", event.event)
        return event

    def _link(self, fld_id: int | None, code: str | None) -> str | None:
        """The watch link of a file its folder's last listing shows (never a call): a file
        just uploaded is not listed yet, so its `uploaded` says null."""
        if fld_id is None or code is None or self.link_of is None:
            return None
        return self.link_of(fld_id, code)

    def since(self, seq: int = 0) -> list[Event]:
        """The kept events after `seq`, oldest first."""
        return [e for e in self._ring if e.seq > seq]


def merged(streams: Iterable[Events], seq: int = 0) -> list[Event]:
    """The kept events of several streams (a mirror's members) as one history: by time, and
    within one second in the streams' order, each stream's own order kept (a stable sort of
    streams already in order). Each event keeps its own stream's `seq`; `member` tells them
    apart."""
    everything = [event for stream in streams for event in stream.since(seq)]
    return sorted(everything, key=lambda event: event.time)


def jsonl(events: Iterable[Event]) -> bytes:
    """Events as `/.vipfs/events.jsonl` serves them: one JSON line each."""
    return "".join(event.line() + "\n" for event in events).encode()

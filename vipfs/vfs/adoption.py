"""The proof that a host file is the copy a lost upload attempt stored: without a token.

Owns: `Posted` (what one attempt sent: folder, title, and when), `posted_copy` (the proof) and
`AmbiguousCopyError`; the clock slack that makes the time window server-time aware.
Imports: `api.records` (`FileEntry`) and of `vfs` `names` (`host_text`) only.

An upload whose answer was lost (a reset, a crash) may or may not have stored the file, and the
title the host got carries no token any more. A host file counts as ours only when ALL hold:

* it is in the folder the attempt posted to;
* its title, HTML escapes undone, is exactly the title the attempt sent;
* its code is not one vipfs already knows (a finished upload, another row's copy);
* the host stamped it inside the attempt's window, widened by `CLOCK_SLACK` on both sides
  (hosts stamp in their own local time: the offset vipfs learns is rounded to 15 minutes, so
  its error is up to 7.5 minutes), never open-ended;
* and it is the only such file. Several → `AmbiguousCopyError`: nothing adopted or deleted.

A search result is evidence, not proof: hosts may ignore `file/list` filters, so every
condition is checked here on whatever the host answered. The queue keeps one upload per
(folder, title) in flight, so two of our own attempts never compete for one proof.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable
from dataclasses import dataclass
from datetime import datetime

from vipfs.api.records import FileEntry
from vipfs.vfs.names import host_text

# the learned server offset is rounded to 15 minutes (api/clock.py): half of that, plus the
# whole seconds of `server_time` and the node's own clock, in both directions
CLOCK_SLACK = 10 * 60.0


class AmbiguousCopyError(Exception):
    """Several host files fit one lost attempt: none of them is provably ours."""

    def __init__(self, title: str, codes: list[str]) -> None:
        super().__init__(
            f"several host files titled {title!r} were stored in its upload window "
            f"({', '.join(codes)}): none adopted, retitled or deleted"
        )
        self.title = title
        self.codes = codes


@dataclass(frozen=True, slots=True)
class Posted:
    """One attempt as sent: `fld_id` and `title` as in the POST, `since`..`until` in epoch
    seconds of the queue's clock (the POST's start, and its end or the moment of the look-up)."""

    fld_id: int
    title: str
    since: float
    until: float

    def covers(self, stamped: float) -> bool:
        return self.since - CLOCK_SLACK <= stamped <= self.until + CLOCK_SLACK


def posted_copy(
    found: Iterable[FileEntry],
    posted: Posted,
    *,
    known: Container[str],
    to_epoch: Callable[[datetime], float],
) -> str | None:
    """The code of the one host file that proves to be `posted`'s copy (the module's rules);
    None when no file fits; `AmbiguousCopyError` when several do. `known`: codes vipfs already
    accounts for; `to_epoch`: server-local time → epoch (the client's learned offset)."""
    codes: set[str] = set()
    for entry in found:
        if entry.fld_id != posted.fld_id or host_text(entry.title) != posted.title:
            continue
        if entry.code in known or entry.uploaded is None:
            continue
        if posted.covers(to_epoch(entry.uploaded)):
            codes.add(entry.code)
    if len(codes) > 1:
        raise AmbiguousCopyError(posted.title, sorted(codes))
    return next(iter(codes), None)

"""Copies without bytes: a queued file whose bytes vipfs already put on the host is cloned.

Owns: which host file a queue row may be cloned from (`Dedupe.source`), the `file/clone` call
and what its refusals mean (`Dedupe.clone`), and what a fresh clone holds (`Dedupe.held`).
Imports: `api` (errors, Protocol), and of `vfs` `features`, `metadata`, `upload_job` (`Sent`).

`--dedupe clone` (the default): the upload queue, about to POST a row, asks `source` for a file
with the row's size and sha256 (the hash the queue takes anyway for the repeat rule). Trust:
* the source is a code the metadata recorded with a sha256: a file vipfs uploaded itself (or
  cloned from one), never a foreign file, whatever the host lists;
* `is_blocked(code)` is the one veto for a source the host has under a DMCA notice or deleted
  (wired to the host-state poller; nothing is blocked without it);
* the queue records the clone in the row exactly as a POST (`posted_*`), so a lost answer is
  settled by the same title proof (`adoption`) and never makes a second copy;
* an answer naming a code vipfs already accounts for is a protocol error, never recorded (it
  would take that file's place): the retry's proof finds the real copy.
A refusal stores nothing, so the row falls back to the POST in the same attempt: 403 (clone
disabled: `HostFeatures` remembers it, and no clone is tried again on this mount), 404 (the
source is gone: its sha256 is forgotten, so it is never offered again) or another refusal.

A clone is a new host row built from the call's parameters: it holds the title and folder sent,
no tags and no description (file/clone takes neither), so the queue's usual `file/edit` after
the upload sends the row's own, when it has any. Nothing public is sent, as with the POST.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Container

from vipfs.api.errors import (
    ApiError,
    AuthError,
    NotFoundError,
    ProtocolError,
    TransientError,
    UnsupportedError,
)
from vipfs.api.protocol import XvsApi
from vipfs.vfs.features import HostFeatures
from vipfs.vfs.metadata import Metadata
from vipfs.vfs.upload_job import Sent

log = logging.getLogger(__name__)


def _never(code: str) -> bool:
    return False


class Dedupe:
    """The clone-instead-of-upload policy of one upload queue."""

    def __init__(
        self,
        api: XvsApi,
        metadata: Metadata,
        features: HostFeatures,
        *,
        blocked: Callable[[str], bool] = _never,
    ) -> None:
        self._api = api
        self._metadata = metadata
        self._features = features
        self.blocked = blocked  # the host-state poller's veto (DMCA, deleted by the host)

    def is_blocked(self, code: str) -> bool:
        """A source the host has flagged (DMCA'd, deleted by it) is never cloned."""
        return self.blocked(code)

    def source(self, size: int, sha256: str) -> str | None:
        """The file vipfs recorded with these bytes to clone (None: upload them)."""
        if size <= 0 or not self._features.clone:
            return None
        for code in self._metadata.same_content(size, sha256):
            if not self.is_blocked(code):
                return code
        return None

    async def clone(
        self, source: str, title: str, fld_id: int, known: Container[str]
    ) -> str | None:
        """`file/clone` of `source` into `fld_id` under `title`: the new code, or None when
        the host refused it (nothing stored: the caller uploads instead). A transient or
        protocol error propagates: the clone may exist, and the caller's proof finds it. An
        answer naming a code vipfs already accounts for (`known`: the source itself, say) is
        a protocol error: recording it would take that file's place."""
        try:
            result = await self._api.file_clone(source, title=title, fld_id=fld_id)
        except (TransientError, ProtocolError, AuthError):
            raise
        except UnsupportedError as exc:
            self._features.mark_unsupported("clone")
            log.info("no clone of %s (%s): uploading instead", source, exc)
            return None
        except NotFoundError as exc:
            await self._metadata.update(source, sha256=None)  # never offered again
            log.info("no clone of %s (%s): uploading instead", source, exc)
            return None
        except ApiError as exc:
            log.info("no clone of %s (%s): uploading instead", source, exc)
            return None
        if result.code in known:
            raise ProtocolError(f"file/clone answered {result.code}, a file vipfs already has")
        self._features.mark_supported("clone")
        return result.code

    @staticmethod
    def held(title: str, fld_id: int) -> Sent:
        """What the host holds for a fresh clone: the title and folder sent, no tags, no
        description (so the queue's edit sends the row's own, if any)."""
        return Sent(title, fld_id, ("", None))

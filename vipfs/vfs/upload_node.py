"""The upload node's URL, asked for once and reused while it works.

Owns: the cached answer of `upload/server`, when it is fetched again (`MAX_AGE`, or after a
failure that may mean the node moved), and that concurrent uploads share one fetch.
Imports: `trio`, `api` (the Protocol) only.

`upload/server` is an API call; the node POST is not. Asking before every file cost one call of
a quota that may be 5 a minute, so the URL is kept for every upload of the queue until:
* it is `MAX_AGE` old (1 hour: node URLs carry a server-chosen path, and hosts rotate nodes;
  an hour costs one call per hour of uploading, and a stale URL is found by the next failure);
* or the node failed in a way that may mean the URL is stale: refused or reset connections,
  HTTP 404/5xx, an HTML page, a node fault (`forget`, called for any failure of the POST but
  a refusal of the file itself).
"""

from __future__ import annotations

from collections.abc import Callable

import trio

from vipfs.api.protocol import XvsApi

MAX_AGE = 3600.0  # seconds a node URL is reused without trouble


class UploadNode:
    """One queue's node URL; `url()` fetches only when none is fresh."""

    def __init__(self, api: XvsApi, clock: Callable[[], float], *, reuse: bool = True) -> None:
        self._api = api
        self._clock = clock
        self._reuse = reuse  # False: today's baseline, `upload/server` before every file
        self._url: str | None = None
        self._fetched = 0.0
        self._lock = trio.Lock()  # several slots needing a URL wait for one fetch

    async def url(self) -> str:
        """A node URL to POST to: the cached one while fresh, else a new `upload/server`."""
        if not self._reuse:
            return await self._api.upload_server()
        async with self._lock:
            if self._url is None or self._clock() - self._fetched >= MAX_AGE:
                self._url = await self._api.upload_server()
                self._fetched = self._clock()
            return self._url

    def forget(self, url: str) -> None:
        """A POST to `url` failed in a way that may mean it is stale: the next upload asks
        again (unless another upload has already replaced it)."""
        if self._url == url:
            self._url = None

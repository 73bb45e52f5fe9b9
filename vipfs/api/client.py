"""`XvsClient`: the XVS API over httpx on trio, with retries, one rate limiter and no key leaks.

Owns: `XvsClient`: every HTTP request to the host (API calls, upload node, direct links), their
retries within a budget, the reply size cap, and the key kept off URLs and logs.
Imports: httpx, trio, `vipfs.__version__` and the `vipfs.api` modules below it (backoff, clock,
envelope, errors, lowspeed, multipart, offloop, plainhttp, protocol, ratelimit, records, redact,
wire); never `vipfs.vfs`.

Every API call goes through `_api`: the shared limiter's gate, one POST (the key travels as a
form field, never in a URL), decoding and error mapping in `envelope`, and retries of transient
failures within the call's time budget. Only idempotent calls are retried after a failure that
may have reached the server; the rest only after a connect failure or a rate-limit refusal.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import aclosing
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

import httpx
import trio

from vipfs import __version__
from vipfs.api import envelope, offloop
from vipfs.api.backoff import Backoff
from vipfs.api.clock import ServerClock
from vipfs.api.envelope import Reply
from vipfs.api.errors import (
    ApiError,
    LinkExpiredError,
    NotFoundError,
    NotSentError,
    ProtocolError,
    RateLimitedError,
    RequestRejectedError,
    TransientError,
    UploadRejectedError,
)
from vipfs.api.lowspeed import Pace, SpeedFloor
from vipfs.api.multipart import MultipartFile
from vipfs.api.plainhttp import check_api_url, node_name, secure_node_url
from vipfs.api.protocol import XvsApi
from vipfs.api.ratelimit import RateLimiter, RateState
from vipfs.api.records import (
    AccountInfo,
    CloneResult,
    DeletedFile,
    DirectLink,
    DmcaFile,
    Encoding,
    FileEntry,
    FileInfo,
    FilePage,
    FolderListing,
    StatsDay,
    UploadedFile,
    UrlUpload,
    has_code,
    valid_items,
)
from vipfs.api.redact import protect, redact
from vipfs.api.wire import pick, to_code, to_dict, to_dicts, to_int, to_str

log = logging.getLogger("vipfs.api")

INFO_BATCH = 50  # file/info silently drops codes past the 50th
LIST_PAGE = 1000  # file/list caps per_page here
UPLOAD_READ_TIMEOUT = 300.0  # a node may hash a multi-GiB file before it answers
_MAX_PAGES = 100_000
DEFAULT_MAX_REPLY = 64 * 1024 * 1024  # a 200,000-entry folder/list; more fails that one call
OFF_LOOP_BYTES = envelope.BIG_BODY  # replies this big are parsed in a worker thread
NODE_REPLY_MAX = 1024 * 1024  # an upload node lists the files of one POST: a few hundred bytes

T = TypeVar("T")

# Per-file upload statuses that describe a sick node, not the file: worth another try.
_NODE_FAULTS = (
    "fs.cgi error",
    "error connecting to db",
    "server/disk not found",
    "no file on disk",
)
_UPLOAD_CODE = re.compile(r'"file_?code"\s*:\s*"(\w*)"', re.IGNORECASE)
_UPLOAD_STATUS = re.compile(r'"(?:file_)?status"\s*:\s*"([^"]*)"', re.IGNORECASE)

Params = Mapping[str, str | int | bool | None]


class XvsClient:
    """The XVS API client; use as `async with XvsClient(url, key) as api:`.

    `api_url` is the site (`https://vipstream.cc`) or its API root (`.../api`). `low_speed` is
    the minimum rate of each upload attempt (curl's --low-speed-limit/--low-speed-time).
    `transport`, `now`, `sleep`, `wall`, `rand` and `backoff` exist for tests (mock transport,
    trio's mock clock, short real-time retries against the emulator).
    """

    def __init__(
        self,
        api_url: str,
        key: str,
        *,
        timeout: float = 30.0,
        connect_timeout: float = 10.0,
        max_in_flight: int = 4,
        retry_budget: float = 30.0,
        user_agent: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        now: Callable[[], float] = trio.current_time,
        sleep: Callable[[float], Awaitable[None]] = trio.sleep,
        wall: Callable[[], float] = time.time,
        rand: Callable[[], float] | None = None,
        backoff: Backoff | None = None,
        low_speed: SpeedFloor | None = None,
        max_reply_size: int = DEFAULT_MAX_REPLY,
    ) -> None:
        check_api_url(api_url)  # InsecureUrlError: the key would go to another machine in clear
        base = api_url.rstrip("/")
        self._base = base if base.endswith("/api") else base + "/api"
        self._key = protect(key)
        self._timeout = httpx.Timeout(timeout, connect=connect_timeout)
        self._upload_timeout = httpx.Timeout(
            timeout, connect=connect_timeout, read=max(timeout, UPLOAD_READ_TIMEOUT)
        )
        self._retry_budget = retry_budget
        self._low_speed = low_speed or SpeedFloor()
        self._user_agent = user_agent or f"vipfs/{__version__}"
        self._transport = transport
        self._now = now
        self._sleep = sleep
        self._backoff = backoff or (Backoff(rand=rand) if rand else Backoff())
        self.clock = ServerClock(wall)
        self.limiter = RateLimiter(max_in_flight, now=now, wall=wall)
        self._client: httpx.AsyncClient | None = None
        self.max_reply_size = max_reply_size
        # One big parse at a time: parsing holds a reply's objects in memory, and two at once
        # would double the peak for nothing (the GIL runs them one after the other anyway).
        self._parse_slot = trio.CapacityLimiter(1)

    def __repr__(self) -> str:
        return f"XvsClient({self._base!r})"

    # -- lifecycle -----------------------------------------------------------------------------
    async def __aenter__(self) -> Self:
        self._client = httpx.AsyncClient(
            timeout=self._timeout,
            headers={"User-Agent": self._user_agent},
            transport=self._transport,
            follow_redirects=False,
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            raise RuntimeError("XvsClient is not open: use `async with XvsClient(...)`")
        return self._client

    # -- state ---------------------------------------------------------------------------------
    def server_to_epoch(self, when: datetime) -> float:
        return self.clock.server_to_epoch(when)

    @property
    def requests_available(self) -> int | None:
        return self.limiter.requests_available

    @property
    def rate_state(self) -> RateState:
        return self.limiter.state

    # -- the call path -------------------------------------------------------------------------
    async def _api(
        self,
        op: str,
        params: Params | None = None,
        *,
        idempotent: bool = True,
        absent_is_done: bool = False,
    ) -> Reply | None:
        """One API call with retries; None only when `absent_is_done` and a retry found the
        object gone (a delete whose first attempt landed although its reply was lost)."""
        deadline = self._now() + self._retry_budget
        attempt = 0
        while True:
            try:
                await self.limiter.turn(deadline, op)
                return await self._send(op, params or {})
            except RateLimitedError as exc:
                if self._now() + exc.retry_after > deadline:
                    raise
                log.debug("%s: rate limited, waiting %.1f s", op, exc.retry_after)
            except NotFoundError:
                if absent_is_done and attempt > 0:
                    return None
                raise
            except TransientError as exc:
                if not idempotent and not isinstance(exc, NotSentError):
                    raise
                delay = self._backoff.delay(attempt)
                if self._now() + delay > deadline:
                    raise
                attempt += 1
                log.debug("%s: %s; retry %d in %.1f s", op, exc.msg, attempt, delay)
                await self._sleep(delay)

    async def _send(self, op: str, params: Params) -> Reply:
        form = {"key": self._key.value}
        form.update({name: _form_value(v) for name, v in params.items() if v is not None})
        async with self.limiter.slot():
            started = self._now()
            try:
                status, headers, content = await self._post_capped(op, form)
            except httpx.HTTPError as exc:
                error = _transport_error(exc, op)
                log.debug("%s failed after %.0f ms: %s", op, _ms(started, self._now()), error.msg)
                raise error from None
            elapsed = _ms(started, self._now())
        try:
            reply = await self._parse(
                op, len(content), envelope.decode, op, status, headers, content
            )
        except ApiError as exc:
            log.debug("%s: HTTP %d in %.0f ms: %s", op, status, elapsed, exc.msg)
            raise
        del content
        if reply.server_time is not None:
            self.clock.learn(reply.server_time)
        self.limiter.observe(reply.requests_available, reply.server_time)
        log.debug("%s: status %d in %.0f ms", op, reply.status, elapsed)
        refusal = envelope.error_for(op, reply, self.clock)
        if isinstance(refusal, RateLimitedError):
            self.limiter.block(refusal.retry_after, refusal.scope)
        if refusal is not None:
            raise refusal
        return reply

    async def _post_capped(
        self, op: str, form: dict[str, str]
    ) -> tuple[int, httpx.Headers, bytearray]:
        """POST and read the body, failing the call as soon as it passes `max_reply_size`: a
        hostile or broken host must not grow the mount's memory without bound."""
        cap = self.max_reply_size
        async with self._http().stream("POST", f"{self._base}/{op}", data=form) as response:
            body = await _read_capped(response, cap, op)
            return response.status_code, response.headers, body

    async def _parse(self, op: str, size: int, fn: Callable[..., T], *args: Any) -> T:
        """Run one parsing step of a reply of `size` bytes. A big one runs in a worker thread
        so the loop keeps answering other handlers; any failure (deep nesting, wrong types, a
        number or date out of range) is a ProtocolError of this one call, never of the mount."""
        try:
            if size < OFF_LOOP_BYTES:
                return fn(*args)
            # Shielded: a thread cannot be stopped midway, and a caller's budget running out
            # meanwhile would throw its result away, to fetch and parse it all over again.
            with trio.CancelScope(shield=True):
                parsed = await offloop.run_sync(fn, *args, limiter=self._parse_slot)
            return parsed
        except ApiError:
            raise
        except RecursionError:
            raise ProtocolError("unreadable reply (nested too deep)", op=op) from None
        except MemoryError:
            raise ProtocolError("unreadable reply (too big to parse)", op=op) from None
        except Exception:  # OverflowError, wrong types, a parser's bug on hostile input
            raise ProtocolError("unreadable reply (malformed)", op=op) from None

    async def _result(self, op: str, params: Params | None = None, **kw: bool) -> Any:
        reply = await self._api(op, params, **kw)
        return reply.result if reply is not None else None

    async def _record(
        self, op: str, params: Params | None, build: Callable[[Any], T], **kw: bool
    ) -> T:
        """One call whose `result` becomes a record (off the loop when the reply was big)."""
        reply = await self._api(op, params, **kw)
        if reply is None:
            return await self._parse(op, 0, build, None)
        return await self._parse(op, reply.size, build, reply.result)

    # -- account -------------------------------------------------------------------------------
    async def account_info(self) -> AccountInfo:
        op = "account/info"
        return await self._record(op, None, lambda r: AccountInfo.from_wire(_object(op, r)))

    async def account_stats(self, last_days: int = 7) -> list[StatsDay]:
        def build(result: Any) -> list[StatsDay]:
            return [StatsDay.from_wire(item) for item in to_dicts(result)]

        return await self._record("account/stats", {"last": last_days}, build)

    # -- folders -------------------------------------------------------------------------------
    async def folder_list(self, fld_id: int = 0, *, files: bool = True) -> FolderListing:
        op = "folder/list"
        params = {"fld_id": fld_id, "files": files}
        return await self._record(op, params, lambda r: FolderListing.from_wire(_object(op, r)))

    async def folder_create(
        self, name: str, parent_id: int = 0, *, descr: str | None = None
    ) -> int:
        params: Params = {"name": name, "parent_id": parent_id, "descr": descr}
        result = await self._result("folder/create", params, idempotent=False)
        fld_id = to_int(pick(result, "fld_id", "id") if isinstance(result, Mapping) else result)
        if fld_id is None:
            raise ProtocolError("folder/create answered without a folder id", op="folder/create")
        return fld_id

    async def folder_edit(
        self,
        fld_id: int,
        *,
        name: str | None = None,
        parent_id: int | None = None,
        descr: str | None = None,
    ) -> None:
        params = {"fld_id": fld_id, "name": name, "parent_id": parent_id, "descr": descr}
        await self._api("folder/edit", params)

    async def folder_delete(self, fld_id: int) -> None:
        await self._api("folder/delete", {"fld_id": fld_id}, absent_is_done=True)

    # -- files ---------------------------------------------------------------------------------
    async def file_info(self, codes: Sequence[str]) -> list[FileInfo]:
        found: dict[str, FileInfo] = {}
        unique = list(dict.fromkeys(codes))
        for start in range(0, len(unique), INFO_BATCH):
            batch = unique[start : start + INFO_BATCH]
            try:
                infos = await self._record("file/info", {"file_code": ",".join(batch)}, _file_infos)
            except RequestRejectedError as exc:
                if "invalid file code" not in exc.msg.lower():
                    raise
                continue  # none of the batch is even well-formed: all unknown
            for info in infos:
                found.setdefault(info.code, info)
        return [found.get(code) or FileInfo(code=code, status=404) for code in codes]

    async def file_edit(
        self,
        codes: str | Sequence[str],
        *,
        title: str | None = None,
        descr: str | None = None,
        cat_id: int | None = None,
        fld_id: int | None = None,
        public: bool | None = None,
        adult: bool | None = None,
        tags: str | None = None,
    ) -> None:
        # Never a parameter named `title`: XVS then answers "Invalid file name" (a server bug).
        params = {
            "file_code": codes if isinstance(codes, str) else ",".join(codes),
            "file_title": title,
            "file_descr": descr,
            "cat_id": cat_id,
            "file_fld_id": fld_id,
            "file_public": public,
            "file_adult": adult,
            "tags": tags,
        }
        await self._api("file/edit", params)

    async def file_list(
        self,
        *,
        fld_id: int | None = None,
        title: str | None = None,
        created: datetime | int | None = None,
        public: bool | None = None,
        adult: bool | None = None,
        per_page: int = LIST_PAGE,
        page: int = 1,
    ) -> FilePage:
        params = {
            "fld_id": fld_id,
            "title": title,
            "created": created.strftime("%Y-%m-%d %H:%M:%S")
            if isinstance(created, datetime)
            else created,
            "public": public,
            "adult": adult,
            "per_page": per_page,
            "page": page,
        }
        op = "file/list"
        return await self._record(op, params, lambda r: FilePage.from_wire(_object(op, r)))

    async def file_list_all(
        self, *, fld_id: int | None = None, title: str | None = None
    ) -> list[FileEntry]:
        entries: dict[str, FileEntry] = {}
        for page in range(1, _MAX_PAGES):
            batch = await self.file_list(fld_id=fld_id, title=title, per_page=LIST_PAGE, page=page)
            for entry in batch.files:  # same-second uploads may shift across pages: dedupe
                entries.setdefault(entry.code, entry)
            if len(batch.files) < LIST_PAGE:
                break
        return list(entries.values())

    async def file_clone(
        self, code: str, *, title: str | None = None, fld_id: int | None = None
    ) -> CloneResult:
        params = {"file_code": code, "file_title": title, "fld_id": fld_id}
        clone = await self._record(
            "file/clone", params, lambda r: CloneResult.from_wire(to_dict(r)), idempotent=False
        )
        if not clone.code:
            raise ProtocolError("file/clone answered without a file code", op="file/clone")
        return clone

    async def file_delete(self, code: str) -> None:
        await self._api("file/delete", {"file_code": code}, absent_is_done=True)

    async def file_direct_link(self, code: str) -> DirectLink:
        reply = await self._api("file/direct_link", {"file_code": code})
        assert reply is not None
        if reply.result is None and reply.msg.strip().lower() == "uploading":
            raise TransientError("file is still uploading", status=200, op="file/direct_link")
        return await self._parse("file/direct_link", reply.size, DirectLink.from_wire, reply.result)

    async def file_deleted(self, last_hours: int = 720) -> list[DeletedFile]:
        def build(result: Any) -> list[DeletedFile]:
            return [DeletedFile.from_wire(item) for item in to_dicts(result)]

        return await self._record("file/deleted", {"last": last_hours}, build)

    async def file_dmca(self, last_hours: int = 720) -> list[DmcaFile]:
        def build(result: Any) -> list[DmcaFile]:
            return [DmcaFile.from_wire(item) for item in to_dicts(result)]

        return await self._record("file/dmca", {"last": last_hours}, build)

    async def file_encodings(self, code: str | None = None) -> list[Encoding]:
        def build(result: Any) -> list[Encoding]:
            return [Encoding.from_wire(item) for item in to_dicts(result)]

        return await self._record("file/encodings", {"file_code": code}, build)

    async def file_url_uploads(self, code: str | None = None) -> list[UrlUpload]:
        def build(result: Any) -> list[UrlUpload]:
            return [UrlUpload.from_wire(item) for item in to_dicts(result)]

        return await self._record("file/url_uploads", {"file_code": code}, build)

    async def file_url_actions(self, *, delete_codes: Sequence[str]) -> None:
        """Drop URL uploads from the host's queue: a failed one holds a slot (and its URL)
        until it is dropped."""
        await self._api("file/url_actions", {"delete_code": ",".join(delete_codes)})

    # -- uploads -------------------------------------------------------------------------------
    async def upload_server(self) -> str:
        reply = await self._api("upload/server")
        assert reply is not None
        url = to_str(reply.result) if isinstance(reply.result, str) else None
        if not url or not url.startswith(("http://", "https://")):
            # `{"status":200,"msg":"No servers available for uploads","result":{}}`
            raise TransientError(reply.msg or "no upload server", status=200, op="upload/server")
        return url

    async def upload_url(self, url: str, *, fld_id: int = 0, public: bool | None = None) -> str:
        params: Params = {"url": url, "fld_id": fld_id, "file_public": public}
        result = await self._result("upload/url", params, idempotent=False)
        code = to_code(pick(to_dict(result), "filecode", "file_code"))
        if not code:
            raise ProtocolError("upload/url answered without a file code", op="upload/url")
        return code

    async def upload_file(
        self,
        server_url: str,
        path: Path,
        *,
        filename: str,
        title: str | None = None,
        descr: str | None = None,
        fld_id: int = 0,
        tags: str | None = None,
        public: bool | None = None,
        adult: bool | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> UploadedFile:
        optional = {
            "file_title": title,
            "file_descr": descr,
            "fld_id": fld_id,
            "tags": tags,
            "file_public": public,
            "file_adult": adult,
        }
        fields = [("key", self._key.value)]
        fields += [(name, _form_value(v)) for name, v in optional.items() if v is not None]
        url, upgraded = secure_node_url(self._base, server_url)
        if upgraded:
            log.info("upload node %s offered plain http; using https", node_name(url))
        deadline = self._now() + self._retry_budget
        attempt = 0
        while True:
            body = MultipartFile(fields, "file", path, filename, progress=progress)
            try:
                return await self._post_upload(url, body)
            except NotSentError as exc:
                delay = self._backoff.delay(attempt)
                if self._now() + delay > deadline:
                    raise _node_error(exc, url, upgraded) from None
                attempt += 1
                await self._sleep(delay)
            except (TransientError, ProtocolError) as exc:
                if type(exc) not in (TransientError, ProtocolError):
                    raise  # a rate limit or another kind keeps its type and fields
                raise _node_error(exc, url, upgraded) from None

    async def _post_upload(self, server_url: str, body: MultipartFile) -> UploadedFile:
        """One POST to the node, aborted when it moves less than the low-speed floor (the wait
        for the node's reply counts, as in curl: a node that reads nothing looks the same)."""
        op = "upload"
        headers = {"Content-Type": body.content_type, "Content-Length": str(body.length)}
        started = self._now()
        pace = Pace(self._low_speed, trio.current_time(), size=body.length)
        floor = trio.CancelScope(deadline=pace.deadline())

        def moved(sent: int) -> None:
            pace.moved_to(sent, trio.current_time())
            floor.deadline = pace.deadline()

        body.watch(moved)
        try:
            with floor:
                async with (
                    aclosing(body.chunks()) as chunks,  # closes the file even on failure
                    self._http().stream(
                        "POST",
                        server_url,
                        content=chunks,
                        headers=headers,
                        timeout=self._upload_timeout,
                    ) as streamed,
                ):
                    reply = await _read_capped(streamed, NODE_REPLY_MAX, op)
                    response = httpx.Response(
                        streamed.status_code, headers=streamed.headers, content=bytes(reply)
                    )
        except httpx.HTTPError as exc:
            raise _transport_error(exc, op) from None
        except OSError as exc:
            raise TransientError(f"reading the file failed: {exc.strerror or exc}", op=op) from None
        if floor.cancelled_caught:
            raise pace.error(op)
        log.debug(
            "upload: HTTP %d, %d bytes in %.0f ms",
            response.status_code,
            body.length,
            _ms(started, self._now()),
        )
        return _parse_upload(response)

    # -- bytes ---------------------------------------------------------------------------------
    async def download(
        self, url: str, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        if end is not None and end <= start:
            return
        op = "download"
        headers = {}
        if start or end is not None:
            headers["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        left = None if end is None else end - start
        try:
            async with self._http().stream(
                "GET", url, headers=headers, follow_redirects=True
            ) as response:
                status = response.status_code
                if status == 416:
                    return  # the range starts at or past the end
                if status in (401, 403, 410):
                    raise LinkExpiredError(f"link refused (HTTP {status})", status=status, op=op)
                if status == 404:
                    raise NotFoundError("link points nowhere (HTTP 404)", status=404, op=op)
                if status not in (200, 206):
                    raise TransientError(f"HTTP {status}", status=status, op=op)
                skip = start if status == 200 else 0  # the server ignored the range
                # Closed explicitly: leaving a range early must not strand httpx's generator.
                body = cast(AsyncGenerator[bytes, None], response.aiter_bytes())
                async with aclosing(body) as stream:
                    async for chunk in stream:
                        if skip:
                            dropped = min(skip, len(chunk))
                            chunk, skip = chunk[dropped:], skip - dropped
                        if left is not None:
                            chunk = chunk[:left]
                            left -= len(chunk)
                        if chunk:
                            yield chunk
                        if left == 0 and status == 200:
                            return  # a whole file for a range: stop reading the rest
                    # A 206 body ends by itself: reading it out lets httpx's own generators
                    # finish, where leaving early would strand them for the garbage collector.
        except httpx.HTTPError as exc:
            raise _transport_error(exc, op) from None


def _too_big(op: str, cap: int) -> ProtocolError:
    return ProtocolError(f"reply larger than {cap} bytes (see --max-reply-size)", op=op)


async def _read_capped(response: httpx.Response, cap: int, op: str) -> bytearray:
    """A streamed reply's body, failing as soon as it passes `cap` bytes (declared or sent)."""
    declared = to_int(response.headers.get("content-length"))
    if declared is not None and declared > cap:
        raise _too_big(op, cap)
    body = bytearray()  # grows in place: no second copy of a 60 MB body
    async for chunk in response.aiter_bytes():
        if len(body) + len(chunk) > cap:
            raise _too_big(op, cap)
        body += chunk
    return body


def _object(op: str, result: Any) -> Mapping[str, Any]:
    """A result that must be an object: `{}`/`[]`/absent read as empty (hosts send those for
    nothing), anything else is not an answer to this call (an empty folder it is not)."""
    if isinstance(result, Mapping):
        return result
    if result is None or result == [] or result == "":
        return {}
    raise ProtocolError(f"result is a JSON {type(result).__name__}, not an object", op=op)


def _file_infos(result: Any) -> list[FileInfo]:
    return [
        FileInfo.from_wire(item) for item in valid_items(to_dicts(result), has_code, "file/info")
    ]


def _form_value(value: str | int | bool) -> str:
    """Booleans travel as 0/1, the only flags XVS understands."""
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def _ms(started: float, ended: float) -> float:
    return (ended - started) * 1000


def _node_error(exc: ApiError, url: str, upgraded: bool) -> ApiError:
    """The same failure, saying which node it was (and that it was asked over https)."""
    how = " over https (it offered plain http)" if upgraded else ""
    msg = f"upload node {node_name(url)}{how}: {exc.msg}"
    if isinstance(exc, NotSentError):
        return NotSentError(msg, status=exc.status, op=exc.op)
    if isinstance(exc, ProtocolError):
        return ProtocolError(msg, status=exc.status, op=exc.op)
    return TransientError(msg, status=exc.status, op=exc.op)


def _transport_error(exc: httpx.HTTPError, op: str) -> ApiError:
    """An httpx failure → the error tree; the text is the failure's kind, never the URL."""
    detail = redact(str(exc)) or type(exc).__name__
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return ProtocolError(f"bad URL: {type(exc).__name__}", op=op)
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        return NotSentError(f"cannot connect: {detail}", op=op)
    if isinstance(exc, httpx.TimeoutException):
        return TransientError(f"timed out ({type(exc).__name__})", op=op)
    return TransientError(f"network error: {detail}", op=op)


def _parse_upload(response: httpx.Response) -> UploadedFile:
    """A node's reply → the one file's result; node faults are transient, file refusals not."""
    op = "upload"
    text = response.content.decode("utf-8", errors="replace")
    try:
        data: Any = json.loads(text)
    except (ValueError, RecursionError):  # a 100,000-deep reply is as unreadable as HTML
        data = None
    if isinstance(data, Mapping):
        if response.status_code >= 500:
            raise TransientError(f"node error (HTTP {response.status_code})", op=op)
        status = to_int(data.get("status"))
        if status is not None and status != 200:
            reply = envelope.decode(op, response.status_code, response.headers, response.content)
            error = envelope.error_for(op, reply, ServerClock())
            if error is not None:
                raise error
        items = to_dicts(pick(data, "files", "result"))
        if not items:
            raise ProtocolError("upload reply lists no file", op=op)
        uploaded = UploadedFile.from_wire(items[0])
    elif isinstance(data, list) and to_dicts(data):  # XFS: [{"file_code":..,"file_status":..}]
        uploaded = UploadedFile.from_wire(to_dicts(data)[0])
    else:
        code = _UPLOAD_CODE.search(text)
        state = _UPLOAD_STATUS.search(text)
        if response.status_code != 200 or code is None:
            raise TransientError(
                envelope.describe_page(response.status_code, response.headers, text), op=op
            )
        uploaded = UploadedFile(
            code=to_code(code.group(1)), filename="", status=state.group(1) if state else "OK"
        )
    if uploaded.ok:
        return uploaded
    reason = uploaded.status or "no status"
    if uploaded.status.strip().upper() in {"OK", "200"}:
        raise ProtocolError("node accepted the file but gave no file code", op=op)
    if reason.lower().startswith(_NODE_FAULTS):
        raise TransientError(f"node fault: {reason}", op=op)
    raise UploadRejectedError(reason, filename=uploaded.filename or None)


if TYPE_CHECKING:

    def _satisfies_protocol(client: XvsClient) -> XvsApi:
        """mypy proves here that XvsClient offers all of XvsApi, with matching signatures."""
        return client

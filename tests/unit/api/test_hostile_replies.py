"""Issue 8, items 8-10 at the client: every host reply is hostile input.

A reply that cannot be parsed fails its one call with ProtocolError (never RecursionError or
OverflowError); replies are capped while they are read; big ones are parsed off the trio loop;
codes and folder ids that break the reference's rules never leave the client.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import pytest

from vipfs.api import envelope, records
from vipfs.api.client import OFF_LOOP_BYTES
from vipfs.api.errors import ProtocolError
from vipfs.api.records import DirectLink, FolderListing, UploadedFile
from vipfs.api.wire import to_code, to_id

from .fakehost import SERVER_TIME, FakeHost, ok, raw

GOOD = "abcdefabcdef"
HOSTILE = ["../../../../tmp/vipfs-pwned", "a/b", "x" * 500, "abcdef\x00ghijk", "abcdef\nghijk", ""]


def entry(code: Any, fld_id: Any = 0, title: str = "t") -> dict[str, Any]:
    return {"file_code": code, "fld_id": fld_id, "title": title, "uploaded": SERVER_TIME}


async def test_a_deep_reply_is_a_protocol_error_of_that_call() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    body = f'{{"status":200,"msg":"OK","server_time":"{SERVER_TIME}","result":{deep}}}'
    host = FakeHost().on("folder/list", raw(body)).on("account/info", ok({"login": "me"}))
    async with host.client() as api:
        with pytest.raises(ProtocolError, match="unreadable reply"):
            await api.folder_list(0)
        assert (await api.account_info()).login == "me"  # the client goes on


async def test_a_reply_whose_result_has_the_wrong_type_is_no_empty_folder() -> None:
    host = FakeHost().on("folder/list", ok("a string"), ok([]))
    async with host.client() as api:
        with pytest.raises(ProtocolError, match="not an object"):
            await api.folder_list(0)
        assert await api.folder_list(0) == FolderListing([], [])  # `[]` is PHP's empty object


async def _stream(chunks: int, counter: list[int]) -> AsyncIterator[bytes]:
    yield b'{"status":200,"msg":"OK","result":{"files":[], "pad":"'
    for _ in range(chunks):
        counter[0] += 1
        yield b"x" * 65536
    yield b'"}}'


async def test_a_reply_past_the_cap_fails_while_it_is_read() -> None:
    sent = [0]
    host = FakeHost().on("folder/list", lambda _: httpx.Response(200, content=_stream(1000, sent)))
    async with host.client(max_reply_size=1 << 20) as api:
        with pytest.raises(ProtocolError, match="larger than 1048576 bytes"):
            await api.folder_list(0)
    assert sent[0] <= 17  # stopped at the cap, not after 64 MB


async def test_a_declared_length_past_the_cap_fails_before_reading() -> None:
    sent = [0]

    def reply(_: httpx.Request) -> httpx.Response:
        headers = {"content-length": str(1000 * 65536)}
        return httpx.Response(200, content=_stream(1000, sent), headers=headers)

    host = FakeHost().on("account/info", reply)
    async with host.client(max_reply_size=1 << 20) as api:
        with pytest.raises(ProtocolError, match="larger than"):
            await api.account_info()
    assert sent[0] == 0


async def test_a_reply_under_the_cap_still_parses() -> None:
    host = FakeHost().on("folder/list", lambda _: httpx.Response(200, content=_stream(8, [0])))
    async with host.client(max_reply_size=1 << 20) as api:
        assert await api.folder_list(0) == FolderListing([], [])


async def test_big_replies_are_parsed_in_a_worker_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    threads: list[int] = []
    original = records.FolderListing.from_wire.__func__  # type: ignore[attr-defined]

    def spy(cls: type[FolderListing], raw_: Any) -> FolderListing:
        threads.append(threading.get_ident())
        listing: FolderListing = original(cls, raw_)
        return listing

    monkeypatch.setattr(records.FolderListing, "from_wire", classmethod(spy))
    many = [entry(f"{i:012d}", title="x" * 100) for i in range(OFF_LOOP_BYTES // 100)]
    host = FakeHost().on("folder/list", ok({"files": many}), ok({"files": many[:2]}))
    async with host.client() as api:
        assert len((await api.folder_list(0)).files) == len(many)
        assert len((await api.folder_list(0)).files) == 2
    loop = threading.get_ident()
    assert threads[0] != loop  # the big one, off the loop
    assert threads[1] == loop  # a small one is not worth a thread


async def test_hostile_codes_and_folder_ids_are_dropped_with_one_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    files = [entry(GOOD)] + [entry(c) for c in HOSTILE]
    files += [entry("bcdefabcdefa", fld_id=bad) for bad in ("abc", "-7", "1.5", "0x1f", "1e3")]
    folders = [{"fld_id": "12", "name": "ok"}] + [
        {"fld_id": bad, "name": "evil"} for bad in ("abc", "-7", "1.5", "", "0", 0, None)
    ]
    host = FakeHost().on("folder/list", ok({"folders": folders, "files": files}))
    host.on("file/list", ok({"files": files}))
    host.on("file/info", ok([{"status": 200, "file_code": c} for c in [GOOD, *HOSTILE]]))
    caplog.set_level(logging.WARNING, "vipfs.api")
    async with host.client() as api:
        listing = await api.folder_list(0)
        assert [f.code for f in listing.files] == [GOOD]
        assert [f.fld_id for f in listing.folders] == [12]
        assert [f.code for f in (await api.file_list(fld_id=0)).files] == [GOOD]
        [info] = await api.file_info([GOOD])
        assert info.status == 200
    lines = [r.getMessage() for r in caplog.records]
    assert any("folder/list: ignored 11 entries" in line for line in lines)
    assert any("folder/list: ignored 7 entries" in line for line in lines)
    assert not any("pwned" in line or "\n" in line or "\x00" in line for line in lines)


@pytest.mark.parametrize("code", [*HOSTILE, "undef", "abcdefghijklm", "ab¢defabcdef", 12])
def test_only_reference_codes_are_codes(code: Any) -> None:
    assert to_code(code) is None
    assert UploadedFile.from_wire({"file_code": code, "file_status": "OK"}).ok is False


def test_reference_codes_pass() -> None:
    assert to_code("abc_DEF_1234") == "abc_DEF_1234"


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, 0), (0, 0), ("0", 0), (" 17 ", 17), (17, 17), ("-7", None), (-7, None),
     ("1.5", None), (1.5, None), ("abc", None), ("", None), (True, None), ("9" * 30, None)],
)  # fmt: skip
def test_folder_ids_are_non_negative_integers(value: Any, expected: int | None) -> None:
    assert to_id(value) == expected


async def test_a_server_time_of_year_9999_or_0000_breaks_nothing() -> None:
    def with_time(stamp: str, **extra: Any) -> httpx.Response:
        body = {"status": 200, "msg": "OK", "server_time": stamp, "result": {"login": "me"}}
        return httpx.Response(200, json={**body, **extra})

    host = FakeHost().on(
        "account/info",
        with_time("9999-12-31 23:59:59", requests_available=3),
        with_time("0000-00-00 00:00:00"),
        with_time(SERVER_TIME),
    )
    async with host.client(wall=lambda: datetime(2026, 11, 27, 12, 0, 30).timestamp()) as api:
        for _ in range(3):
            assert (await api.account_info()).login == "me"
        when = api.server_to_epoch(datetime(9999, 12, 31, 23, 59, 59))
        assert when <= datetime(2026, 11, 28, 12, 0, 30).timestamp()


async def test_a_daily_limit_stamped_9999_12_31_is_a_limit_not_an_overflow() -> None:
    limited = httpx.Response(
        200,
        json={"status": 403, "msg": "Requests limit reached: 100 per day",
              "server_time": "9999-12-31 23:59:59"},
    )  # fmt: skip
    host = FakeHost().on("account/info", limited)
    async with host.client(retry_budget=0.0) as api:
        with pytest.raises(Exception) as caught:
            await api.account_info()
    assert type(caught.value).__name__ == "RateLimitedError"
    assert 0 < caught.value.retry_after < 3  # type: ignore[attr-defined]


@pytest.mark.parametrize("code", ["a/b", "ab\x00", "x" * 500, "../..", ""])
def test_a_hostile_folder_code_is_dropped_not_put_in_a_name(code: str) -> None:
    [folder] = FolderListing.from_wire(
        {"folders": [{"fld_id": 5, "name": "n", "code": code}]}
    ).folders
    assert folder.code is None


def test_a_folder_code_of_word_characters_is_kept() -> None:
    [folder] = FolderListing.from_wire(
        {"folders": [{"fld_id": 5, "name": "n", "code": "x7k2"}]}
    ).folders
    assert folder.code == "x7k2"


@pytest.mark.parametrize("size", [-1, 10**30, "1e400", "huge"])
def test_an_absurd_direct_link_size_is_unknown(size: Any) -> None:
    link = DirectLink.from_wire({"versions": [{"name": "o", "url": "https://x/o", "size": size}]})
    assert [v.size for v in link.versions] == [None]  # never a sparse file of 10**30 bytes


def test_decoding_frees_the_read_buffer_before_the_parse() -> None:
    body = bytearray(b'{"status":200,"msg":"OK","result":{"login":"me"}}')
    reply = envelope.decode("account/info", 200, {}, body)
    assert reply.result == {"login": "me"} and reply.size == 49
    assert len(body) == 0  # one copy of a 60 MB body at a time, not two

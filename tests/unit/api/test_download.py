"""Ranged reads of direct links: bytes in order, range honoured, refusals mapped."""

from __future__ import annotations

import httpx
import pytest

from vipfs.api.errors import ApiError, LinkExpiredError, NotFoundError, TransientError

from .fakehost import FakeHost

DATA = bytes(range(256)) * 40
LINK = "https://node.test/v/01/abc_n/v.mp4"


def ranged(request: httpx.Request) -> httpx.Response:
    spec = request.headers.get("range", "")
    if not spec:
        return httpx.Response(200, content=DATA)
    first, _, last = spec.removeprefix("bytes=").partition("-")
    end = int(last) + 1 if last else len(DATA)
    if int(first) >= len(DATA):
        return httpx.Response(416)
    return httpx.Response(206, content=DATA[int(first) : end])


async def fetch(host: FakeHost, start: int = 0, end: int | None = None) -> bytes:
    async with host.client() as api:
        return b"".join([chunk async for chunk in api.download(LINK, start, end)])


async def test_whole_and_ranged() -> None:
    host = FakeHost().on("v/01/abc_n/v.mp4", ranged)
    assert await fetch(host) == DATA
    assert await fetch(host, 100, 300) == DATA[100:300]
    assert await fetch(host, 10000) == DATA[10000:]
    assert await fetch(host, len(DATA) + 5) == b""
    assert await fetch(host, 5, 5) == b""
    assert [r.headers.get("range") for r in host.requests] == [
        None,
        "bytes=100-299",
        "bytes=10000-",
        f"bytes={len(DATA) + 5}-",
    ]


async def test_server_ignoring_the_range_still_yields_the_range() -> None:
    host = FakeHost().on("v/01/abc_n/v.mp4", httpx.Response(200, content=DATA))
    assert await fetch(host, 100, 300) == DATA[100:300]


@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        (httpx.Response(403), LinkExpiredError),
        (httpx.Response(410), LinkExpiredError),
        (httpx.Response(404), NotFoundError),
        (httpx.Response(503), TransientError),
        (httpx.ReadError("reset"), TransientError),
    ],
)
async def test_refusals(reply: httpx.Response | Exception, kind: type[ApiError]) -> None:
    host = FakeHost().on("v/01/abc_n/v.mp4", reply)
    with pytest.raises(kind):
        await fetch(host)
    assert issubclass(LinkExpiredError, TransientError)

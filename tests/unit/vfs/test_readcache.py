"""ReadCache against an in-memory host: exact bytes, sharing, readahead, expiry, the cap."""

from __future__ import annotations

import errno
import os
import random
import stat
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.vfs.fake_api import FakeApi
from vipfs.api.errors import (
    TransientError,
    UnsupportedError,
)
from vipfs.api.records import DirectLink, LinkVersion
from vipfs.vfs.errors import VfsError
from vipfs.vfs.features import HostFeatures
from vipfs.vfs.readcache import ReadCache, choose_version


def blob(n: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(n)


Factory = Callable[..., Awaitable[ReadCache]]


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "cache" / "read"


@pytest.fixture
def start_cache(nursery: trio.Nursery, cache_dir: Path) -> Factory:
    async def start(host: FakeApi, **kwargs: Any) -> ReadCache:
        kwargs.setdefault("max_bytes", 1 << 30)
        kwargs.setdefault("features", HostFeatures({"direct_link": True}))
        kwargs.setdefault("chunk_size", 1000)
        kwargs.setdefault("readahead", 2)
        kwargs.setdefault("read_timeout", 5.0)
        kwargs.setdefault("retry_initial", 0.001)
        cache = ReadCache(host, cache_dir, **kwargs)
        await nursery.start(cache.run)
        return cache

    return start


async def eventually(condition: Callable[[], bool]) -> None:
    """Poll the fake's counters (they have no events to wait on), failing after 5 s."""
    with trio.fail_after(5):
        while not condition():  # noqa: ASYNC110
            await trio.sleep(0.005)


def cache_files(root: Path) -> list[Path]:
    return sorted(root.glob("*.cache"))


async def read_all(cache: ReadCache, code: str, step: int = 700) -> bytes:
    handle = await cache.open(code)
    out = bytearray()
    while chunk := await cache.read(handle, len(out), step):
        out += chunk
    await cache.release(handle)
    return bytes(out)


# -- exact bytes ---------------------------------------------------------------------------------
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    size=st.integers(0, 9000),
    chunk=st.integers(1, 3000),
    readers=st.lists(
        st.lists(st.tuples(st.integers(0, 10000), st.integers(0, 4000)), max_size=8),
        min_size=1,
        max_size=3,
    ),
)
def test_random_reads_return_exact_bytes(
    size: int, chunk: int, readers: list[list[tuple[int, int]]]
) -> None:
    """Any mix of reads, by up to three concurrent handles, returns exactly the file's bytes."""
    data = blob(size, seed=size)
    host = FakeApi.serving({"abcdefghijkl": {"n": data}}, piece=97)

    async def reader(cache: ReadCache, reads: list[tuple[int, int]]) -> None:
        handle = await cache.open("abcdefghijkl")
        for offset, length in reads:
            assert await cache.read(handle, offset, length) == data[offset : offset + length]
        await cache.release(handle)

    async def scenario(root: Path) -> None:
        features = HostFeatures({"direct_link": True})
        cache = ReadCache(host, root, max_bytes=1 << 30, features=features, chunk_size=chunk)
        async with trio.open_nursery() as nursery:
            await nursery.start(cache.run)
            async with trio.open_nursery() as readers_nursery:
                for reads in readers:
                    readers_nursery.start_soon(reader, cache, reads)
            nursery.cancel_scope.cancel()

    with tempfile.TemporaryDirectory() as root:
        trio.run(scenario, Path(root))
    served = [(s, e) for _, s, e in host.downloads]
    assert all(e - s <= chunk for s, e in served)  # ranged GETs of at most one chunk


async def test_open_downloads_nothing_and_first_read_does(start_cache: Factory) -> None:
    data = blob(5000)
    host = FakeApi.serving({"abcdefghijkl": {"n": data}})
    cache = await start_cache(host)
    handle = await cache.open("abcdefghijkl")
    assert host.count("file_direct_link") == 0 and host.downloads == []
    assert cache.known_size("abcdefghijkl") is None
    assert await cache.read(handle, 1500, 100) == data[1500:1600]
    assert host.count("file_direct_link") == 1
    assert cache.known_size("abcdefghijkl") == 5000
    assert await cache.read(handle, 4990, 100) == data[4990:]
    assert await cache.read(handle, 5000, 100) == b""
    stats = cache.stats()
    assert stats["open_handles"] == 1 and stats["cached_files"] == 1
    assert stats["cached_bytes"] == cache.cached_bytes == 2000  # chunks 1 and 4 only: sparse
    await cache.release(handle)
    assert cache.stats()["open_handles"] == 0


async def test_original_is_preferred_then_the_largest_encode(start_cache: Factory) -> None:
    host = FakeApi.serving(
        {
            "withoriginal": {"n": blob(300, 1), "o": blob(900, 2), "h": blob(600, 3)},
            "encodesonly1": {"l": blob(100, 4), "h": blob(700, 5), "n": blob(400, 6)},
        }
    )
    cache = await start_cache(host)
    assert await read_all(cache, "withoriginal") == blob(900, 2)
    assert await read_all(cache, "encodesonly1") == blob(700, 5)
    assert cache.known_size("withoriginal") == 900
    assert cache.known_size("encodesonly1") == 700


def test_choose_version_skips_unknown_sizes() -> None:
    versions = [LinkVersion("o", "u", None), LinkVersion("n", "v", 10)]
    link = DirectLink(versions=versions, length=None, player_img=None)
    chosen = choose_version(link)
    assert chosen is not None and chosen.name == "n"
    assert choose_version(DirectLink(versions=[], length=None, player_img=None)) is None


async def test_read_returns_as_soon_as_its_bytes_arrive(start_cache: Factory) -> None:
    data = blob(600_000)
    host = FakeApi.serving({"abcdefghijkl": {"n": data}}, piece=16_384)
    host.hold_at = 400_000  # the download stalls well inside the only chunk
    cache = await start_cache(host, chunk_size=1_000_000)
    handle = await cache.open("abcdefghijkl")
    assert await cache.read(handle, 1000, 4096) == data[1000:5096]
    assert host.active_downloads == 1  # the chunk is still downloading
    host.release.set()
    assert await cache.read(handle, 550_000, 50_000) == data[550_000:]
    await cache.release(handle)


# -- readahead and sharing -------------------------------------------------------------------
async def test_sequential_reads_start_readahead(start_cache: Factory) -> None:
    data = blob(10_000)
    host = FakeApi.serving({"abcdefghijkl": {"n": data}})
    cache = await start_cache(host, readahead=3)
    handle = await cache.open("abcdefghijkl")
    assert await cache.read(handle, 0, 400) == data[:400]
    assert host.starts("abcdefghijkl") == [0]  # a first read alone does not read ahead
    assert await cache.read(handle, 400, 400) == data[400:800]
    await eventually(lambda: sorted(host.starts("abcdefghijkl")) == [0, 1000, 2000, 3000])
    await cache.release(handle)


async def test_random_reads_fetch_only_their_chunks(start_cache: Factory) -> None:
    data = blob(10_000)
    host = FakeApi.serving({"abcdefghijkl": {"n": data}})
    cache = await start_cache(host, readahead=3)
    handle = await cache.open("abcdefghijkl")
    assert await cache.read(handle, 7100, 50) == data[7100:7150]
    assert await cache.read(handle, 2100, 50) == data[2100:2150]
    assert await cache.read(handle, 5900, 200) == data[5900:6100]
    await trio.sleep(0.05)
    assert sorted(host.starts("abcdefghijkl")) == [2000, 5000, 6000, 7000]
    await cache.release(handle)


async def test_concurrent_readers_share_one_download(start_cache: Factory, cache_dir: Path) -> None:
    data = blob(8000)
    host = FakeApi.serving({"abcdefghijkl": {"n": data}}, piece=100)
    cache = await start_cache(host)
    results: dict[int, bytes] = {}

    async def reader(n: int) -> None:
        results[n] = await read_all(cache, "abcdefghijkl", step=300 + n)

    async with trio.open_nursery() as nursery:
        for n in range(4):
            nursery.start_soon(reader, n)
    assert all(result == data for result in results.values())
    assert len(results) == 4
    starts = host.starts("abcdefghijkl")
    assert sorted(starts) == sorted(set(starts))  # no byte range fetched twice
    assert host.count("file_direct_link") == 1
    assert len(cache_files(cache_dir)) == 1


# -- failures ----------------------------------------------------------------------------------
async def test_expired_link_is_refetched_and_the_download_resumes(start_cache: Factory) -> None:
    data = blob(3000)
    host = FakeApi.serving({"abcdefghijkl": {"n": data}}, piece=100)
    host.hold_at = 1500
    cache = await start_cache(host, chunk_size=3000, readahead=0)
    handle = await cache.open("abcdefghijkl")
    assert await cache.read(handle, 0, 1000) == data[:1000]
    host.link_gen += 1  # every URL handed out so far is now refused, mid-download included
    host.release.set()
    assert await cache.read(handle, 2000, 1000) == data[2000:]
    assert host.count("file_direct_link") == 2
    starts = host.starts("abcdefghijkl")
    assert starts[0] == 0 and len(starts) == 2
    assert 0 < starts[1] <= 1500  # resumed after the bytes it had, not from the start
    await cache.release(handle)


async def test_link_expired_between_reads(start_cache: Factory) -> None:
    data = blob(5000)
    host = FakeApi.serving({"abcdefghijkl": {"n": data}})
    cache = await start_cache(host)
    handle = await cache.open("abcdefghijkl")
    assert await cache.read(handle, 0, 10) == data[:10]
    host.link_gen += 1
    assert await cache.read(handle, 4000, 1000) == data[4000:]
    assert host.count("file_direct_link") == 2
    await cache.release(handle)


async def test_transient_download_failures_are_retried(start_cache: Factory) -> None:
    data = blob(2500)
    host = FakeApi.serving({"abcdefghijkl": {"n": data}})
    host.download_failures = 3
    cache = await start_cache(host)
    assert await read_all(cache, "abcdefghijkl") == data


async def test_persistent_failure_becomes_eio_and_a_later_read_retries(
    start_cache: Factory,
) -> None:
    data = blob(2500)
    host = FakeApi.serving({"abcdefghijkl": {"n": data}})
    host.download_failures = 10**6
    cache = await start_cache(host, read_timeout=0.2)
    handle = await cache.open("abcdefghijkl")
    with pytest.raises(VfsError) as caught:
        await cache.read(handle, 0, 100)
    assert caught.value.errno == errno.EIO
    host.download_failures = 0
    assert await cache.read(handle, 0, 100) == data[:100]
    await cache.release(handle)


async def test_missing_file_is_eio(start_cache: Factory) -> None:
    cache = await start_cache(FakeApi.serving({}))
    handle = await cache.open("abcdefghijkl")
    with pytest.raises(VfsError) as caught:
        await cache.read(handle, 0, 100)
    assert caught.value.errno == errno.EIO and "no longer exists" in caught.value.why


async def test_read_without_run_fails_instead_of_hanging(cache_dir: Path) -> None:
    host = FakeApi.serving({"abcdefghijkl": {"n": blob(10)}})
    features = HostFeatures({"direct_link": True})
    cache = ReadCache(host, cache_dir, max_bytes=1 << 20, features=features)
    handle = await cache.open("abcdefghijkl")
    with pytest.raises(VfsError) as caught:
        await cache.read(handle, 0, 10)
    assert caught.value.errno == errno.EIO and "not running" in caught.value.why


async def test_unknown_handle_is_ebadf(start_cache: Factory) -> None:
    cache = await start_cache(FakeApi.serving({}))
    with pytest.raises(VfsError) as caught:
        await cache.read(12345, 0, 1)
    assert caught.value.errno == errno.EBADF


# -- the host feature --------------------------------------------------------------------------
async def test_disabled_direct_link_is_eacces_at_open(start_cache: Factory) -> None:
    host = FakeApi.serving({"abcdefghijkl": {"n": blob(10)}})
    cache = await start_cache(host, features=HostFeatures({"direct_link": False}))
    with pytest.raises(VfsError) as caught:
        await cache.open("abcdefghijkl")
    assert caught.value.errno == errno.EACCES
    assert "file/direct_link" in caught.value.why
    assert host.count("file_direct_link") == 0


async def test_unknown_feature_is_probed_at_open(start_cache: Factory) -> None:
    host = FakeApi.serving({"abcdefghijkl": {"n": blob(10)}})
    host.failing["file_direct_link"] = UnsupportedError(
        "This function not allowed in API", status=403
    )
    features = HostFeatures()
    cache = await start_cache(host, features=features)
    with pytest.raises(VfsError) as caught:
        await cache.open("abcdefghijkl")
    assert caught.value.errno == errno.EACCES
    assert features.known("direct_link") is False
    assert features.known("delete") is None  # reading needed one answer, and asked one question


async def test_feature_still_unknown_after_probe_is_settled_by_reading(
    start_cache: Factory,
) -> None:
    data = blob(10)
    host = FakeApi.serving({"abcdefghijkl": {"n": data}})
    host.failing["file_direct_link"] = TransientError("timed out")
    features = HostFeatures()
    cache = await start_cache(host, features=features)
    handle = await cache.open("abcdefghijkl")  # the probe failed transiently: let reads try
    assert features.known("direct_link") is None
    del host.failing["file_direct_link"]
    assert await cache.read(handle, 0, 10) == data
    assert features.known("direct_link") is True
    await cache.release(handle)


async def test_refused_at_read_marks_feature_off(start_cache: Factory) -> None:
    host = FakeApi.serving({"abcdefghijkl": {"n": blob(10)}})
    features = HostFeatures({"direct_link": True})
    cache = await start_cache(host, features=features)
    handle = await cache.open("abcdefghijkl")
    host.failing["file_direct_link"] = UnsupportedError(
        "API special allowed for premium only", status=403
    )
    with pytest.raises(VfsError) as caught:
        await cache.read(handle, 0, 10)
    assert caught.value.errno == errno.EACCES
    assert not features.direct_link


# -- thumbnailers ----------------------------------------------------------------------------
async def test_small_head_read_of_big_file_cancels_download(start_cache: Factory) -> None:
    data = blob(50_000)
    host = FakeApi.serving({"abcdefghijkl": {"n": data}}, piece=100)
    host.hold_at = 500
    cache = await start_cache(host, chunk_size=4000, small_read=1000, big_file=10_000)
    handle = await cache.open("abcdefghijkl")
    assert await cache.read(handle, 0, 200) == data[:200]
    assert await cache.read(handle, 200, 200) == data[200:400]
    await eventually(lambda: host.active_downloads == 3)  # chunk 0 and two readahead chunks, held
    await cache.release(handle)
    await eventually(lambda: host.active_downloads == 0)
    assert host.closed_early == 3
    assert cache.cached_bytes < 4000  # nothing more arrived


async def test_real_reader_close_lets_downloads_finish(start_cache: Factory) -> None:
    data = blob(50_000)
    host = FakeApi.serving({"abcdefghijkl": {"n": data}}, piece=100)
    cache = await start_cache(host, chunk_size=4000, small_read=1000, big_file=10_000)
    handle = await cache.open("abcdefghijkl")
    assert await cache.read(handle, 0, 3000) == data[:3000]
    host.hold_at = 8500
    assert await cache.read(handle, 3000, 2000) == data[3000:5000]
    await eventually(lambda: host.active_downloads >= 1)
    await cache.release(handle)
    host.release.set()
    await eventually(lambda: host.active_downloads == 0)
    assert host.closed_early == 0
    assert cache.cached_bytes == 16_000  # chunks 0-1 read, 2-3 read ahead, all complete


async def test_small_file_head_read_is_not_cancelled(start_cache: Factory) -> None:
    data = blob(5000)
    host = FakeApi.serving({"abcdefghijkl": {"n": data}}, piece=100)
    host.hold_at = 4500
    cache = await start_cache(host, chunk_size=5000, small_read=1000, big_file=10_000)
    handle = await cache.open("abcdefghijkl")
    assert await cache.read(handle, 0, 100) == data[:100]
    await cache.release(handle)
    host.release.set()
    await eventually(lambda: host.active_downloads == 0)
    assert host.closed_early == 0


# -- the cache on disk -------------------------------------------------------------------------
async def test_lru_eviction_keeps_the_cache_under_its_cap(
    start_cache: Factory, cache_dir: Path
) -> None:
    files = {f"file{n:08d}": {"n": blob(3000, n)} for n in range(5)}
    host = FakeApi.serving(files)
    cache = await start_cache(host, max_bytes=7000)
    for code, versions in files.items():
        assert await read_all(cache, code) == versions["n"]
        assert cache.cached_bytes <= 7000
    assert len(cache_files(cache_dir)) == 2
    before = len(host.downloads)
    assert await read_all(cache, "file00000004") == files["file00000004"]["n"]  # newest: cached
    assert len(host.downloads) == before
    assert await read_all(cache, "file00000000") == files["file00000000"]["n"]  # oldest: gone
    assert len(host.downloads) > before


async def test_low_disk_space_evicts_idle_files(start_cache: Factory, cache_dir: Path) -> None:
    host = FakeApi.serving({"abcdefghijkl": {"n": blob(3000)}})
    cache = await start_cache(host, min_free_bytes=1 << 62)  # more than any disk has free
    handle = await cache.open("abcdefghijkl")
    assert await cache.read(handle, 0, 3000) == blob(3000)
    assert cache.cached_bytes == 3000  # open: kept, whatever the disk says
    await cache.release(handle)
    # A chunk task may still be finishing when the read returns (it woke the reader before it
    # left): its own eviction pass then removes the file, so wait for that, not for release's.
    await eventually(lambda: cache.cached_bytes == 0 and cache_files(cache_dir) == [])


async def test_open_files_are_never_evicted(start_cache: Factory) -> None:
    files = {f"file{n:08d}": {"n": blob(3000, n)} for n in range(4)}
    host = FakeApi.serving(files)
    cache = await start_cache(host, max_bytes=5000)
    pinned = await cache.open("file00000000")
    assert await cache.read(pinned, 0, 3000) == files["file00000000"]["n"]
    for code in list(files)[1:]:
        assert await read_all(cache, code) == files[code]["n"]
    before = len(host.downloads)
    assert await cache.read(pinned, 0, 3000) == files["file00000000"]["n"]
    assert len(host.downloads) == before  # still served from its cache file
    await cache.release(pinned)
    assert cache.cached_bytes <= 5000


async def test_replaced_file_never_serves_stale_bytes(start_cache: Factory) -> None:
    host = FakeApi.serving({"abcdefghijkl": {"n": blob(3000, 1)}})
    cache = await start_cache(host)
    assert await read_all(cache, "abcdefghijkl") == blob(3000, 1)
    host.files["abcdefghijkl"].versions = {"n": blob(2000, 2)}
    cache.forget("abcdefghijkl")
    assert await read_all(cache, "abcdefghijkl") == blob(2000, 2)
    assert cache.known_size("abcdefghijkl") == 2000


async def test_original_dropped_mid_read_fails_once_then_reads_the_encode(
    start_cache: Factory,
) -> None:
    host = FakeApi.serving({"abcdefghijkl": {"o": blob(3000, 1), "n": blob(1000, 2)}})
    cache = await start_cache(host, readahead=0)
    handle = await cache.open("abcdefghijkl")
    assert await cache.read(handle, 0, 10) == blob(3000, 1)[:10]
    del host.files["abcdefghijkl"].versions["o"]  # encoding finished; the host dropped the original
    host.link_gen += 1
    with pytest.raises(VfsError) as caught:
        await cache.read(handle, 2000, 10)
    assert caught.value.errno == errno.EIO and "no longer served" in caught.value.why
    await cache.release(handle)
    assert await read_all(cache, "abcdefghijkl") == blob(1000, 2)


async def test_cache_dir_is_private_and_starts_clean(nursery: trio.Nursery, tmp_path: Path) -> None:
    root = tmp_path / "read"
    root.mkdir()
    root.chmod(0o755)
    (root / "old-n-10-1.cache").write_bytes(b"x" * 10)
    (root / "keep.txt").write_text("not ours")
    (root / "mine.txt.cache").write_text("not named as vipfs names its files")
    host = FakeApi.serving({"abcdefghijkl": {"n": blob(4000)}})
    cache = ReadCache(host, root, max_bytes=1 << 20, features=HostFeatures({"direct_link": True}))
    await nursery.start(cache.run)
    assert stat.S_IMODE(os.stat(root).st_mode) == 0o755  # not made here: never chmodded
    assert sorted(p.name for p in root.iterdir()) == ["keep.txt", "mine.txt.cache"]
    handle = await cache.open("abcdefghijkl")
    assert await cache.read(handle, 0, 4000) == blob(4000)
    (cache_file,) = [p for p in cache_files(root) if p.name != "mine.txt.cache"]
    assert stat.S_IMODE(os.stat(cache_file).st_mode) == 0o600
    await cache.release(handle)

"""ReadCache against an in-memory host: exact bytes, sharing, readahead, expiry, the cap."""

from __future__ import annotations

import contextlib
import errno
import os
import random
import shutil
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
from vipfs.api.lowspeed import SpeedFloor
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
    assert cache.cached_bytes == 2000  # chunks 1 and 4 only: sparse
    await cache.release(handle)


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
    # an earlier mount's cache file, named as cache_name names them: removed at start
    (root / "abcdefghijkl-1.cache").write_bytes(b"x" * 10)
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


# -- open descriptors --------------------------------------------------------------------------
def open_cache_fds(root: Path) -> int:
    fds = Path("/proc/self/fd")
    count = 0
    for name in os.listdir(fds):
        # listdir's own descriptor, or a worker's, may be closed since
        with contextlib.suppress(FileNotFoundError):
            count += os.readlink(fds / name).startswith(str(root))
    return count


async def test_reading_many_files_leaves_no_descriptor_open(
    start_cache: Factory, cache_dir: Path
) -> None:
    """One descriptor per file ever read ran the mount into EMFILE: idle files hold none."""
    files = {f"file{i:08d}": {"n": blob(1500, seed=i)} for i in range(300)}
    host = FakeApi.serving(files)
    cache = await start_cache(host, max_open_files=8)
    for code, versions in files.items():
        assert await read_all(cache, code) == versions["n"]
        assert open_cache_fds(cache_dir) <= 8
    await eventually(lambda: open_cache_fds(cache_dir) == 0)
    assert len(cache_files(cache_dir)) == 300  # the bytes stay cached, only descriptors go


async def test_more_open_handles_than_descriptors_still_read_exact_bytes(
    start_cache: Factory, cache_dir: Path
) -> None:
    files = {f"file{i:08d}": {"n": blob(5000, seed=i)} for i in range(12)}
    host = FakeApi.serving(files)
    cache = await start_cache(host, max_open_files=3)
    handles = {code: await cache.open(code) for code in files}
    for offset in range(0, 5000, 900):  # round-robin: every read may need a reopen
        for code, handle in handles.items():
            got = await cache.read(handle, offset, 900)
            assert got == files[code]["n"][offset : offset + 900]
            assert open_cache_fds(cache_dir) <= 3 + 4  # the cap, plus descriptors in use
    for handle in handles.values():
        await cache.release(handle)
    await eventually(lambda: open_cache_fds(cache_dir) == 0)


# -- crawling links --------------------------------------------------------------------------
async def test_a_link_that_stops_moving_fails_its_read_after_the_low_speed_time(
    start_cache: Factory, virtual_clock: trio.testing.MockClock
) -> None:
    data = blob(5000)
    host = FakeApi.serving({"abcdefghijkl": {"n": data}}, piece=100)
    host.hold_at = 300  # sends 300 bytes, then nothing
    cache = await start_cache(host, low_speed=SpeedFloor(50, 60), read_timeout=3600)
    handle = await cache.open("abcdefghijkl")
    started = trio.current_time()
    with pytest.raises(VfsError) as caught:
        await cache.read(handle, 0, 1000)
    assert caught.value.errno == errno.EIO
    assert "too slow" in caught.value.why
    assert 60 <= trio.current_time() - started < 120  # one window after the last byte moved
    assert host.starts("abcdefghijkl") == [0]  # aborted, not retried behind the read's back
    await cache.release(handle)


async def test_a_crawling_file_never_holds_every_download_slot(start_cache: Factory) -> None:
    slow, healthy = blob(8000, seed=1), blob(3000, seed=2)
    host = FakeApi.serving({"slowslowslow": {"n": slow}, "healthy00000": {"n": healthy}})
    host.hold_at, host.hold_codes = 0, {"slowslowslow"}  # its link sends nothing
    cache = await start_cache(host, max_downloads=4, low_speed=SpeedFloor(0))
    handle = await cache.open("slowslowslow")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(cache.read, handle, 0, 8000)  # eight chunks wanted at once
        await eventually(lambda: host.active_downloads == 3)  # all slots but one, no more
        assert await read_all(cache, "healthy00000") == healthy
        host.release.set()
    await cache.release(handle)


async def test_crawling_links_give_their_slots_to_a_healthy_read(
    start_cache: Factory, virtual_clock: trio.testing.MockClock
) -> None:
    """More 1-byte/s files than download slots: a healthy read still goes first, long before
    the floor aborts the crawlers (a slot waited for behind them would take minutes)."""
    slow = {f"slow{i:08d}": {"n": blob(3000, seed=i)} for i in range(6)}
    healthy = blob(3000, seed=99)
    host = FakeApi.serving(slow | {"healthy00000": {"n": healthy}})
    host.hold_at, host.hold_codes = 0, set(slow)
    cache = await start_cache(
        host, max_downloads=2, low_speed=SpeedFloor(100, 60), read_timeout=3600
    )
    handles = [await cache.open(code) for code in slow]
    failures: list[str] = []

    async def read_slow(handle: int) -> None:
        with pytest.raises(VfsError) as caught:
            await cache.read(handle, 0, 1000)
        failures.append(caught.value.why)

    async with trio.open_nursery() as nursery:
        for handle in handles:
            nursery.start_soon(read_slow, handle)
        await eventually(lambda: host.active_downloads == 2)  # both slots crawling
        started = trio.current_time()
        assert await read_all(cache, "healthy00000") == healthy
        assert trio.current_time() - started < 30  # not behind the 60-second floor
    assert len(failures) == 6 and all("too slow" in why for why in failures)
    for handle in handles:
        await cache.release(handle)


async def test_a_cache_file_removed_by_a_cleaner_is_downloaded_again(
    start_cache: Factory, cache_dir: Path
) -> None:
    """Descriptors are reopened on demand, so an `rm` in the cache is seen: the read heals."""
    data = blob(3000)
    host = FakeApi.serving({"abcdefghijkl": {"n": data}})
    cache = await start_cache(host)
    assert await read_all(cache, "abcdefghijkl") == data
    await eventually(lambda: open_cache_fds(cache_dir) == 0)
    for path in cache_files(cache_dir):
        path.unlink()
    assert await read_all(cache, "abcdefghijkl") == data
    assert host.starts("abcdefghijkl").count(0) == 2  # chunk 0 fetched again


async def test_a_cache_dir_removed_by_a_cleaner_is_made_again(
    start_cache: Factory, cache_dir: Path
) -> None:
    """`rm -rf ~/.cache` while mounted: the next file read makes the directory again, 0700."""
    files = {f"file{n:08d}": {"n": blob(2000, n)} for n in range(2)}
    cache = await start_cache(FakeApi.serving(files))
    assert await read_all(cache, "file00000000") == files["file00000000"]["n"]
    await eventually(lambda: open_cache_fds(cache_dir) == 0)
    shutil.rmtree(cache_dir.parent)
    assert await read_all(cache, "file00000001") == files["file00000001"]["n"]
    assert stat.S_IMODE(os.stat(cache_dir).st_mode) == 0o700


async def test_complete_copy_only_once_every_byte_is_cached(start_cache: Factory) -> None:
    """`vipfs mirror sync` shares a cache file with another host only when it holds it all."""
    data = blob(3500, seed=7)
    cache = await start_cache(FakeApi.serving({"abcdefghijkl": {"n": data}}), readahead=0)
    assert cache.complete_copy("abcdefghijkl") is None
    handle = await cache.open("abcdefghijkl")
    assert await cache.read(handle, 0, 10) == data[:10]
    assert cache.complete_copy("abcdefghijkl") is None  # one chunk of four
    await cache.release(handle)
    assert await read_all(cache, "abcdefghijkl") == data
    copy = cache.complete_copy("abcdefghijkl")
    assert copy is not None and copy.read_bytes() == data
    assert cache.complete_copy("bcdefghijklm") is None

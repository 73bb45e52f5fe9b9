"""ReadCache through the real client against the real emulator (direct links enabled)."""

from __future__ import annotations

import errno
import random
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import trio

from vipfs.api.client import XvsClient
from vipfs.emulator.config import EmulatorConfig
from vipfs.emulator.server import Emulator
from vipfs.vfs.errors import VfsError
from vipfs.vfs.features import HostFeatures
from vipfs.vfs.readcache import ReadCache

KiB = 1024
VIDEO = random.Random(7).randbytes(1200 * KiB + 123)


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    config = EmulatorConfig(direct_link=True, delete=True, folder_delete=True, encode_seconds=0.0)
    with Emulator(config) as emu:
        yield emu


@pytest.fixture
async def api(emulator: Emulator) -> AsyncIterator[XvsClient]:
    async with XvsClient(emulator.api_url, emulator.key, timeout=5, retry_budget=10) as client:
        yield client


async def upload(api: XvsClient, path: Path) -> str:
    node = await api.upload_server()
    uploaded = await api.upload_file(node, path, filename=path.name)
    assert uploaded.ok and uploaded.code
    return uploaded.code


def stored_blob(emulator: Emulator, code: str) -> bytes:
    row = emulator.store.file(code)
    assert row is not None
    return emulator.store.content(row).read(0, row.size)


async def test_reads_are_byte_exact_against_the_emulator(
    api: XvsClient, emulator: Emulator, tmp_path: Path, nursery: trio.Nursery
) -> None:
    video = tmp_path / "clip.mp4"
    video.write_bytes(VIDEO)
    code = await upload(api, video)
    expected = stored_blob(emulator, code)
    assert expected == VIDEO

    features = HostFeatures()
    await features.probe(api)
    assert (features.direct_link, features.delete, features.folder_delete) == (True, True, True)

    cache = ReadCache(
        api, tmp_path / "read", max_bytes=1 << 30, features=features, chunk_size=256 * KiB
    )
    await nursery.start(cache.run)

    emulator.reset_calls()
    handle = await cache.open(code)
    out = bytearray()
    while piece := await cache.read(handle, len(out), 128 * KiB):
        out += piece
    assert bytes(out) == expected
    assert cache.known_size(code) == len(expected)
    await cache.release(handle)
    calls = emulator.calls()
    assert calls.get("file/direct_link") == 1
    assert calls.get("download_bytes") == len(expected)  # each byte fetched once

    # Every link handed out so far expires: random reads of uncached bytes still come back exact.
    cache = ReadCache(
        api, tmp_path / "read2", max_bytes=1 << 30, features=features, chunk_size=256 * KiB
    )
    await nursery.start(cache.run)
    handle = await cache.open(code)
    assert await cache.read(handle, 5000, 100) == expected[5000:5100]
    emulator.host.clock = lambda: time.time() + 7 * 24 * 3600
    try:
        for offset in (len(expected) - 10, 300 * KiB, 900 * KiB + 1):
            got = await cache.read(handle, offset, 64 * KiB)
            assert got == expected[offset : offset + 64 * KiB]
    finally:
        emulator.host.clock = time.time
    await cache.release(handle)
    assert emulator.calls().get("file/direct_link") == 3  # first read, then one refresh


async def test_disabled_direct_link_on_the_emulator_is_eacces(
    api: XvsClient, emulator: Emulator, tmp_path: Path
) -> None:
    switches = emulator.config.switches()
    emulator.set_faults(direct_link=False)
    try:
        features = HostFeatures()
        await features.probe(api)
        assert features.known("direct_link") is False
        assert features.delete  # still on: one refusal says nothing about the others
        cache = ReadCache(api, tmp_path / "read", max_bytes=1 << 20, features=features)
        with pytest.raises(VfsError) as caught:
            await cache.open("abcdefabcdef")
        assert caught.value.errno == errno.EACCES
    finally:
        emulator.config.apply(switches)

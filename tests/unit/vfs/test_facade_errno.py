"""A refused API key reads the same errno wherever the facade meets it (issue 9, item 5).

Before the one mapping (`vfs.errors.from_api`), the loader turned AuthError into EACCES while
open and read turned it into EIO: `ls` said "Permission denied" and `cat` said "I/O error" for
the same revoked key. Each test meets the refusal at a different place of the facade.
"""

from __future__ import annotations

import errno

import pytest

from tests.unit.vfs.fake_api import FakeApi
from vipfs.api.errors import AuthError
from vipfs.vfs.attrs import Owner
from vipfs.vfs.errors import VfsError
from vipfs.vfs.filesystem import Filesystem, Options
from vipfs.vfs.inodes import ROOT_INO

REFUSED = AuthError("Invalid key", status=403, op="file/direct_link")


class Reader:
    """A read cache whose `open` or `read` meets a refused key, as a revoked key does."""

    def __init__(self, *, open_fails: bool = False, read_fails: bool = False) -> None:
        self.open_fails = open_fails
        self.read_fails = read_fails
        self.opens = 0
        self.reads = 0

    async def open(self, code: str) -> int:
        self.opens += 1
        if self.open_fails:
            raise REFUSED
        return 1

    async def read(self, handle: int, offset: int, size: int) -> bytes:
        self.reads += 1
        if self.read_fails:
            raise REFUSED
        return b"x" * size

    async def release(self, handle: int) -> None:
        pass

    def known_size(self, code: str) -> int | None:
        return 4096


def make(api: FakeApi, reader: Reader | None = None) -> Filesystem:
    return Filesystem(api, options=Options(owner=Owner(0, 0, 0o022)), reader=reader)


async def a_file(fs: Filesystem, api: FakeApi) -> int:
    api.add_file("clip")
    return (await fs.lookup(ROOT_INO, "clip.mp4")).ino


async def test_open_with_a_refused_key_is_eacces() -> None:
    api = FakeApi()
    reader = Reader(open_fails=True)
    fs = make(api, reader)
    ino = await a_file(fs, api)
    with pytest.raises(VfsError) as err:
        await fs.open(ino, 0)
    assert reader.opens == 1  # the refusal came from the reader, not from a check before it
    assert err.value.errno == errno.EACCES


async def test_read_with_a_refused_key_is_eacces() -> None:
    api = FakeApi()
    reader = Reader(read_fails=True)
    fs = make(api, reader)
    opened = await fs.open(await a_file(fs, api), 0)
    with pytest.raises(VfsError) as err:
        await fs.read(opened.fh, 0, 4096)
    assert reader.reads == 1
    assert err.value.errno == errno.EACCES


async def test_listing_a_folder_with_a_refused_key_is_eacces() -> None:
    api = FakeApi()
    sub = api.add_folder("Series")
    api.add_file("pilot", sub)
    fs = make(api)
    series = await fs.lookup(ROOT_INO, "Series")
    api.failing["folder_list"] = AuthError("Invalid key", status=403, op="folder/list")
    with pytest.raises(VfsError) as err:
        await fs.opendir(series.ino)
    assert err.value.errno == errno.EACCES
    with pytest.raises(VfsError) as err:
        await fs.lookup(series.ino, "pilot.mp4")
    assert err.value.errno == errno.EACCES


async def test_a_readable_file_still_reads() -> None:
    """The control: the same facade and reader, without the refusal, serve the bytes."""
    api = FakeApi()
    fs = make(api, Reader())
    opened = await fs.open(await a_file(fs, api), 0)
    assert await fs.read(opened.fh, 0, 3) == b"xxx"

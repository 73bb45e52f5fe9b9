"""`user.vipfs.embed`: the file's embed link by the mount's `--embed-url`, and none without it."""

from __future__ import annotations

import errno

import pytest

from tests.unit.vfs.fake_api import FakeApi
from vipfs.vfs.errors import VfsError
from vipfs.vfs.filesystem import Filesystem, Options
from vipfs.vfs.inodes import ROOT_INO
from vipfs.vfs.xattrs import embed_link

EMBED = "user.vipfs.embed"


async def test_embed_follows_the_template() -> None:
    api = FakeApi()
    code = api.add_file("clip")
    fs = Filesystem(api, options=Options(embed_url="https://embed.example/e/{code}?x={y}"))
    ino = (await fs.lookup(ROOT_INO, "clip.mp4")).ino
    assert await fs.getxattr(ino, EMBED) == f"https://embed.example/e/{code}?x={{y}}".encode()
    assert EMBED in await fs.listxattr(ino)


async def test_no_template_no_embed() -> None:
    api = FakeApi()
    api.add_file("clip")
    fs = Filesystem(api, options=Options())
    ino = (await fs.lookup(ROOT_INO, "clip.mp4")).ino
    assert EMBED not in await fs.listxattr(ino)
    with pytest.raises(VfsError) as err:
        await fs.getxattr(ino, EMBED)
    assert err.value.errno == errno.ENODATA


def test_embed_link_is_one_rule() -> None:
    assert embed_link("", "abc123def456") is None
    assert embed_link("https://h/e/{code}.html", "abc123def456") == "https://h/e/abc123def456.html"

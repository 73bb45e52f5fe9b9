"""The host-only values of a file just uploaded (issue 11, item 6): from the host's next word."""

from __future__ import annotations

import trio
from trio.testing import MockClock

from tests.unit.vfs.conftest import eventually
from tests.unit.vfs.writable import Mount, names, write_file


async def test_link_from_the_next_listing_length_from_the_next_file_info(
    mount: Mount, virtual_clock: MockClock
) -> None:
    fs = await mount.start(write_back=1.0)
    await names(fs)  # the root's listing is cached before the file exists
    ino = await write_file(fs, "a.mp4", b"video bytes" * 50)
    await eventually(lambda: bool(mount.api.files))
    (code,) = mount.api.files
    mount.api.files[code].link = f"https://vip.example/{code}"  # the fake's own has none

    assert await fs.getxattr(ino, "user.vipfs.length") == b"60"  # file/info asked again
    assert "user.vipfs.link" not in await fs.listxattr(ino)  # no listing has shown it yet
    fs.forget_all()  # SIGHUP: the next listing is asked again
    await names(fs)
    await trio.sleep(1)
    assert await fs.getxattr(ino, "user.vipfs.link") == f"https://vip.example/{code}".encode()

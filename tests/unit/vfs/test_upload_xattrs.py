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
    # no listing had shown the link: that read listed the folder again, so it shows now
    await trio.sleep(1)
    assert await fs.getxattr(ino, "user.vipfs.link") == f"https://vip.example/{code}".encode()


async def test_a_missing_link_relists_its_folder_once_not_on_every_read(
    mount: Mount, virtual_clock: MockClock
) -> None:
    """A host that does not list a fresh upload yet: every read of the file's attributes finds
    no link, but only the first lists the folder again (a poller of user.vipfs.status must not
    spend a call per read)."""
    fs = await mount.start(write_back=1.0)
    await names(fs)
    ino = await write_file(fs, "a.mp4", b"video bytes" * 50)
    await eventually(lambda: bool(mount.api.files))
    mount.api.lagging, mount.api.lag_from = True, 0  # the host lists none of its new files
    before = sum(op == "folder_list" for op, _ in mount.api.calls)
    for _ in range(5):
        assert "user.vipfs.link" not in await fs.listxattr(ino)
        await trio.sleep(1)
    assert sum(op == "folder_list" for op, _ in mount.api.calls) - before == 1

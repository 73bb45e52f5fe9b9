"""Names through the facade: what a rename or mkdir sends, and what the next listing shows.

A rename shows at once; the folder's next answer from the host says whether the host took
it. A host that drops an edit silently (real hosts do, for `<`, `>` or `"`) gets its own name
shown again, with one warning, never a name it does not have.
"""

from __future__ import annotations

import errno
import logging

import pytest
import trio
from trio.testing import MockClock

from tests.unit.vfs.fake_api import FakeFile
from tests.unit.vfs.writable import Mount, names, write_file
from vipfs.vfs.errors import VfsError
from vipfs.vfs.inodes import ROOT_INO

DIR_CACHE = 400  # past the listing TTL, well inside the journal's hold


async def test_a_rename_the_host_drops_shows_the_old_name_at_the_next_listing(
    mount: Mount, virtual_clock: MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    mount.api.files["abc"] = FakeFile("abc", "video 04", 0, b"", "x.mp4", 1)
    fs = await mount.start()
    assert "video 04.mp4" in await names(fs)
    real_edit = mount.api.file_edit

    async def dropping(codes: object, **kw: object) -> None:
        await real_edit(codes, **{**kw, "title": None})  # type: ignore[arg-type]

    mount.api.file_edit = dropping  # type: ignore[assignment,method-assign]
    await fs.rename(ROOT_INO, "video 04.mp4", ROOT_INO, 'video <4> "one".mp4')
    assert 'video <4> "one".mp4' in await names(fs)  # at once, as rename(2) promises
    with caplog.at_level(logging.WARNING, logger="vipfs.vfs.views"):
        fs.forget_all()  # an answer this soon may be a host's cached read: ours stays
        assert 'video <4> "one".mp4' in await names(fs)
        await trio.sleep(DIR_CACHE)
        assert set(await names(fs)) == {"video 04.mp4"}
        await trio.sleep(DIR_CACHE)
        assert set(await names(fs)) == {"video 04.mp4"}
    warned = [r for r in caplog.records if "did not take" in r.getMessage()]
    assert len(warned) == 1 and 'video <4> "one".mp4' in warned[0].getMessage()


async def test_a_rename_the_host_takes_stays_and_sends_the_encoded_title(
    mount: Mount, virtual_clock: MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    mount.api.files["abc"] = FakeFile("abc", "video 04", 0, b"", "x.mp4", 1)
    fs = await mount.start()
    await names(fs)
    with caplog.at_level(logging.WARNING, logger="vipfs.vfs.views"):
        await fs.rename(ROOT_INO, "video 04.mp4", ROOT_INO, 'video <4> "one".mp4')
        assert mount.api.files["abc"].title == "video ＜4＞ ＂one＂"  # nothing to drop
        await trio.sleep(DIR_CACHE)
        fs.forget_all()  # even from a cold listing: the name comes from the title alone
        assert set(await names(fs)) == {'video <4> "one".mp4'}
    assert not [r for r in caplog.records if "did not take" in r.getMessage()]


async def test_mv_to_another_extension_and_back(mount: Mount, virtual_clock: MockClock) -> None:
    fs = await mount.start()
    await write_file(fs, "clip.mp4", b"1")
    await fs.wait_uploads()
    (stored,) = mount.api.files.values()
    await fs.rename(ROOT_INO, "clip.mp4", ROOT_INO, "notes")
    assert stored.title == "notes＼"  # no extension: said so in the title
    await fs.rename(ROOT_INO, "notes", ROOT_INO, "other.mp4")
    assert stored.title == "other"  # the default extension, dropped again
    fs.forget_all()
    assert set(await names(fs)) == {"other.mp4"}


async def test_a_name_with_control_characters_is_refused(
    mount: Mount, virtual_clock: MockClock
) -> None:
    mount.api.files["abc"] = FakeFile("abc", "plain", 0, b"", "x.mp4", 1)
    fs = await mount.start()
    await names(fs)
    with pytest.raises(VfsError) as err:
        await fs.rename(ROOT_INO, "plain.mp4", ROOT_INO, "two\nlines.mp4")
    assert err.value.errno == errno.EINVAL
    with pytest.raises(VfsError) as err:
        await fs.mkdir(ROOT_INO, "tab\there")
    assert err.value.errno == errno.EINVAL
    assert mount.api.count("file_edit") == 0 and mount.api.count("folder_create") == 0


async def test_a_new_file_with_control_characters_is_refused_before_anything_is_queued(
    mount: Mount, virtual_clock: MockClock
) -> None:
    fs = await mount.start()
    await write_file(fs, "queued.mp4", b"x" * 10)
    with pytest.raises(VfsError) as err:
        await fs.create(ROOT_INO, "bell\x07.mp4", 0o644)
    assert err.value.errno == errno.EINVAL  # at create, not as a failed upload later
    with pytest.raises(VfsError) as err:  # a queued file cannot take such a name either
        await fs.rename(ROOT_INO, "queued.mp4", ROOT_INO, "two\nlines.mp4")
    assert err.value.errno == errno.EINVAL
    assert set(await names(fs)) == {"queued.mp4"}

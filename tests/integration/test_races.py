"""A write cut by a full disk, through a real mount: what the writer was told is what is kept.

The unit test (tests/unit/vfs/test_races.py) pins the rule with a simulated disk; this one shows it
on a real 2 MB tmpfs, where the kernel's page cache and attribute cache make a disagreement
visible: `stat` and `read` through the mount use the size the kernel was last told.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.conftest import Emulator, status_xattr, wait_for
from tests.integration.test_trust_state import (  # noqa: F401  (fixtures)
    Mounts,
    make_user,
    mounts,
    tmpfs,
)

pytestmark = pytest.mark.fuse

CHUNK = 1 << 20  # what cp writes at a time
# Open on main: fails there on every run (see --runxfail); the mark goes with the fix (strict).


def test_a_write_cut_by_a_full_disk_keeps_exactly_the_bytes_the_writer_was_told(
    mounts: Mounts,  # noqa: F811
    emulator: Emulator,
    tmp_path: Path,
    tmpfs: Callable[[Path, str], Path],  # noqa: F811
) -> None:
    """cp's way of writing (a short count is retried from where it ended) until ENOSPC. The
    spool, `stat` and a read through the mount must all hold the `told` bytes: more, and the
    size the kernel caches from before the close disagrees with the one after."""
    user = make_user(tmp_path, tmpfs(tmp_path / "small-home", "2m"))
    mount = mounts.start(emulator, user, "--write-back", "0.2")
    target = mount.path / "big.mp4"
    data = os.urandom(4 << 20)
    told = 0
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        with pytest.raises(OSError) as err:
            while told < len(data):
                told += os.write(fd, data[told : told + CHUNK])
        assert err.value.errno == errno.ENOSPC
        assert 0 < told < len(data)
        assert os.fstat(fd).st_size == told  # the writer's own view, its handle still open
    finally:
        os.close(fd)
    wait_for("incomplete status", lambda: status_xattr(target).startswith("incomplete: "))
    [spool] = user.spool_files()
    kept = spool.read_bytes()
    assert len(kept) == told, f"the spool holds {len(kept)} bytes, the writer was told {told}"
    assert kept == data[:told]
    assert os.stat(target).st_size == told
    assert target.read_bytes() == data[:told]

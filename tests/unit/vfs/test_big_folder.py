"""A big folder is named in a worker thread (issue 8, item 10) and still shows exactly what a
small one would, including our own changes that land while the thread runs."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from tests.unit.vfs.fake_api import FakeApi
from tests.unit.vfs.test_filesystem import listdir, make
from vipfs.api import offloop
from vipfs.api.records import Folder
from vipfs.vfs import filesystem

N = filesystem.OFF_LOOP_ENTRIES + 10


def big_account() -> FakeApi:
    api = FakeApi()
    api.add_file("same")  # two files of one title: the names must tell them apart
    api.add_file("same")
    for i in range(N):
        api.add_file(f"clip {i}")
    return api


async def test_a_big_folder_is_named_off_the_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    threads: list[int] = []
    real = offloop.run_sync

    async def spy(fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        def traced() -> Any:
            threads.append(threading.get_ident())
            return fn(*args)

        return await real(traced, **kw)

    monkeypatch.setattr(offloop, "run_sync", spy)
    names = await listdir(make(big_account()))
    assert threads and threads[0] != threading.get_ident()
    assert len(names) == N + 2  # both "same" and every clip
    assert "same.mp4" in names and sum(n.startswith("same [") for n in names) == 1


async def test_a_change_during_the_build_is_not_lost(monkeypatch: pytest.MonkeyPatch) -> None:
    api = big_account()
    fs = make(api)
    real = offloop.run_sync

    async def racing(fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        built = await real(fn, *args, **kw)
        # our own change (a mkdir, say), noted while the thread ran
        fs.journal.added(0, Folder(fld_id=777, name="made meanwhile", code=None))
        return built

    monkeypatch.setattr(offloop, "run_sync", racing)
    names = await listdir(fs)
    assert "made meanwhile" in names  # the thread's build was dropped for one made after it
    assert len(names) == N + 3  # both "same", every clip and the folder made meanwhile

"""Random operation sequences on the facade against a reference model (a dict of paths).

Each seed plays creates, overwrites, renames (onto existing names too), unlinks, mkdir, rmdir,
idle time (uploads run), listing expiry and restarts of the mount on the same db, checking after
every step that every folder lists exactly the model's names and sizes. At the end the queue is
drained and the host must hold exactly the model: every file once, with its bytes and title,
and no temp name. `VIPFS_RANDOM_SEEDS` runs more seeds.
"""

from __future__ import annotations

import errno
import os
import random
from pathlib import Path

import pytest
import trio
from trio.testing import MockClock

from tests.unit.vfs.clock import thread_aware_clock
from tests.unit.vfs.writable import CloningApi, Mount, names, write_file
from vipfs.vfs.errors import VfsError
from vipfs.vfs.filesystem import AttrChanges, Filesystem
from vipfs.vfs.holdlist import HoldList
from vipfs.vfs.inodes import ROOT_INO
from vipfs.vfs.metadb import MetaDb
from vipfs.vfs.names import Titles, legacy_title

SEEDS = range(int(os.environ.get("VIPFS_RANDOM_SEEDS", "12")))
FILES = ("a.mp4", "b.mp4", "c.mkv", "d.mp4", ".a.mp4.Xy12Zw")
DIRS = ("", "Alpha", "Beta")


class Model:
    def __init__(self) -> None:
        self.dirs: set[str] = {""}
        self.files: dict[tuple[str, str], bytes] = {}
        self.trace: list[str] = []  # what happened, for a failing seed's message

    def listing(self, folder: str) -> dict[str, int]:
        out: dict[str, int] = {}
        out.update({d: 0 for d in self.dirs if d and d != folder and _parent(d) == folder})
        out.update({n: len(b) for (f, n), b in self.files.items() if f == folder})
        return out


def _parent(path: str) -> str:
    return path.rsplit("/", 1)[0] if "/" in path else ""


async def _ino(fs: Filesystem, folder: str) -> int:
    ino = ROOT_INO
    for part in [p for p in folder.split("/") if p]:
        ino = (await fs.lookup(ino, part)).ino
    return ino


async def _step(fs: Filesystem, model: Model, rng: random.Random, mount: Mount) -> Filesystem:
    op = rng.choice(["write", "write", "write", "rename", "unlink", "mkdir", "rmdir", "idle"])
    folder = rng.choice(sorted(model.dirs))
    name = rng.choice(FILES)
    model.trace.append(f"{op} {folder!r} {name!r}")
    if op == "write":
        data = rng.randbytes(rng.randint(1, 40))
        ino = await _ino(fs, folder)
        if (folder, name) in model.files:
            attr = await fs.lookup(ino, name)
            opened = await fs.open(attr.ino, os.O_WRONLY | os.O_TRUNC)
            await fs.write(opened.fh, 0, data)
            await fs.release(opened.fh)
        else:
            await write_file(fs, name, data, parent=ino)
        model.files[(folder, name)] = data
    elif op == "rename":
        sources = [k for k in model.files]
        if not sources:
            return fs
        src = rng.choice(sorted(sources))
        dst = (rng.choice(sorted(model.dirs)), rng.choice(FILES[:4]))
        if src != dst:
            old_ino, new_ino = await _ino(fs, src[0]), await _ino(fs, dst[0])
            await fs.rename(old_ino, src[1], new_ino, dst[1])
            model.files[dst] = model.files.pop(src)
            model.trace.append(f"  renamed {src} -> {dst}")
    elif op == "unlink" and (folder, name) in model.files:
        await fs.unlink(await _ino(fs, folder), name)
        del model.files[(folder, name)]
    elif op == "mkdir" and folder == "":
        new = rng.choice(DIRS[1:])
        if new not in model.dirs:
            await fs.mkdir(ROOT_INO, new)
            model.dirs.add(new)
    elif op == "rmdir" and folder:
        empty = not any(f == folder for f, _ in model.files)
        try:
            await fs.rmdir(ROOT_INO, folder)
        except VfsError as exc:
            assert exc.errno == errno.ENOTEMPTY and not empty
        else:
            assert empty
            model.dirs.discard(folder)
    elif op == "idle":
        what = rng.choice(["sleep", "forget", "restart"])
        model.trace.append(f"  {what}")
        if what == "sleep":
            await trio.sleep(rng.choice([1, 10, 100]))
        elif what == "forget":
            fs.forget_all()
        else:
            mount.stop()
            fs = await mount.start(hold=HoldList(idle=1e9))
    return fs


async def _host_state(api: CloningApi) -> dict[tuple[str, str], bytes]:
    paths = {0: ""} | {f.fld_id: f.name for f in api.folders.values() if f.parent_id == 0}
    return {(paths[f.fld_id], f.title): f.data for f in api.files.values()}


@pytest.fixture
def virtual_clock(monkeypatch: pytest.MonkeyPatch) -> MockClock:
    """Virtual time never jumps while a worker thread runs: these sequences run many SQLite
    writes in threads, and a jump past a 25 s op budget during one would fail a call for nothing."""
    return thread_aware_clock(monkeypatch, threshold=0.05)


@pytest.mark.parametrize("seed", SEEDS)
async def test_random_operations_match_the_model(
    seed: int, tmp_path: Path, nursery: trio.Nursery, virtual_clock: MockClock
) -> None:
    rng = random.Random(seed)
    db = await MetaDb.open(tmp_path / "meta.db")
    api = CloningApi()
    api.folder_delete_on = True
    mount = Mount(tmp_path, nursery, db, api)
    fs = await mount.start(hold=HoldList(idle=1e9))
    model = Model()
    try:
        for _ in range(40):
            fs = await _step(fs, model, rng, mount)
            for folder in sorted(model.dirs):
                shown = await names(fs, await _ino(fs, folder))
                host = sorted((f.fld_id, f.title, len(f.data)) for f in api.files.values())
                why = [folder, *model.trace, f"host: {host}"]
                assert shown == model.listing(folder), "\n".join(why)
        await fs.wait_uploads()
        await trio.sleep(60)  # replaced copies are removed in the background
        expected = {  # a temp name is held until renamed: it never reaches the host
            (f, n): b for (f, n), b in model.files.items() if n[0] != "."
        }
        host_state = await _host_state(api)
        assert len(host_state) == len(expected), host_state
        for (f, n), b in expected.items():  # the upload's title, or a rename's encoded one
            titles = {legacy_title(n), Titles().file_title(n)}
            assert any(host_state.get((f, t)) == b for t in titles), (f, n, host_state)
        for folder, name in model.files:
            attr = await fs.lookup(await _ino(fs, folder), name)
            await fs.setattr(attr.ino, AttrChanges(mode=0o100600))  # still addressable
    finally:
        mount.stop()
        await db.close()

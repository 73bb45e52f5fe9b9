#!/usr/bin/env python3
"""The figures of issue 9 (the core, owned once), measured rather than counted by hand.

(a) the largest module of vipfs/vfs (any depth) and its line count;
(b) how many pairs `duplicates --repo vipfs --most 200` reports ("n/a" without the command);
(c) the vipfs modules a file name crosses on its way to the wire: a profiler (sys.setprofile)
    records the module of every vipfs function that runs, in first-seen order,
    - from `opendir` of a folder with files (then `readdir`) until the API's `folder_list` of that
      folder is entered, and over the whole opendir+readdir (the name's way back included);
    - from `rename` of an uploaded file until the API's `file_edit` is entered, and over the
      whole rename.
    Code running inside an API call (the fake host, tests/unit/vfs/fake_api.py) is not counted:
    the wire is the same in every layout.

Only public facade calls (mkdir, create, write, release, wait_uploads, lookup, opendir, readdir,
rename) drive it, so it runs unchanged on the old and the new layout of vipfs/vfs. It builds the
facade the way tests/unit/vfs/test_writing.py does (Options, WriteSetup, MetaDb, Spool).

    .venv/bin/python scripts/core_figures.py
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from types import CodeType, FrameType
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import trio  # noqa: E402

from tests.unit.vfs.fake_api import FakeApi  # noqa: E402
from vipfs.vfs.attrs import Owner  # noqa: E402
from vipfs.vfs.errors import VfsError  # noqa: E402
from vipfs.vfs.features import HostFeatures  # noqa: E402
from vipfs.vfs.filesystem import Filesystem, Options, WriteSetup  # noqa: E402
from vipfs.vfs.inodes import ROOT_INO  # noqa: E402
from vipfs.vfs.metadb import MetaDb  # noqa: E402
from vipfs.vfs.spool import Spool  # noqa: E402

FOLDER = "Clips"
UPLOADED = ["My_clip.v2.mp4", "AC ／ DC.mp4"]  # uploaded through the facade
SEEDED = "a host file"  # already on the host, never seen by vipfs
NEW_NAME = "My clip, renamed.mp4"


def largest_vfs_module() -> tuple[str, int]:
    sizes = {
        str(p.relative_to(REPO)): len(p.read_text().splitlines())
        for p in (REPO / "vipfs" / "vfs").rglob("*.py")
    }
    name = max(sizes, key=lambda n: sizes[n])
    return name, sizes[name]


def duplicate_pairs() -> str:
    if shutil.which("duplicates") is None:
        return "n/a (no `duplicates` command)"
    out = subprocess.run(
        ["duplicates", "--repo", "vipfs", "--most", "200"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    first = out.splitlines()[0] if out else ""
    if first.startswith("no duplicates"):
        return f"0   ({first})"
    found = re.match(r"(\d+) pairs?", first)
    return f"{found.group(1)}   ({first})" if found else f"n/a (unexpected output: {first!r})"


@dataclass
class Trace:
    """The vipfs modules that ran, in first-seen order, outside any call of the API object."""

    api_codes: frozenset[CodeType]
    until: str  # the API method whose entry closes `before`
    before: list[str] = field(default_factory=list)
    whole: list[str] = field(default_factory=list)
    reached: bool = False

    def _inside_api(self, frame: FrameType | None) -> bool:
        while frame is not None:
            if frame.f_code in self.api_codes:
                return True
            frame = frame.f_back
        return False

    def event(self, frame: FrameType, what: str, arg: Any) -> None:
        if what != "call":
            return
        if frame.f_code in self.api_codes:
            if frame.f_code.co_name == self.until:
                self.reached = True
            return
        module = frame.f_globals.get("__name__", "")
        if not (module == "vipfs" or module.startswith("vipfs.")):
            return
        if self._inside_api(frame.f_back):
            return
        if module not in self.whole:
            self.whole.append(module)
        if not self.reached and module not in self.before:
            self.before.append(module)


def api_codes(api: object) -> frozenset[CodeType]:
    """The code objects of the API object's own methods (its class and bases, not `object`)."""
    codes = set()
    for cls in type(api).__mro__[:-1]:
        for value in vars(cls).values():
            code = getattr(value, "__code__", None)
            if isinstance(code, CodeType):
                codes.add(code)
    return frozenset(codes)


@contextmanager
def profiled(trace: Trace) -> Iterator[None]:
    sys.setprofile(trace.event)
    try:
        yield
    finally:
        sys.setprofile(None)


async def measure(
    api: object, until: str, call: Callable[[], Awaitable[object]]
) -> tuple[Trace, object]:
    trace = Trace(api_codes(api), until)
    with profiled(trace):
        result = await call()
    if not trace.reached:
        raise SystemExit(f"the facade call never reached the API's {until}")
    return trace, result


def new_facade(api: FakeApi, db: MetaDb, spool: Spool) -> Filesystem:
    options = Options(owner=Owner(0, 0, 0o022))
    setup = WriteSetup(
        db=db, spool=spool, features=HostFeatures(), write_back=0.0, clock=trio.current_time
    )
    return Filesystem(api, options=options, writes=setup, clock=trio.current_time)


async def run_facade(fs: Filesystem, nursery: trio.Nursery) -> trio.CancelScope:
    scope = trio.CancelScope()

    async def serve(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        with scope:
            await fs.run(task_status=task_status)

    await nursery.start(serve)
    return scope


def show(title: str, modules: list[str]) -> None:
    print(f"    {title}: {len(modules)} modules")
    print("      " + " -> ".join(modules))


async def name_paths(tmp: Path) -> None:
    api = FakeApi()
    db = await MetaDb.open(tmp / "meta.db")
    spool = Spool(tmp / "spool")
    try:
        async with trio.open_nursery() as nursery:
            # First mount: a folder, two files uploaded through the facade.
            fs = new_facade(api, db, spool)
            scope = await run_facade(fs, nursery)
            folder = await fs.mkdir(ROOT_INO, FOLDER)
            for name in UPLOADED:
                opened, _ = await fs.create(folder.ino, name, 0o644, os.O_WRONLY | os.O_CREAT)
                await fs.write(opened.fh, 0, b"video bytes of " + name.encode())
                await fs.release(opened.fh)
            await fs.wait_uploads()
            scope.cancel()
            fld_id = next(f.fld_id for f in api.folders.values() if f.name == FOLDER)
            api.add_file(SEEDED, fld_id)

            # Second mount on the same db: nothing of the folder is cached yet.
            fs = new_facade(api, db, spool)
            scope = await run_facade(fs, nursery)
            folder = await fs.lookup(ROOT_INO, FOLDER)

            async def list_folder() -> list[str]:
                fh = await fs.opendir(folder.ino)
                names = [entry.name for entry in fs.readdir(fh, 0)]
                fs.releasedir(fh)
                return names

            listed, names = await measure(api, "folder_list", list_folder)
            assert isinstance(names, list)
            missing = set(UPLOADED) - set(names)
            if missing:
                raise SystemExit(f"readdir did not list {sorted(missing)}: {names}")
            print("(c) a file name from readdir to the wire (opendir + readdir of a folder):")
            show("facade call -> api.folder_list", listed.before)
            show("whole opendir + readdir", listed.whole)

            await fs.lookup(folder.ino, UPLOADED[0])
            with suppress(VfsError):  # ENOENT, as the kernel sees before a rename
                await fs.lookup(folder.ino, NEW_NAME)

            async def rename() -> None:
                await fs.rename(folder.ino, UPLOADED[0], folder.ino, NEW_NAME)

            renamed, _ = await measure(api, "file_edit", rename)
            print("    a file name from rename to file/edit (rename of an uploaded file):")
            show("facade call -> api.file_edit", renamed.before)
            show("whole rename", renamed.whole)
            scope.cancel()
    finally:
        await db.close()


def main() -> int:
    os.chdir(REPO)
    head = subprocess.run(
        ["git", "log", "-1", "--format=%h %s"], capture_output=True, text=True, check=False
    ).stdout.strip()
    print(f"vipfs core figures at {head[:72] or REPO}")
    import vipfs

    if not Path(vipfs.__file__).resolve().is_relative_to(REPO):
        raise SystemExit(f"vipfs was imported from {vipfs.__file__}, not from {REPO}")
    name, lines = largest_vfs_module()
    print(f"(a) largest module of vipfs/vfs: {name}, {lines} lines")
    print(f"(b) duplicates --repo vipfs --most 200: {duplicate_pairs()}")
    with tempfile.TemporaryDirectory(prefix="vipfs-figures-") as tmp:
        trio.run(name_paths, Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A mirror mount composed by hand from single-host stacks, for tests before `vipfs mount all`.

`python -m tests.integration.mirror_mount MNT STATE KEY_FILE NAME=API_URL...` serves a
MirrorFs over one Filesystem per member (each its own client, read cache, db and spool, as
`vipfs mount` composes one host) until `fusermount3 -u MNT`.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from pathlib import Path

import pyfuse3
import trio

from vipfs.api.client import XvsClient
from vipfs.api.lanes import Lane, lane
from vipfs.fuse_ops import Operations
from vipfs.vfs.features import HostFeatures
from vipfs.vfs.filesystem import Filesystem, Options, WriteSetup
from vipfs.vfs.metadb import MetaDb
from vipfs.vfs.mirror import Member, MirrorFs
from vipfs.vfs.readcache import ReadCache
from vipfs.vfs.spool import Spool


async def serve(mnt: Path, state: Path, key: str, members: list[tuple[str, str]]) -> None:
    async with contextlib.AsyncExitStack() as stack:
        built: list[Member] = []
        readers: list[ReadCache] = []
        for name, url in members:
            api = await stack.enter_async_context(XvsClient(url, key, retry_budget=3.0))
            home = state / name
            home.mkdir(parents=True, exist_ok=True)
            features = HostFeatures()
            reader = ReadCache(api, home / "cache", max_bytes=1 << 30, features=features)
            db = await MetaDb.open(home / "meta.db")
            stack.push_async_callback(db.close)
            writes = WriteSetup(
                db=db, spool=Spool(home / "spool"), features=features, write_back=0.5
            )
            options = Options(budget=5.0)
            fs = Filesystem(api, options=options, reader=reader, writes=writes)
            built.append(Member(name, fs))
            readers.append(reader)
        mirror = MirrorFs(built, state / "mirror-all", Options(budget=5.0))
        pyfuse3.init(Operations(mirror), str(mnt), {"fsname=vipfs-mirror", "default_permissions"})
        try:
            async with trio.open_nursery() as nursery:
                for reader in readers:
                    await nursery.start(reader.run)
                with lane(Lane.BACKGROUND):
                    await nursery.start(mirror.run)
                await pyfuse3.main()
                nursery.cancel_scope.cancel()
        finally:
            pyfuse3.close(unmount=True)


def main(argv: list[str]) -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    mnt, state, key_file, *pairs = argv
    members = [(p.split("=", 1)[0], p.split("=", 1)[1]) for p in pairs]
    trio.run(serve, Path(mnt), Path(state), Path(key_file).read_text().strip(), members)


if __name__ == "__main__":
    main(sys.argv[1:])

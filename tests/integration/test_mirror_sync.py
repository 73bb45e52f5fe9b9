"""Issue 13 "Done when": `vipfs mirror sync MNT` brings back a file a host deleted, by URL.

Both hosts are seeded directly (`/_emu/seed`), so the mount has never seen the bytes: there is
no spool file and no read-cache copy to upload from. vip holds the file and allows
`direct_link`; on wish the same file was deleted by the host (`deleted: admin`, as
`file/deleted` lists it). `vipfs mirror sync` must have wish fetch it with `upload/url` from
vip's direct link, so no byte of it passes through the mount: wish's upload node receives
nothing (`/_emu/traffic`), vip's links send the file, and wish ends with it exactly once, in
the same folder under the same title. A file only wish holds, with wish allowing no direct
link, cannot be backfilled on vip: the command says so (path, member) and exits 1.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.conftest import vipfs, wait_for
from tests.integration.mirrors import Rig, by_sha, holdings, mirror_rig, shas, xattr

pytestmark = pytest.mark.fuse
__all__ = ["mirror_rig"]

BuildRig = Callable[..., Rig]
RESCUED = b"the clip wish lost to a takedown\n" * 6000  # ~200 kB
KEPT = b"a clip both hosts keep\n" * 3000


def seed(rig: Rig, member: str, files: list[dict[str, object]]) -> None:
    rig.hosts[member].up.seed({"folders": [{"name": "Saved", "ref": "s"}], "files": files})


def clip(title: str, data: bytes, **extra: object) -> dict[str, object]:
    return {
        "title": title,
        "folder_ref": "s",
        "content_b64": base64.b64encode(data).decode(),
        **extra,
    }


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def only_name(folder: Path, stem: str) -> Path:
    found = [n for n in os.listdir(folder) if n.startswith(stem)]
    assert len(found) == 1, (stem, os.listdir(folder))
    return folder / found[0]


def test_mirror_sync_brings_back_a_deleted_file_by_url_not_through_the_mount(
    mirror_rig: BuildRig,
) -> None:
    rig = mirror_rig(
        {"dir_cache_time": 1},
        vip=("--enable", "direct_link"),
        wish=("--enable", "url_uploads"),
    )
    seed(rig, "vip", [clip("rescued clip", RESCUED), clip("kept clip", KEPT)])
    seed(rig, "wish", [clip("rescued clip", RESCUED, deleted="admin"), clip("kept clip", KEPT)])
    vip, wish = rig.hosts["vip"], rig.hosts["wish"]
    assert shas(holdings(wish.up)) == Counter([sha(KEPT)])
    mount = rig.mount()
    m = mount.path
    rescued = only_name(m / "Saved", "rescued clip")
    kept = only_name(m / "Saved", "kept clip")
    assert "wish" in xattr(rescued, "user.vipfs.status")  # where it is missing is said
    assert "wish" not in xattr(kept, "user.vipfs.status")
    vip.reset_traffic()
    wish.reset_traffic()
    wish.up.reset_calls()
    done = vipfs("mirror", "sync", m, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [line for line in done.stdout.splitlines() if "rescued clip" in line]
    assert any("wish" in line for line in lines), done.stdout
    wait_for("wish to hold the rescued clip", lambda: sha(RESCUED) in shas(holdings(wish.up)), 180)
    wait_for(  # a URL upload is titled after its URL by the host: the mount retitles it
        "the rescued clip's folder and title on wish",
        lambda: by_sha(holdings(wish.up)) == by_sha(holdings(vip.up)),
        timeout=60,
    )
    on_wish = holdings(wish.up)
    assert shas(on_wish) == Counter([sha(RESCUED), sha(KEPT)]), on_wish  # once each
    # it came by URL from vip's direct link: wish's node received nothing
    assert wish.traffic()["upload_bytes"] == 0, wish.traffic()
    assert vip.traffic()["upload_bytes"] == 0, vip.traffic()
    assert vip.traffic()["link_bytes"] >= len(RESCUED), vip.traffic()
    calls = wish.up.calls()
    assert calls.get("upload/url", 0) >= 1 and not calls.get("upload"), calls
    wait_for(
        "the mirror to see the rescued clip on wish",
        lambda: not xattr(rescued, "user.vipfs.wish.status").startswith("missing"),
        timeout=60,
    )


def test_mirror_sync_says_what_it_cannot_backfill(mirror_rig: BuildRig) -> None:
    rig = mirror_rig(
        vip=("--enable", "direct_link,url_uploads"),
        wish=(),  # no direct_link: nothing on wish can be fetched by URL
    )
    only_on_wish = b"a clip only wish holds\n" * 4000
    seed(rig, "vip", [clip("kept clip", KEPT)])
    seed(rig, "wish", [clip("kept clip", KEPT), clip("wish only", only_on_wish)])
    vip = rig.hosts["vip"]
    mount = rig.mount()
    only_name(mount.path / "Saved", "wish only")  # shown: a name any member has
    vip.reset_traffic()
    done = vipfs("mirror", "sync", mount.path, timeout=300)
    assert done.returncode == 1, done.stdout + done.stderr
    said = [line for line in done.stdout.splitlines() if "wish only" in line]
    assert said and any("vip" in line for line in said), (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    assert vip.traffic()["upload_bytes"] == 0, vip.traffic()
    assert shas(holdings(vip.up)) == Counter([sha(KEPT)])

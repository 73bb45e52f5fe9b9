"""`--seed-demo`: a small, plausible account with the quirks a client must cope with.

Owns: the `--seed-demo` account.
Imports: the standard library and `vipfs.emulator` control, host only; never `vipfs.api` or
`vipfs.vfs`.

Deterministic: the same titles, sizes and bytes every time (codes are fixed too), so demos and
screenshots are repeatable. Every file's bytes are one of the real clips in `clips/` (1 s,
160x90, H.264 and AAC, made by scripts/make_demo_clips.sh), so players and `ffprobe` open them.
"""

from __future__ import annotations

import base64
import random
from datetime import timedelta
from importlib import resources
from itertools import cycle
from typing import Any

from vipfs.emulator.control import seed
from vipfs.emulator.host import Host


def clips() -> list[bytes]:
    """The shipped sample videos, in name order (package data of vipfs.emulator)."""
    folder = resources.files("vipfs.emulator") / "clips"
    found = sorted((f for f in folder.iterdir() if f.name.endswith(".mp4")), key=lambda f: f.name)
    return [f.read_bytes() for f in found]


def demo_spec(host: Host) -> dict[str, Any]:
    rng = random.Random(20211)
    videos = cycle([base64.b64encode(clip).decode() for clip in clips()])
    now = host.now()

    def when(days_ago: float) -> str:
        return host.fmt_time(now - days_ago * 86400)

    code_no = iter(range(1, 1000))

    def code() -> str:
        return f"demo{next(code_no):08d}"

    folders = [
        {"name": "Movies", "parent_id": 0, "ref": "movies"},
        {"name": "Series", "parent_id": 0, "ref": "series"},
        {"name": "Breaking Bad", "parent_ref": "series", "ref": "bb"},
        {"name": "Season 1", "parent_ref": "bb", "ref": "bb1"},
        {"name": "Season 2", "parent_ref": "bb", "ref": "bb2"},
        {"name": "Holiday 2023", "parent_id": 0, "ref": "holiday"},
        {"name": "Clips", "parent_id": 0, "ref": "clips"},
    ]
    files: list[dict[str, Any]] = []

    def add(title: str, days_ago: float, **extra: Any) -> None:
        files.append(
            {
                "code": code(),
                "title": title,
                "content_b64": next(videos),
                "uploaded": when(days_ago),
                "length": rng.randrange(20, 3600),
                "views": rng.randrange(0, 500),
                **extra,
            }
        )

    add("Movie &#40;2021&#41;", 40, folder_ref="movies", public=1)
    add("big buck bunny", 39, folder_ref="movies", public=1, tags="promo, high quality")
    add("Sintel", 38, folder_ref="movies")
    add("Tears of Steel", 37, folder_ref="movies")
    for ep in range(1, 5):
        add(f"Breaking Bad S01E0{ep}", 30 - ep, folder_ref="bb1")
    for ep in range(1, 4):
        add(f"Breaking Bad S02E0{ep}", 20 - ep, folder_ref="bb2")
    for n in range(3):
        add("IMG 0042", 10 + n, folder_ref="holiday")  # three files sharing one title
    add("beach / sunset", 9, folder_ref="holiday")  # a title containing "/"
    add("Ünïcödé café 🎬", 8, folder_ref="holiday")
    add("Clips", 7)  # a file beside the folder of the same name
    add("cat jumps", 6, folder_ref="clips")
    add("dog &amp; ball", 5, folder_ref="clips")
    add("Root video 1", 4)
    add("Root video 2", 3)
    add("intro", 2)
    add("still encoding", 0.01, canplay=0, encode_seconds=7 * 86400)
    add("old upload", 60, deleted="me", deleted_ago=5 * 3600)
    add("removed by admin", 61, deleted="admin", deleted_ago=30 * 3600)
    add("pirated movie", 12, dmca=True, dmca_ago=2 * 3600)
    add("another report", 11, dmca=True, dmca_ago=5 * 3600)
    stats = []
    for back in range(1, 31):
        day = (host.now_local() - timedelta(days=back)).strftime("%Y-%m-%d")
        views = rng.randrange(0, 300)
        stats.append(
            {
                "day": day,
                "views": views,
                "downloads": rng.randrange(0, 20),
                "views_prem": views // 10,
                "views_adb": views // 7,
                "sales": 0,
                "refs": rng.randrange(0, 3),
                "profit_views": f"{views * 0.0004:.5f}",
            }
        )
    return {"folders": folders, "files": files, "stats": stats}


def seed_demo(host: Host) -> None:
    seed(host, demo_spec(host))

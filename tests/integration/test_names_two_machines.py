"""Two machines, one account: names live in the host's titles, not in a local database.

Machine A names files (by rename, one `file/edit` each) and makes folders with names from
every class the host damages; machine B, with an empty state directory of its own, must list
exactly the same names. A host that ignores edits with markup (`edit_drops_markup`, as real
hosts do) changes nothing: no title vipfs sends holds `<`, `>` or `"`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.conftest import Emulator, Mount, sh, wait_for

pytestmark = pytest.mark.fuse

StartMount = Callable[..., Mount]
StartEmulator = Callable[..., Emulator]

FILES = [
    "My_clip.v2 <final> #1.mp4",  # extension, `_`, dots, markup, `#`
    "  two spaces around  .mp4",  # leading and trailing spaces
    "dots...in...it.avi",  # a run of dots, another video extension
    "a x264 b H264 divx.mkv",  # words the upload deletes
    "warez & xvideo &amp; co.mp4",  # deleted anywhere; `&` that HTML would eat
    'back\\slash "quoted" (2021).webm',  # what edits escape
    "notes",  # no extension at all
    "クリップ 第1話 🎬.mp4",  # unicode
    "stand-ins ．＿＜＼ literal.mp4",  # the encoding's own characters, literally
    "AC／DC.mp4",
]
FOLDERS = ["a", "1", "Season_1.x", 'b<c> "d"', " lead", "＼"]


def tree(root: Path) -> set[str]:
    """Every path under `root` but /.vipfs, folders with a trailing /."""
    found: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        if rel == ".vipfs" or rel.startswith(".vipfs/"):
            continue
        prefix = "" if rel == "." else rel + "/"
        found |= {prefix + d + "/" for d in dirnames if not (prefix == "" and d == ".vipfs")}
        found |= {prefix + f for f in filenames}
    return found


def live_titles_settled(emu: Emulator, count: int) -> bool:
    live = emu.live_files()
    return len(live) == count and not any("vipfs-" in f["title"] for f in live)


def test_a_second_machine_lists_the_same_names(
    start_emulator: StartEmulator, start_mount: StartMount, tmp_path: Path
) -> None:
    emu = start_emulator("--edit-drops-markup")
    a = start_mount(emu, "--write-back", "0.2", "--state-dir", str(tmp_path / "state-a"))
    for folder in FOLDERS:
        made = sh("mkdir", a.path / folder)
        assert made.returncode == 0, (folder, made.stderr)
    src = tmp_path / "src"
    src.mkdir()
    for i in range(len(FILES)):
        (src / f"f{i}.mp4").write_bytes(os.urandom(3000 + i))
    assert sh("cp", "-a", f"{src}/.", a.path / "a").returncode == 0
    wait_for("the uploads", lambda: live_titles_settled(emu, len(FILES)), timeout=90)
    for i, name in enumerate(FILES):
        where = a.path / ("a" if i % 2 else FOLDERS[i % len(FOLDERS)])
        moved = sh("mv", a.path / "a" / f"f{i}.mp4", where / name)
        assert moved.returncode == 0, (name, moved.stderr)
    written = tree(a.path)
    assert {f"{f}/" for f in FOLDERS} <= written and len(written) == len(FOLDERS) + len(FILES)
    b = start_mount(
        emu,
        "--state-dir",
        str(tmp_path / "state-b"),
        "--cache-dir",
        str(tmp_path / "cache-b"),
        "--log-file",
        str(tmp_path / "mount-b.log"),
    )
    assert tree(b.path) == written
    assert "did not take" not in a.log()

"""Source trees for the write tests, and the checks that a mount and the host hold exactly them.

A tree is deterministic (names, bytes, modes and mtimes follow from the file's index), every
file's bytes are unique (its path is in them), so a sha256 names one file, and the names carry
what trips a video host up: spaces, underscores, dots, parentheses, unicode.
"""

from __future__ import annotations

import hashlib
import html
import os
from pathlib import Path, PurePosixPath

from tests.integration.conftest import Emulator, sh
from vipfs.emulator.mangle import upload_title
from vipfs.vfs.names import Titles

TITLES = Titles()

# (folder, number of files): 200 files in nested folders.
LAYOUT: tuple[tuple[str, int], ...] = (
    ("", 10),
    ("Holiday 2023", 20),
    ("Holiday 2023/Day_01", 20),
    ("Holiday 2023/Day_01/raw.takes", 20),
    ("Ünïcødé 映画", 20),
    ("Ünïcødé 映画/Sub folder (extras)", 20),
    ("archive_v1.2", 10),
    ("archive_v1.2/2019", 20),
    ("archive_v1.2/2019/Q1 – spring", 20),
    ("a b/c d", 10),
    ("a b/c d/e_f.g", 30),
)
NAME_PATTERNS = (
    "clip {i:03d}.mp4",
    "take_{i:03d}_final.mp4",
    "scene.{i:03d}.v2.mp4",
    "Ça été {i:03d} ✓.mp4",
    "mix {i:03d} - A_b.c (cut).mp4",
    "日本語 {i:03d}.mp4",
)
BASE_MTIME_NS = 1_600_000_000 * 10**9


def file_bytes(i: int, rel: str) -> bytes:
    """Small, unique, deterministic content (1 to 31 KB)."""
    line = f"{i:04d} {rel}\n".encode()
    size = 1000 + (i * 7919) % 30000
    return (line * (size // len(line) + 1))[:size]


def make_tree(root: Path, layout: tuple[tuple[str, int], ...] = LAYOUT) -> dict[str, str]:
    """Write the tree under `root`; returns relative path → sha256 of every file."""
    files: dict[str, str] = {}
    i = 0
    for folder, count in layout:
        (root / folder).mkdir(parents=True, exist_ok=True)
        for _ in range(count):
            rel = str(PurePosixPath(folder) / NAME_PATTERNS[i % len(NAME_PATTERNS)].format(i=i))
            data = file_bytes(i, rel)
            path = root / rel
            path.write_bytes(data)
            path.chmod(0o640 if i % 5 == 0 else 0o644)
            mtime = BASE_MTIME_NS + i * 3607 * 10**9 + i * 123_457  # sub-second parts too
            os.utime(path, ns=(mtime, mtime))
            files[rel] = hashlib.sha256(data).hexdigest()
            i += 1
    return files


def snapshot(root: Path) -> dict[str, str]:
    """Every entry under `root` (not `/.vipfs`) → "type size mtime mode" as `stat` prints them
    (sizes and mtimes of files only: a folder's size and mtime are not the host's to keep)."""
    rels: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = Path(dirpath).relative_to(root)
        if rel_dir == Path("."):
            dirnames[:] = [d for d in dirnames if d != ".vipfs"]
        rels += [str(rel_dir / n) for n in dirnames + filenames]
    if not rels:
        return {}
    out = sh("stat", "--printf", r"%F|%s|%Y|%a\n", *[root / r for r in rels])
    assert out.returncode == 0, out.stderr
    found: dict[str, str] = {}
    for rel, line in zip(rels, out.stdout.splitlines(), strict=True):
        kind, size, mtime, mode = line.split("|")
        rel = str(PurePosixPath(rel))
        found[rel] = "dir" if kind == "directory" else f"{kind} {size} {mtime} {mode}"
    return found


def codes(mnt: Path, rels: list[str]) -> dict[str, str]:
    """Relative path → file code, from the mount's `user.vipfs.code`."""
    return {rel: os.getxattr(mnt / rel, "user.vipfs.code").decode() for rel in rels}


def assert_host_holds(emu: Emulator, mnt: Path, expected: dict[str, str]) -> None:
    """The account holds exactly `expected` (path → sha256): one live file per path, in the
    folder of that path, with those bytes and the title vipfs gives it (`Titles.file_title`,
    as the upload node keeps it: no edit follows an upload, issue 10); no other file, no
    deleted copy, no temp name, no upload token."""
    files = emu.files()
    deleted = [f["title"] for f in files if f["deleted"]]
    assert not deleted, f"copies were made and deleted: {deleted[:5]}"
    assert len(files) == len(expected), f"{len(files)} files on the host, {len(expected)} sent"
    folders = emu.folders()
    by_code = {f["code"]: f for f in files}
    for rel, code in codes(mnt, sorted(expected)).items():
        held = by_code.pop(code, None)
        assert held is not None, f"{rel}: code {code} is not on the host"
        path = PurePosixPath(rel)
        assert held["sha256"] == expected[rel], f"{rel}: wrong bytes on the host"
        sent = TITLES.file_title(path.name)
        assert html.unescape(held["title"]) in (sent, upload_title(sent, path.name)), rel
        parent = "" if str(path.parent) == "." else str(path.parent)
        assert int(held["fld_id"]) == folders[parent], f"{rel}: in the wrong folder"
    assert not by_code, f"files nobody sent: {[f['title'] for f in by_code.values()][:5]}"

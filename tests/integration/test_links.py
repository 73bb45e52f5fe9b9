"""`vipfs links` on a real mount: seeded, uploaded and queued files in every format, -r, errors."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from tests.integration.conftest import Emulator, Mount, vipfs, wait_for

EMBED = "https://embed.example/e/{code}"


def clip() -> bytes:
    return (resources.files("vipfs.emulator") / "clips" / "testsrc.mp4").read_bytes()


def uploaded_now(path: Path) -> None:
    """Write a file and fsync it: the upload runs now and fsync waits for it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, clip())
        os.fsync(fd)
    finally:
        os.close(fd)


def links(*argv: str | Path) -> list[dict[str, object]]:
    out = vipfs("links", *argv, "--format", "json")
    assert out.returncode == 0, out.stderr
    items: list[dict[str, object]] = json.loads(out.stdout)
    return items


def test_links_of_seeded_uploaded_and_queued_files(
    start_emulator: Callable[..., Emulator], start_mount: Callable[..., Mount]
) -> None:
    emu = start_emulator("--seed-demo", "--enable", "direct_link")
    mount = start_mount(emu, "--embed-url", EMBED, "--write-back", "3600")
    clips = mount.path / "Clips"
    uploaded_now(clips / "fresh.mp4")
    (clips / "later.mp4").write_bytes(clip())  # write-back 3600: stays queued

    def queued() -> list[dict[str, object]]:
        items = links(clips)
        return items if {i["name"]: i for i in items}["later.mp4"]["status"] == "queued" else []

    items = {item["name"]: item for item in wait_for("later.mp4 queued", queued)}
    assert list(items) == ["cat jumps.mp4", "dog & ball.mp4", "fresh.mp4", "later.mp4"]
    cat = items["cat jumps.mp4"]
    assert cat["path"] == "Clips/cat jumps.mp4" and cat["pending"] is False
    assert str(cat["link"]).startswith("http") and str(cat["link"]).endswith(f"{cat['code']}.html")
    assert cat["embed"] == f"https://embed.example/e/{cat['code']}"
    assert isinstance(cat["views"], int) and isinstance(cat["length"], int)
    fresh = items["fresh.mp4"]
    assert fresh["pending"] is False and fresh["code"]
    assert fresh["embed"] == f"https://embed.example/e/{fresh['code']}"
    later = items["later.mp4"]
    assert later["pending"] is True and later["code"] is None and later["link"] is None

    txt = vipfs("links", clips)
    assert txt.returncode == 0, txt.stderr
    assert txt.stdout.splitlines()[0] == f"{cat['link']} cat jumps.mp4"
    assert txt.stdout.splitlines()[-1] == "pending (queued) later.mp4"

    rows = list(csv.DictReader(io.StringIO(vipfs("links", clips, "--format", "csv").stdout)))
    assert [row["name"] for row in rows] == list(items)
    assert rows[-1]["pending"] == "true" and rows[0]["embed"] == cat["embed"]

    page = vipfs("links", clips, "--format", "html").stdout
    assert page.startswith("<!DOCTYPE html>") and "dog &amp; ball.mp4" in page
    assert f'<a href="{cat["link"]}">' in page and "later.mp4 (pending (queued))" in page

    bbcode = vipfs("links", clips, "--format", "bbcode").stdout.splitlines()
    assert bbcode[0] == f"[url={cat['link']}][img]{cat['thumbnail']}[/img][/url]"
    md = vipfs("links", clips, "--format", "md").stdout.splitlines()
    assert md[0] == f"- [cat jumps.mp4]({cat['link']})"

    one = vipfs("links", clips / "cat jumps.mp4", "--template", "{code} {embed}")
    assert one.stdout == f"{cat['code']} {cat['embed']}\n"
    typo = vipfs("links", clips, "--template", "{nmae}")
    assert typo.returncode == 1 and typo.stderr.count("\n") == 1 and "{nmae}" in typo.stderr


def test_recursive_walks_in_path_order_and_skips_vipfs_own(
    start_emulator: Callable[..., Emulator], start_mount: Callable[..., Mount], tmp_path: Path
) -> None:
    emu = start_emulator("--seed-demo", "--enable", "direct_link")
    mount = start_mount(emu)
    (mount.path / "Movies" / "Sintel.mp4").unlink()  # into vipfs-trash: not a link to post
    paths = [str(item["path"]) for item in links(mount.path, "-r")]
    assert paths == sorted(paths, key=lambda p: p.split("/"))
    assert "Series/Breaking Bad/Season 1/Breaking Bad S01E01.mp4" in paths
    assert not [p for p in paths if p.startswith(("vipfs-trash/", ".vipfs/"))]
    assert "Movies/Sintel.mp4" not in paths and "intro.mp4" in paths
    top = [str(item["path"]) for item in links(mount.path)]
    assert top == [p for p in paths if "/" not in p]  # without -r: the folder's own files
    assert all(item["embed"] is None for item in links(mount.path))  # no --embed-url

    outside = tmp_path / "plain.mp4"
    outside.write_bytes(b"x")
    refused = vipfs("links", outside)
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr == f"vipfs: {outside} is not in a vipfs mount\n"

"""`vipfs links` on a real mount (issue 12, item 1): every format, for a folder holding files
vipfs uploaded, a file still queued and files the host already had (seeded).

The command works through the mount (directory entries and `user.vipfs.*` xattrs), so it runs
here with no key anywhere in its environment; what it prints is checked against the host's own
`file/list` answer (links, thumbnails, lengths, views), not against the mount's xattrs alone.
"""

from __future__ import annotations

import csv
import html.parser
import io
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import Emulator, Mount, sh, status_xattr, wait_for

pytestmark = pytest.mark.fuse

StartMount = Callable[..., Mount]
StartEmulator = Callable[..., Emulator]

FIELDS = {"path", "name", "title", "link", "embed", "thumbnail", "length", "views", "code"}
HOSTED = ("alpha.mp4", "Tom & Jerry <1>.mp4")  # uploaded by the mount (fsync: at once)
QUEUED = "pending one.mp4"  # copied in under --write-back 600: still queued
SEEDED = {"seeded clip.mp4": (75, 12)}  # on the host before the mount: (length, views)
DEEP = "deep clip.mp4"  # seeded in Clips/Sub: only with -r
GONE = "gone clip.mp4"  # seeded, then removed: in vipfs-trash (this host has no file/delete)
EMBED = "https://embed.example/e/{code}.html"


def links(*argv: str | Path, home: Path) -> Any:
    """`vipfs links ...` as a user runs it, with no key in its environment: no VIPFS_KEY, and a
    HOME of its own with no config file."""
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "LANG": "C.UTF-8"}
    command = [sys.executable, "-m", "vipfs", "links", *map(str, argv)]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)


def code_of(path: Path) -> str:
    out = sh("getfattr", "--only-values", "-n", "user.vipfs.code", path)
    return out.stdout if out.returncode == 0 else ""


def link_of(path: Path) -> str:
    out = sh("getfattr", "--only-values", "-n", "user.vipfs.link", path)
    return out.stdout if out.returncode == 0 else ""


@pytest.fixture
def desk(
    start_emulator: StartEmulator, start_mount: StartMount, tmp_path: Path
) -> Callable[..., tuple[Mount, dict[str, dict[str, Any]]]]:
    """A mount (with `extra` options) whose `Clips` folder holds HOSTED (uploaded), QUEUED
    (queued) and SEEDED files, and `Clips/Sub` one more seeded file; with the host's own
    `file/list` record of each host file by its name in the mount."""

    def make(*extra: str) -> tuple[Mount, dict[str, dict[str, Any]]]:
        emu = start_emulator("--enable", "direct_link")
        made = emu.seed(
            {
                "folders": [
                    {"name": "Clips", "ref": "clips"},
                    {"name": "Sub", "ref": "sub", "parent_ref": "clips"},
                ],
                "files": [
                    *(
                        {"title": n.removesuffix(".mp4"), "folder_ref": "clips", "size": 4096,
                         "length": length, "views": views}
                        for n, (length, views) in SEEDED.items()
                    ),
                    {"title": DEEP.removesuffix(".mp4"), "folder_ref": "sub", "size": 4096},
                    {"title": GONE.removesuffix(".mp4"), "folder_ref": "clips", "size": 4096},
                ],
            }
        )  # fmt: skip
        # a short listing lifetime: the watch link of a file vipfs uploaded comes with the
        # host's next answer for its folder (the upload's own reply carries only the code)
        mount = start_mount(emu, "--write-back", "600", "--dir-cache-time", "0.5", *extra)
        clips = mount.path / "Clips"
        assert sh("rm", clips / GONE).returncode == 0
        assert (mount.path / "vipfs-trash" / GONE).exists()
        for i, name in enumerate(HOSTED):
            src = tmp_path / f"src{i}.mp4"
            src.write_bytes(os.urandom(6_000 + i))
            done = sh("dd", f"if={src}", f"of={clips / name}", "conv=fsync", "status=none")
            assert done.returncode == 0, done.stderr  # fsync: uploaded before dd exits
        (tmp_path / "queued.mp4").write_bytes(os.urandom(7_000))
        assert sh("cp", tmp_path / "queued.mp4", clips / QUEUED).returncode == 0
        for name in HOSTED:
            wait_for(f"{name}'s code", lambda name=name: code_of(clips / name))
            wait_for(
                f"{name}'s link", lambda name=name: os.listdir(clips) and link_of(clips / name)
            )
        host = {
            f["file_code"]: f
            for f in emu.api("file/list", fld_id=made["folders"]["clips"], per_page=1000)["files"]
        }
        infos = {
            i["file_code"]: i for i in emu.api("file/info", file_code=",".join(host))
        }  # fmt: skip
        by_name: dict[str, dict[str, Any]] = {}
        for name in (*HOSTED, *SEEDED):
            code = code_of(clips / name)
            assert code in host, (name, code, sorted(host))
            by_name[name] = {**host[code], "player_img": infos[code]["player_img"]}
        assert not code_of(clips / QUEUED)  # the premise: it is not on the host yet
        wait_for("the queued file's row", lambda: status_xattr(clips / QUEUED) == "queued")
        return mount, by_name

    return make


def thumbnails(record: dict[str, Any]) -> set[str]:
    """The host's pictures of a file: file/list's thumbnail, file/info's player image."""
    return {record["thumbnail"], record["player_img"]}


def _is_true(value: object) -> bool:
    return str(value).strip().lower() in ("true", "1", "yes")


def test_links_json_csv_and_txt_list_host_files_and_the_queued_one_as_pending(
    desk: Callable[..., tuple[Mount, dict[str, dict[str, Any]]]], tmp_path: Path
) -> None:
    mount, host = desk()
    clips = mount.path / "Clips"
    home = tmp_path / "home"
    home.mkdir()

    done = links(clips, "--format", "json", home=home)
    assert done.returncode == 0, done.stderr
    items = {item["name"]: item for item in json.loads(done.stdout)}
    assert set(items) == {*HOSTED, QUEUED, *SEEDED}  # no -r: Sub's file is not listed
    for name, record in host.items():
        item = items[name]
        assert set(item) >= FIELDS, item
        assert item["path"] == f"Clips/{name}"
        assert item["code"] == record["file_code"]
        assert item["link"] == record["link"]
        assert item["thumbnail"] in thumbnails(record), item
        assert item["embed"] is None  # no --embed-url: no embed link
        assert not _is_true(item.get("pending"))
    for name, (length, views) in SEEDED.items():
        assert (str(items[name]["length"]), str(items[name]["views"])) == (str(length), str(views))
    pending = items[QUEUED]
    assert pending["code"] is None and pending["link"] is None
    assert _is_true(pending["pending"]) and "queued" in str(pending["status"])

    done = links(clips, "--format", "csv", home=home)
    assert done.returncode == 0, done.stderr
    reader = csv.DictReader(io.StringIO(done.stdout))
    assert set(reader.fieldnames or ()) >= FIELDS, reader.fieldnames
    rows = {row["name"]: row for row in reader}
    assert set(rows) == {*HOSTED, QUEUED, *SEEDED}  # names with & and < survive csv quoting
    for name, record in host.items():
        assert (rows[name]["code"], rows[name]["link"]) == (record["file_code"], record["link"])
    assert rows[QUEUED]["code"] == "" and _is_true(rows[QUEUED]["pending"])

    done = links(clips, home=home)  # txt is the default: the link, then the name
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == len(items), lines
    for name, record in host.items():
        assert any(record["link"] in line and name in line for line in lines), (name, lines)
    (waiting,) = [line for line in lines if QUEUED in line]
    assert "pending" in waiting and "http" not in waiting

    deep = links(clips, "-r", "--format", "json", home=home)
    assert deep.returncode == 0, deep.stderr
    paths = [item["path"] for item in json.loads(deep.stdout)]
    assert "Clips/Sub/" + DEEP in paths and len(paths) == len(items) + 1

    # from the root, -r lists every folder's files but never /.vipfs or vipfs-trash
    everything = links(mount.path, "-r", "--format", "json", home=home)
    assert everything.returncode == 0, everything.stderr
    assert sorted(item["path"] for item in json.loads(everything.stdout)) == sorted(paths)

    one = links(clips / "alpha.mp4", "--format", "json", home=home)
    assert one.returncode == 0, one.stderr
    assert [item["code"] for item in json.loads(one.stdout)] == [host["alpha.mp4"]["file_code"]]
    # no embed template: the file carries no embed attribute
    assert sh("getfattr", "-n", "user.vipfs.embed", clips / "alpha.mp4").returncode != 0

    outside = links(tmp_path, home=home)
    assert outside.returncode == 1 and len(outside.stderr.strip().splitlines()) == 1
    assert "Traceback" not in outside.stderr


class Anchors(html.parser.HTMLParser):
    """Every `<a href>` of a page with its text; and the page's whole text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.anchors: list[tuple[str, str]] = []
        self.text: list[str] = []
        self._href: str | None = None
        self._words: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href, self._words = dict(attrs).get("href") or "", []

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            self.anchors.append((self._href, "".join(self._words)))
            self._href = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._href is not None:
            self._words.append(data)


def test_links_html_bbcode_md_and_a_template(
    desk: Callable[..., tuple[Mount, dict[str, dict[str, Any]]]], tmp_path: Path
) -> None:
    mount, host = desk()
    clips = mount.path / "Clips"
    home = tmp_path / "home"
    home.mkdir()

    page = links(clips, "--format", "html", home=home)
    assert page.returncode == 0, page.stderr
    assert "<html" in page.stdout.lower() and "</html>" in page.stdout.lower()  # a whole page
    assert "Tom & Jerry <1>" not in page.stdout  # a name is escaped, never markup
    parsed = Anchors()
    parsed.feed(page.stdout)
    parsed.close()
    hrefs = {href for href, words in parsed.anchors if words.strip()}
    text = "".join(parsed.text)
    for name, record in host.items():
        assert record["link"] in hrefs, (name, parsed.anchors)
        assert name.removesuffix(".mp4") in text, (name, text)  # unescaped by the parser
    assert QUEUED.removesuffix(".mp4") in text and "pending" in text
    assert not any(QUEUED.removesuffix(".mp4") in words for _, words in parsed.anchors)

    bb = links(clips, "--format", "bbcode", home=home)
    assert bb.returncode == 0, bb.stderr
    for record in host.values():
        assert f"[url={record['link']}]" in bb.stdout, bb.stdout
        assert any(f"[img]{t}[/img]" in bb.stdout for t in thumbnails(record)), bb.stdout
    (waiting,) = [line for line in bb.stdout.splitlines() if QUEUED.removesuffix(".mp4") in line]
    assert "pending" in waiting and "[url=" not in waiting  # the queued file links nowhere

    md = links(clips, "--format", "md", home=home)
    assert md.returncode == 0, md.stderr
    for record in host.values():
        assert f"]({record['link']})" in md.stdout, md.stdout
    (waiting,) = [line for line in md.stdout.splitlines() if QUEUED.removesuffix(".mp4") in line]
    assert "pending" in waiting and "](" not in waiting

    shaped = links(clips, "--template", "{name}: {link}", home=home)
    assert shaped.returncode == 0, shaped.stderr
    lines = shaped.stdout.splitlines()
    for name, record in host.items():
        assert f"{name}: {record['link']}" in lines, lines
    assert [line for line in lines if line.startswith(f"{QUEUED}: ")], lines
    assert len(lines) == len(host) + 1

    coded = links(clips, "--template", "{code}|{views}|{pending}", home=home)
    assert coded.returncode == 0, coded.stderr
    coded_lines = coded.stdout.splitlines()
    for record in host.values():
        assert any(line.startswith(f"{record['file_code']}|") for line in coded_lines)

    unknown = links(clips, "--template", "{name} {nope}", home=home)
    assert unknown.returncode != 0 and "nope" in unknown.stderr
    assert len(unknown.stderr.strip().splitlines()) == 1 and not unknown.stdout


def test_embed_url_fills_the_template_with_each_code(
    desk: Callable[..., tuple[Mount, dict[str, dict[str, Any]]]], tmp_path: Path
) -> None:
    mount, host = desk("--embed-url", EMBED)
    clips = mount.path / "Clips"
    home = tmp_path / "home"
    home.mkdir()
    done = links(clips, "--format", "json", home=home)
    assert done.returncode == 0, done.stderr
    items = {item["name"]: item for item in json.loads(done.stdout)}
    for name, record in host.items():
        wanted = EMBED.replace("{code}", record["file_code"])
        assert items[name]["embed"] == wanted
        shown = sh("getfattr", "--only-values", "-n", "user.vipfs.embed", clips / name)
        assert shown.returncode == 0 and shown.stdout == wanted, shown
    assert items[QUEUED]["embed"] is None  # no code yet: no embed link either
    shaped = links(clips, "--template", "{name} {embed}", home=home)
    assert shaped.returncode == 0, shaped.stderr
    for name, record in host.items():
        assert f"{name} {EMBED.replace('{code}', record['file_code'])}" in shaped.stdout


@pytest.mark.parametrize(
    ("template", "why"),
    [("https://embed.example/e/", "{code}"), ("ftp://embed.example/{code}", "http")],
)
def test_an_embed_template_without_code_or_not_http_is_refused(
    emulator: Emulator, start_mount: StartMount, template: str, why: str
) -> None:
    with pytest.raises(AssertionError, match="mount exited") as refused:
        start_mount(emulator, "--embed-url", template)
    said = str(refused.value)
    assert why in said and "embed" in said.lower(), said
    assert "unrecognized" not in said and "Traceback" not in said, said  # the option exists


def test_a_fresh_upload_gets_its_watch_link_without_waiting_for_the_listing_to_expire(
    emulator: Emulator, start_mount: StartMount, tmp_path: Path
) -> None:
    """The uploader's case: copy a file in, post its link. The upload's reply carries only the
    code; the link is the host's (file/list, folder/list), so the mount must ask for it, not
    wait out --dir-cache-time (300 s by default) before `vipfs links` can print it."""
    mount = start_mount(emulator, "--write-back", "0.2")
    (tmp_path / "fresh.mp4").write_bytes(os.urandom(9_000))
    assert sh("cp", tmp_path / "fresh.mp4", mount.path).returncode == 0
    code = wait_for("the upload", lambda: code_of(mount.path / "fresh.mp4"))
    (record,) = [f for f in emulator.api("file/list", fld_id=0)["files"] if f["file_code"] == code]
    home = tmp_path / "home"
    home.mkdir()

    def printed() -> str:
        done = links(mount.path / "fresh.mp4", "--format", "json", home=home)
        assert done.returncode == 0, done.stderr
        return str(json.loads(done.stdout)[0]["link"] or "")

    assert wait_for("the fresh file's watch link", printed, timeout=30) == record["link"]

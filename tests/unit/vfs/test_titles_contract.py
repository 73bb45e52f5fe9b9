"""The `Titles` contract of issue 10: a name survives the host's title alone, both ways.

A second machine with an empty state sees only the host's titles, so every filename vipfs can
send must come back exactly from the title the host keeps, whether the title went through the
upload node's rewriting (xvs-api.md §4) or through `file/edit` / `folder/create` escaping
(§6.9). The oracle is the emulator's copy of those rules (`vipfs/emulator/mangle.py`), and the
listing hands back what the host stored, verbatim: `file_name` undoes HTML escapes itself.

The alphabet leans on what the host damages: `_`, runs of dots, `<>"#`, `&amp;`-like text,
leading/trailing spaces (also the Unicode ones `str.strip` eats), ` x264 `-like tokens,
`warez`/`xvideo` (also spelled with the non-ASCII letters a case-insensitive regex matches:
`ı`, `İ`, `ſ`, `K`), the stand-ins themselves, and video extensions.
"""

from __future__ import annotations

import argparse
import unicodedata

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from vipfs import config, mount
from vipfs.emulator.mangle import secure_str, upload_title
from vipfs.vfs import names as names_module
from vipfs.vfs.names import NAME_MAX, Titles

TITLES = [Titles(), Titles(default_extension=""), Titles(default_extension=".mkv")]
IDS = ["mp4", "none", "mkv"]

# Pieces a name is built of: what the host strips, drops, escapes or rewrites, and stand-ins.
PIECES = [
    ".", "..", "...", "_", "__", " ", "  ", "<", ">", '"', "#", "&", "&amp;", "&lt;", "&#40;",
    "&#x41;", "&copy", "\\", "(", ")", " x264 ", "x264", "h264", "DivX", "xvid", " xvid ",
    "warez", "xvideo", "WaReZ", "xvıdeo", "dıvx", "xvİdeo", "K", "ſ", "／", "＼", "．", "＿",
    "＜", "＞", "＂", "＃", "⧵", "＆", "␠", "␀", "␡", "\u3000", "\xa0", "\u2028", "映画", "é",
    "🎬", "Ça", ".mp4", ".mkv", ".avi", ".MP4", ".jpg", ".zip", ".mp3", ".txt", "a", "b", "1",
    "clip", "video 04",
]  # fmt: skip


def _control(ch: str) -> bool:
    return unicodedata.category(ch) == "Cc"


def _valid(name: str) -> bool:
    """A path component Linux accepts, without control characters (those are unsendable)."""
    return (
        name not in ("", ".", "..")
        and "/" not in name
        and len(name.encode()) <= NAME_MAX
        and not any(_control(ch) for ch in name)
    )


_piece = st.one_of(
    st.sampled_from(PIECES),
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/"),
)
names = st.lists(_piece, min_size=1, max_size=12).map("".join).filter(_valid)

AWKWARD = [
    "My_clip.v2.mp4",
    "dots...in...it.avi",
    "ends with a dot.",
    ".hidden.mp4",
    ".mp4",
    "a.b.c.d.e",
    "  spaces  around  .mp4",
    " lead",
    "trail ",
    "x264 h264 divx.mp4",
    "a x264 b.mkv",
    '<b>&amp; "quoted" #1<＼b>.webm',
    'video <4> "one".mp4',
    "Tom & Jerry &lt;3.mp4",
    "warez xvideo.mp4",
    "xvıdeo.mp4",
    "back\\slash.mp4",
    "Movie (2021).mp4",
    "クリップ 第1話.mkv",
    "emoji 🎬.mov",
    "AC ／ DC.mp4",
    "lone ＼",
    "clip",
    "clip.mp4",
    "clip.mkv",
    "clip.MP4",
    "clip.mp4.mp4",
    "photo.jpg",
    "song.mp3",
    "notes.txt",
    "big buck bunny",
    "a",
    "1",
]


def uploaded(titles: Titles, name: str) -> str:
    """The title the host keeps and lists after an upload carrying `file_title(name)`."""
    return upload_title(titles.file_title(name), name)


def edited(value: str) -> str:
    """The title the host keeps and lists after `file/edit` (or folder create/edit) sends
    `value`; a value the host would skip fails the test."""
    kept = secure_str(value)
    assert kept is not None, f"the host skips {value!r}"
    return kept


@pytest.mark.parametrize("titles", TITLES, ids=IDS)
@pytest.mark.parametrize("name", AWKWARD)
def test_awkward_file_names_round_trip_both_ways(titles: Titles, name: str) -> None:
    assert _valid(name)
    assert titles.file_name(uploaded(titles, name)) == name
    assert titles.file_name(edited(titles.file_title(name))) == name


@pytest.mark.parametrize("titles", TITLES, ids=IDS)
@given(name=names)
@example(name="clip.mp4")
@example(name="xvİdeo ı x264 ſ")
def test_a_file_name_round_trips_through_the_upload_title(titles: Titles, name: str) -> None:
    assert titles.file_name(uploaded(titles, name)) == name


@pytest.mark.parametrize("titles", TITLES, ids=IDS)
@given(name=names)
def test_a_file_name_round_trips_through_an_edit(titles: Titles, name: str) -> None:
    assert titles.file_name(edited(titles.file_title(name))) == name


@pytest.mark.parametrize("titles", TITLES, ids=IDS)
@given(name=names)
def test_no_title_vipfs_sends_holds_what_real_hosts_drop(titles: Titles, name: str) -> None:
    """Real hosts skip a `file/edit` or folder value holding `<`, `>` or `"` and answer
    "true" (the emulator's `edit_drops_markup`): no title may hold them."""
    for title in (titles.file_title(name), titles.folder_title(name)):
        assert not set('<>"\x00') & set(title), title


@pytest.mark.parametrize("titles", TITLES, ids=IDS)
@given(name=names)
@example(name="a")
@example(name="1")
@example(name="＼")
def test_a_folder_name_round_trips_through_create_and_edit(titles: Titles, name: str) -> None:
    kept = edited(titles.folder_title(name))
    assert len(kept) >= 2, "the host refuses folder names under 2 characters"
    assert titles.folder_name(kept) == name


@pytest.mark.parametrize("name", ["a", "b", "1", "é", "映", "🎬"])
def test_one_character_folders_are_padded_with_a_lone_escape(name: str) -> None:
    titles = Titles()
    assert titles.folder_title(name) == name + "＼"
    assert titles.folder_name(name + "＼") == name


def test_a_host_title_without_a_video_extension_gets_the_default() -> None:
    assert Titles().file_name("big buck bunny") == "big buck bunny.mp4"
    assert Titles(default_extension="").file_name("big buck bunny") == "big buck bunny"
    assert Titles(default_extension=".mkv").file_name("big buck bunny") == "big buck bunny.mkv"


@pytest.mark.parametrize("title", ["clip.mkv", "clip.mp4", "clip.AVI", "a.b.webm"])
def test_a_host_title_with_a_video_extension_gets_none_added(title: str) -> None:
    assert Titles().file_name(title) == title


def test_a_trailing_lone_escape_says_no_extension() -> None:
    assert Titles().file_name("notes＼") == "notes"
    assert Titles().file_name("notes.txt＼") == "notes.txt"


def test_host_escapes_are_undone_in_a_listed_title() -> None:
    assert Titles().file_name("Tom &amp; Jerry &#40;1&#41;") == "Tom & Jerry (1).mp4"


def test_the_default_extension_is_left_out_of_the_title() -> None:
    assert Titles().file_title("clip.mp4") == "clip"
    assert Titles(default_extension=".mkv").file_title("clip.mkv") == "clip"


def test_a_name_without_a_video_extension_is_sent_marked() -> None:
    assert Titles().file_title("notes").endswith("＼")
    assert Titles().file_title("notes.txt").endswith("＼")


def test_a_rename_to_another_extension_is_carried_by_the_title() -> None:
    """`mv "big buck bunny.mp4" bbb.mkv`: the new title must read back as `bbb.mkv`."""
    titles = Titles()
    assert titles.file_name(edited(titles.file_title("bbb.mkv"))) == "bbb.mkv"
    bare = Titles(default_extension="")
    assert bare.file_name(edited(bare.file_title("bbb.mkv"))) == "bbb.mkv"


@given(title=st.text(max_size=80))
@example(title="")
@example(title=".")
@example(title="..")
@example(title="a/b")
@example(title="\x00")
@example(title="＼")
@example(title="&#47;")
@example(title="&#0;")
@example(title="&#46;&#46;")
def test_the_name_of_any_title_is_a_valid_filename(title: str) -> None:
    """Any host string maps to a path component (the length cut comes later, so only the
    byte count is not checked here)."""
    for titles in TITLES:
        for name in (titles.file_name(title), titles.folder_name(title)):
            assert name not in ("", ".", ".."), repr(title)
            assert "/" not in name and "\x00" not in name, repr(title)
            name.encode()  # no lone surrogate: the kernel takes bytes


def test_unsendable_name_is_a_value_error() -> None:
    assert issubclass(names_module.UnsendableName, ValueError)


@pytest.mark.parametrize("ch", ["\x01", "\t", "\n", "\r", "\x1b", "\x1f", "\x7f"])
def test_a_name_with_a_control_character_cannot_be_sent(ch: str) -> None:
    titles = Titles()
    unsendable = names_module.UnsendableName  # looked up here: a missing name fails one test
    with pytest.raises(unsendable):
        titles.file_title(f"bad{ch}name.mp4")
    with pytest.raises(unsendable):
        titles.folder_title(f"bad{ch}folder")


def _mount_titles(*argv: str) -> Titles:
    """`Options.titles` as `vipfs mount ARGV /mnt` would set it."""
    parser = argparse.ArgumentParser()
    mount.configure(parser)
    args = parser.parse_args([*argv, "/mnt"])
    config.apply(args, config.Remote("default", {}))
    return mount.mount_config(args, "45tzu7ub0wtftr6df").options.titles


def test_the_default_extension_is_a_mount_option() -> None:
    assert _mount_titles().default_extension == ".mp4"
    assert _mount_titles("--default-extension", "").default_extension == ""
    assert _mount_titles("--default-extension", ".mkv").default_extension == ".mkv"

"""The title encoding of `Titles`: a name comes back from the host's title alone.

The oracle is the emulator's `mangle` (the host's upload rules, §4, and its edit escaping,
§6.9, written from the reference): whatever a user names a file or folder, the title vipfs
sends must survive both, and the listing must show the name again, on any machine.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from vipfs.emulator.mangle import NAMES_NOT_ALLOWED, secure_str, upload_title
from vipfs.emulator.mangle import VIDEO_EXTENSIONS as HOST_VIDEO_EXTENSIONS
from vipfs.vfs.names import VIDEO_EXTENSIONS, Titles, UnsendableName, is_valid, legacy_title

T = Titles()
DAMAGED = '.._<>"#\\&;  '
STAND_INS = "．＿＜＞＂＃⧵＆␠＼／"

# Filenames a user can create without control characters, heavy in what the host damages.
PIECES = [*DAMAGED, *STAND_INS, " x264 ", "XviD", "warez", "xVideo", ".mp4", ".MKV", "&lt;"]
names = (
    st.lists(
        st.one_of(
            st.sampled_from(PIECES),
            st.sampled_from(["\u3000", "\xa0", "\u2028", "é", "🎬", "ı", "İ", "(", ")", "#40"]),
            st.characters(blacklist_categories=("Cc", "Cs")),
        ),
        min_size=1,
        max_size=20,
    )
    .map("".join)
    .filter(lambda n: is_valid(n) and len(n.encode()) <= 200)
)


def uploaded(title: str) -> str:
    """The title as the upload node stores and the listing shows it."""
    return upload_title(title, "upload.mp4")


def edited(title: str) -> str:
    """The title as file/edit or folder/create stores it (None would be a silent drop)."""
    stored = secure_str(title)
    assert stored is not None, f"the host would drop {title!r}"
    assert not re.search(r'[<>"]', title), f"a real host drops {title!r}"
    return stored


SETTINGS = [Titles(), Titles(""), Titles(".mkv")]


@pytest.mark.parametrize("titles", SETTINGS, ids=["mp4", "none", "mkv"])
@given(name=names)
@example(name="My_clip.v2 <final> #1.mp4")
@example(name="  leading spaces.mp4")
@example(name="trailing\u3000.mp4")
@example(name="a x264 b h264 xvid.avi")
@example(name="x.mp4.mp4")
@example(name="＼")
@example(name=".mp4")
@example(name="ı")
@example(name="..mp4")
def test_a_file_name_survives_upload_and_edit(titles: Titles, name: str) -> None:
    title = titles.file_title(name)
    assert titles.file_name(uploaded(title)) == name
    assert titles.file_name(edited(title)) == name
    assert uploaded(title) == title  # nothing for the host to rewrite: no edit needed after


@given(name=names)
@example(name="a")
@example(name="Season_1.x")
@example(name="  ")
@example(name="x\u3000")
def test_a_folder_name_survives_create_and_edit(name: str) -> None:
    title = T.folder_title(name)
    assert len(title) >= 2
    assert T.folder_name(edited(title)) == name


@given(name=names)
def test_a_different_default_extension_reads_the_same_title(name: str) -> None:
    """Another machine with another setting shows the same name for every file with a video
    extension or none (only names ending in the sender's default extension differ)."""
    sent = Titles(".mkv").file_title(name)
    if not name.endswith(".mkv"):
        assert T.file_name(uploaded(sent)) == name


def test_examples() -> None:
    assert T.file_title("My_clip.v2 <final> #1.mp4") == "My＿clip．v2 ＜final＞ ＃1"
    assert T.file_title("clip.mp4") == "clip"
    assert T.file_title("clip.mkv") == "clip．mkv"
    assert T.file_title("notes") == "notes＼"
    assert T.file_title("  two.mp4") == "␠ two"
    assert T.file_title("a x264 b.mp4") == "a x＼264 b"
    assert T.file_title("my warez.mp4") == "my w＼arez"
    assert T.file_title("Tom & Jerry &amp.mp4") == "Tom & Jerry ＆amp"
    assert T.file_title("AC／DC.mp4") == "AC/DC"
    assert T.file_title("50％ ＼ off.mp4") == "50％ ＼＼ off"
    assert T.folder_title("a") == "a＼"
    assert T.folder_title("Season_1.x") == "Season_1.x"
    assert T.folder_title("b<c>") == "b＜c＞"
    assert T.file_name("big buck bunny") == "big buck bunny.mp4"
    assert T.file_name("movie.avi") == "movie.avi"
    assert T.file_name("Movie &#40;2021&#41;") == "Movie (2021).mp4"
    assert Titles("").file_name("big buck bunny") == "big buck bunny"
    assert T.folder_name("a＼") == "a"


def test_rename_reverses_the_default_extension() -> None:
    assert T.file_title("other.mp4") == "other"
    assert T.file_title("other.MP4") == "other．MP4"  # not the default: sent whole


@pytest.mark.parametrize("name", ["a\nb", "tab\t.mp4", "\x7f", "a\x85b", "bad\udcffbyte"])
def test_control_characters_are_refused(name: str) -> None:
    with pytest.raises(UnsendableName):
        T.file_title(name)
    with pytest.raises(UnsendableName):
        T.folder_title(name)
    assert issubclass(UnsendableName, ValueError)


def test_default_extension_is_normalised() -> None:
    assert Titles("mp4") == Titles(".mp4")


def test_video_extensions_match_the_hosts_list() -> None:
    assert VIDEO_EXTENSIONS == HOST_VIDEO_EXTENSIONS


def test_the_deleted_words_are_the_hosts() -> None:
    assert NAMES_NOT_ALLOWED.pattern == "(warez|xvideo)"


@pytest.mark.parametrize(
    ("exact", "title", "shown"),
    [
        ("My_clip.v2.mp4", "My_clip.v2", "My_clip.v2.mp4"),  # old vipfs's title: the db's name
        ("notes", "notes", "notes"),
        ("AC ／ DC.mkv", "AC / DC", "AC ／ DC.mkv"),
        ("notes", "new title", "new title.mp4"),  # retitled on the host: the host's name
        ("", "notes", "notes.mp4"),
    ],
)
def test_legacy_names_stay_until_retitled(exact: str, title: str, shown: str) -> None:
    assert T.listed_file_name(title, exact) == shown


def test_legacy_title_is_old_vipfs_title() -> None:
    assert legacy_title("My_clip.v2.mp4") == "My_clip.v2"
    assert legacy_title("AC ／ DC.mp4") == "AC / DC"
    assert legacy_title(".hidden") == ".hidden"

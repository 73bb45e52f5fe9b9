"""The title rules of vipfs/vfs/names.py: a file's title, the upload token in it, HTML escaping.

The upload token is how vipfs proves a host file its own after a lost answer, so it must come
back out of a title exactly, for any name a user can give, even after the upload node rewrote
the title (the emulator's `mangle.upload_title` is the host's rule, written from the reference).
"""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from vipfs.emulator.mangle import upload_title
from vipfs.vfs.names import (
    TOKEN_PREFIX,
    Titles,
    as_listed,
    host_text,
    is_valid,
    legacy_title,
    new_token,
    title_token,
    tokened_title,
)

AWKWARD = [
    "My_clip.v2.mp4",
    "AC ／ DC.mp4",
    "クリップ 第1話.mkv",
    "  spaces  around  .mp4",
    "no extension",
    "dots...in...it.avi",
    "ends with a dot.",
    ".hidden.mp4",
    "a.b.c.d.e",
    "tab\tand\nnewline.mp4",
    "x264 h264 divx.mp4",
    '<b>&amp; "quoted" #1</b>.webm',
    "emoji 🎬.mov",
    "warez xvideo.mp4",
]

# filenames a user can create (what the kernel hands vipfs), heavy in the characters that matter
names = st.text(
    alphabet=st.one_of(
        st.sampled_from([".", "_", " ", "\t", "&", "<", '"', "#", "／", "＼", "-", "x", "4"]),
        st.characters(blacklist_categories=("Cs",)),
    ),
    min_size=1,
    max_size=60,
).filter(is_valid)


def test_file_title_drops_only_the_extension() -> None:
    assert legacy_title("My_clip.v2.mp4") == "My_clip.v2"
    assert legacy_title("AC ／ DC.mp4") == "AC / DC"  # decoded like a folder name
    assert legacy_title("no extension") == "no extension"
    assert legacy_title(".hidden") == ".hidden"  # a dot file has no extension to drop


def test_folder_title_is_the_readable_name() -> None:
    assert Titles().folder_title("AC ／ DC") == "AC / DC"
    assert Titles().folder_title("x.mp4") == "x.mp4"  # folders keep every dot


def test_new_token_shape() -> None:
    tokens = {new_token() for _ in range(50)}
    assert len(tokens) == 50
    for token in tokens:
        assert re.fullmatch(r"vipfs-[0-9a-f]{12}", token), token
        assert token.startswith(TOKEN_PREFIX)
    assert TOKEN_PREFIX == "vipfs-"


@pytest.mark.parametrize("name", AWKWARD)
def test_the_token_comes_back_out_of_the_title(name: str) -> None:
    token = new_token()
    title = tokened_title(name, token)
    assert title.startswith(legacy_title(name))
    assert title_token(title) == token
    assert title_token(upload_title(title, name)) == token  # as the upload node keeps it


@given(names)
def test_the_token_survives_any_name(name: str) -> None:
    token = new_token()
    assert title_token(tokened_title(name, token)) == token
    assert title_token(upload_title(tokened_title(name, token), name)) == token


def test_a_title_without_words_has_no_token() -> None:
    assert title_token("") == ""
    assert title_token("   ") == ""


@pytest.mark.parametrize("text", ["<", ">", "&", '"', 'Tom & Jerry <live> "1"', "&amp;", "&#40;"])
def test_host_text_undoes_as_listed(text: str) -> None:
    assert host_text(as_listed(text)) == text


def test_as_listed_escapes_like_the_host_lists() -> None:
    assert as_listed("a<b>&c") == "a&lt;b&gt;&amp;c"
    assert as_listed('"quoted"') == '"quoted"'  # quote=False: the host lists quotes as sent
    assert host_text("Tom &amp; Jerry &#40;1&#41;") == "Tom & Jerry (1)"


@given(st.text(max_size=60))
def test_host_text_undoes_as_listed_for_any_text(text: str) -> None:
    assert host_text(as_listed(text)) == text


@given(names)
def test_a_folder_made_by_mkdir_lists_under_its_name(name: str) -> None:
    """mkdir sends `folder_title(name)`, the host lists it escaped, the mount shows
    `folder_name` of that: the user must find the folder under the name they typed."""
    assume(not any(unicodedata.category(c) == "Cc" for c in name))  # refused: EINVAL
    titles = Titles()
    assert titles.folder_name(as_listed(titles.folder_title(name))) == name

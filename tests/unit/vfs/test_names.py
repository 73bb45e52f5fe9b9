"""Host title → filename: always valid, never hiding a duplicate (the codec: test_names_titles)."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from vipfs.vfs.names import NAME_MAX, Entry, Titles, assign_names, file_order, fit, is_valid

T = Titles()

# Host titles heavy in the characters the encoding cares about.
tricky = st.text(
    alphabet=st.one_of(
        st.sampled_from(["/", ".", "\0", "\n", "\x7f", "／", "．", "＼", "␀", "␟", "␡", "&", ";"]),
        st.characters(),
    ),
    max_size=40,
)


@given(tricky)
def test_any_host_title_gives_a_valid_name(title: str) -> None:
    assert is_valid(fit(T.file_name(title)))
    assert is_valid(fit(T.folder_name(title)))
    assert is_valid(fit(Titles("").file_name(title)))


def test_host_strings_a_filename_cannot_hold() -> None:
    assert T.folder_name("a/b") == "a／b"
    assert T.folder_name("..") == "．．"
    assert T.folder_name(".") == "．"
    assert T.folder_name("...") == "..."
    assert T.folder_name("x\ny") == "x␊y"
    assert T.folder_name("Tom &amp; Jerry &#40;1&#41;") == "Tom & Jerry (1)"
    assert T.folder_name("") == "＼"
    assert T.folder_name("a\ud800b") == "a\ufffdb"
    assert T.file_name("") == "＼.mp4"  # visible, not a dot file


def test_long_names_are_cut_with_a_hash() -> None:
    a, b = "é" * 200 + "a", "é" * 200 + "b"
    fa, fb = fit(a), fit(b)
    assert len(fa.encode()) <= NAME_MAX and len(fb.encode()) <= NAME_MAX
    assert fa != fb
    assert fit(a, " [code].mp4").endswith(" [code].mp4")


def test_a_long_file_name_keeps_its_extension() -> None:
    long = Entry(("file", "k"), "é" * 200 + ".mkv", False, "k", (0, None, "k"))
    assert long.plain.endswith(".mkv") and len(long.plain.encode()) <= NAME_MAX
    assert long.labelled(" [k]")[1] == " [k].mkv"


def _file(code: str, title: str, minutes: int) -> Entry:
    when = datetime(2024, 1, 1) + timedelta(minutes=minutes)
    return Entry(("file", code), title, False, code, file_order(when, code))


def test_duplicates_oldest_keeps_plain_name() -> None:
    entries = [_file("ccc", "Show", 3), _file("aaa", "Show", 1), _file("bbb", "Show", 2)]
    names = assign_names(entries)
    assert names[("file", "aaa")] == "Show"
    assert names[("file", "bbb")] == "Show [bbb]"
    assert names[("file", "ccc")] == "Show [ccc]"
    assert assign_names(list(reversed(entries))) == names  # stable whatever the order


def test_file_beside_folder_takes_the_suffix() -> None:
    folder = Entry(("dir", 7), "Show", True, "fold7", (0, None, 7))
    names = assign_names([_file("aaa", "Show", 1), folder])
    assert names[("dir", 7)] == "Show"
    assert names[("file", "aaa")] == "Show [aaa]"


def test_reserved_and_literal_suffix_collisions() -> None:
    entries = [
        _file("aaa", ".vipfs", 1),
        _file("bbb", "x", 1),
        _file("ccc", "x", 2),
        _file("ddd", "x [ccc]", 0),
    ]
    names = assign_names(entries, reserved=[".vipfs"])
    assert names[("file", "aaa")] == ".vipfs [aaa]"
    assert len(set(names.values())) == 4


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "a [k1]", "b", "..", "/", "é" * 130]),
            st.integers(0, 5),
            st.booleans(),
        ),
        max_size=12,
    )
)
def test_names_are_unique_and_valid(spec: list[tuple[str, int, bool]]) -> None:
    entries = [
        Entry(("dir", i), T.folder_name(t), True, f"k{i}", (0, None, i))
        if is_dir
        else _file(f"k{i}", T.file_name(t), m)
        for i, (t, m, is_dir) in enumerate(spec)
    ]
    names = assign_names(entries, reserved=[".vipfs"])
    assert len(names) == len(entries)
    assert len(set(names.values())) == len(entries)
    assert ".vipfs" not in names.values()
    assert all(is_valid(n) for n in names.values())

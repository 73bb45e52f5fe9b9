"""Title → filename: reversible, always valid, never hiding a duplicate."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from vipfs.vfs.names import NAME_MAX, Entry, assign_names, decode, encode, file_order, fit, is_valid

# Titles heavy in the characters the encoding cares about.
tricky = st.text(
    alphabet=st.one_of(
        st.sampled_from(["/", ".", "\0", "\n", "\x7f", "／", "．", "＼", "␀", "␟", "␡", "&", ";"]),
        st.characters(),
    ),
    max_size=40,
)


@given(tricky.filter(lambda t: not any("\ud800" <= c <= "\udfff" for c in t)))
def test_round_trip(title: str) -> None:
    # encode unescapes HTML first, so compare against the decoded form of plain text
    assert decode(encode(title.replace("&", "&amp;"))) == title


@given(tricky)
def test_encoded_names_are_valid(title: str) -> None:
    assert is_valid(fit(encode(title)))


def test_examples() -> None:
    assert encode("a/b") == "a／b"
    assert encode("..") == "．．"
    assert encode(".") == "．"
    assert encode("...") == "..."
    assert encode("x\ny") == "x␊y"
    assert encode("Tom &amp; Jerry &#40;1&#41;") == "Tom & Jerry (1)"
    assert encode("a／b") == "a＼／b"
    assert decode("a＼／b") == "a／b"
    assert encode("") == "＼" and decode("＼") == ""
    assert encode("a\ud800b") == "a\ufffdb"


def test_long_names_are_cut_with_a_hash() -> None:
    a, b = "é" * 200 + "a", "é" * 200 + "b"
    fa, fb = fit(encode(a)), fit(encode(b))
    assert len(fa.encode()) <= NAME_MAX and len(fb.encode()) <= NAME_MAX
    assert fa != fb
    assert fit(encode(a), " [code].mp4").endswith(" [code].mp4")


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
        Entry(("dir", i), t, True, f"k{i}", (0, None, i)) if is_dir else _file(f"k{i}", t, m)
        for i, (t, m, is_dir) in enumerate(spec)
    ]
    names = assign_names(entries, reserved=[".vipfs"])
    assert len(names) == len(entries)
    assert len(set(names.values())) == len(entries)
    assert ".vipfs" not in names.values()
    assert all(is_valid(n) for n in names.values())

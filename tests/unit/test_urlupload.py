"""`vipfs url-upload`'s own parts: reading a URL list, and what it says of each URL."""

from __future__ import annotations

from vipfs.urlupload import outcome, parse


def test_a_list_skips_blanks_and_comments_and_reports_bad_lines_by_number() -> None:
    lines = [
        "# tonight\n",
        "\n",
        "http://h/a.mp4   A title  with spaces \n",
        "\thttps://h/b.mp4\tTabbed\n",
        "ftp://h/c.mp4\n",
        "http://h/d.mp4\n",
    ]
    got = list(parse(lines))
    assert [(n, url, title) for n, url, title, _ in got] == [
        (3, "http://h/a.mp4", "A title  with spaces"),
        (4, "https://h/b.mp4", "Tabbed"),
        (5, "ftp://h/c.mp4", None),
        (6, "http://h/d.mp4", None),
    ]
    assert [error is None for *_, error in got] == [True, True, False, True]


def test_what_the_command_says_follows_the_rows_the_mount_held() -> None:
    rows = [
        {"url": "http://h/a", "dir": "Clips", "state": "failed", "code": None},
        {"url": "http://h/a", "dir": "Clips", "state": "uploaded", "code": "abcdefghijkl"},
        {"url": "http://h/b", "dir": "Clips", "state": "fetching", "code": "bbbbbbbbbbbb"},
        {"url": "http://h/c", "dir": "Clips", "state": "failed", "code": None},
    ]
    assert outcome(rows, "http://h/a", "Clips") == "already uploaded as abcdefghijkl"
    assert outcome(rows, "http://h/b", "Clips") == "already queued"
    assert outcome(rows, "http://h/c", "Clips") == "retrying (was failed)"
    assert outcome(rows, "http://h/a", "") == "queued"  # another folder
    assert outcome(rows, "http://h/new", "Clips") == "queued"

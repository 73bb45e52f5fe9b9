"""The pure pieces: title mangling, SecureStr, tags, key files, and the multipart parser."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from vipfs.emulator import mangle, multipart
from vipfs.emulator.keys import KeyFileError, generate_key, read_key_file, user_id


@pytest.mark.parametrize(
    ("given", "filename", "title"),
    [
        (None, "big_buck_bunny.mp4", "big buck bunny"),
        (None, "The.Movie.2021.1080p.x264.mkv", "The Movie 2021 1080p"),
        (None, "a<b>#c.avi", "a b  c"),
        (None, "warez_xvideo clip.mp4", "clip"),
        (None, "noext", "noext"),
        ("My_Title.mp4", "ignored.avi", "My Title"),
        (None, "dir/clip.Xvid.avi", "clip"),
    ],
)
def test_upload_title(given: str | None, filename: str, title: str) -> None:
    assert mangle.upload_title(given, filename) == title


def test_secure_str() -> None:
    assert mangle.secure_str("Movie (2021)") == "Movie &#40;2021&#41;"
    assert mangle.secure_str('a<b>"c"\\..') == "a&lt;b&gt;&quot;c&quot;\\\\&#46;&#46;"
    assert mangle.secure_str("nul\x00") is None


def test_tags() -> None:
    assert mangle.clean_tags("Promo!, HQ, high  quality, promo, 4k") == ["promo", "high quality"]


def test_video_names() -> None:
    assert mangle.is_video_name("x.MP4") and mangle.is_video_name("song.mp3")
    assert not mangle.is_video_name("notes.txt") and not mangle.is_video_name("mp4")


def test_key_files(tmp_path: Path) -> None:
    path = tmp_path / "k"
    path.write_text("\n# c\nlogin = bob\n45tzu7ub0wtftr6df\nsecond line ignored\n")
    assert read_key_file(path) == ("45tzu7ub0wtftr6df", "bob")
    assert user_id("45tzu7ub0wtftr6df") == 4
    key = generate_key(12)
    assert user_id(key) == 12
    path.write_text("short\n")
    with pytest.raises(KeyFileError) as info:
        read_key_file(path)
    assert "short" not in str(info.value)


class Collect:
    def __init__(self) -> None:
        self.data = b""
        self.closed = False

    def write(self, data: bytes) -> None:
        self.data += data

    def close(self) -> None:
        self.closed = True


def parse(body: bytes, chunk: int) -> list[tuple[str, str | None, bytes]]:
    parts: list[tuple[multipart.Part, Collect]] = []

    def open_part(part: multipart.Part) -> Collect:
        sink = Collect()
        parts.append((part, sink))
        return sink

    multipart.parse(io.BytesIO(body).read, "frontier", open_part, chunk=chunk)
    assert all(sink.closed for _, sink in parts)
    return [(p.name, p.filename, s.data) for p, s in parts]


BODY = (
    b'preamble\r\n--frontier\r\nContent-Disposition: form-data; name="key"\r\n\r\nv1\r\n'
    b'--frontier\r\nContent-Disposition: form-data; name="file"; filename="a b.mp4"\r\n'
    b"Content-Type: video/mp4\r\n\r\n\r\n--frontie\r\nx--frontier\r\n"
    b'--frontier\r\nContent-Disposition: form-data; name=file; filename="e\\"q.mp4"\r\n\r\n'
    b"\r\n--frontier--\r\nepilogue"
)


@pytest.mark.parametrize("chunk", [1, 3, 7, 64, 65536])
def test_multipart_any_chunking(chunk: int) -> None:
    assert parse(BODY, chunk) == [
        ("key", None, b"v1"),
        ("file", "a b.mp4", b"\r\n--frontie\r\nx--frontier"),
        ("file", 'e"q.mp4', b""),
    ]


def test_multipart_truncated() -> None:
    with pytest.raises(multipart.MultipartError):
        parse(BODY[:120], 16)

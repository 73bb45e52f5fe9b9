"""Uploads: a streamed multipart body, lenient replies, and node refusals with their reasons."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from vipfs.api.errors import (
    AuthError,
    NotSentError,
    ProtocolError,
    TransientError,
    UploadRejectedError,
)
from vipfs.api.lowspeed import SpeedFloor
from vipfs.api.multipart import MultipartFile, safe_filename

from .fakehost import KEY, FakeHost, raw

NODE = "https://node.test/upload/01"


def parts(request: httpx.Request) -> dict[str, tuple[str | None, bytes]]:
    """name → (filename, content) of a multipart body."""
    boundary = request.headers["content-type"].split("boundary=")[1].encode()
    found: dict[str, tuple[str | None, bytes]] = {}
    for chunk in request.content.split(b"--" + boundary)[1:-1]:
        head, _, body = chunk[2:].partition(b"\r\n\r\n")
        disposition = head.decode().split("\r\n")[0]
        name = disposition.split('name="')[1].split('"')[0]
        filename = None
        if "filename=" in disposition:
            filename = disposition.split('filename="')[1].split('"')[0]
        found[name] = (filename, body[:-2])
    return found


def node_reply(body: str, status: int = 200) -> httpx.Response:
    return raw(body, status, **{"content-type": "application/json"})


@pytest.fixture
def video(tmp_path: Path) -> Path:
    path = tmp_path / "clip.mp4"
    path.write_bytes(bytes(range(256)) * 9000)  # 2.3 MB: several chunks
    return path


async def test_streams_the_file_with_fields_and_progress(video: Path) -> None:
    data = video.read_bytes()  # noqa: ASYNC240 (a test's own fixture file)
    host = FakeHost().on(
        "upload/01",
        node_reply(
            '{"msg":"OK","status":200,"files":[{"filecode":"u9150wqzvhxj","filename":"clip.mp4",'
            '"status":"OK"}]}'
        ),
    )
    seen: list[int] = []
    async with host.client() as api:
        uploaded = await api.upload_file(
            NODE,
            video,
            filename='my "best\\ clip.mp4',
            title="My clip",
            fld_id=25,
            public=False,
            tags="promo",
            progress=seen.append,
        )
    assert uploaded.code == "u9150wqzvhxj" and uploaded.ok
    [request] = host.requests
    assert int(request.headers["content-length"]) == len(request.content)
    sent = parts(request)
    assert sent["file"] == ("my best clip.mp4", data)
    assert sent["key"][1] == KEY.encode() and "api_key" not in sent
    assert sent["file_title"][1] == b"My clip" and sent["fld_id"][1] == b"25"
    assert sent["file_public"][1] == b"0" and sent["tags"][1] == b"promo"
    assert "file_adult" not in sent
    assert seen == sorted(seen) and seen[-1] == len(data) and len(seen) >= 3


async def test_body_is_produced_in_bounded_chunks(video: Path) -> None:
    body = MultipartFile([("key", "k")], "file", video, "clip.mp4", chunk_size=4096)
    sizes = [len(chunk) async for chunk in body.chunks()]
    assert max(sizes[1:-1]) == 4096
    assert sum(sizes) == body.length


async def test_body_reports_each_hand_over_for_the_low_speed_floor(video: Path) -> None:
    """The pace of an upload is the body bytes taken by the transport, chunk by chunk."""
    body = MultipartFile([("key", "k")], "file", video, "clip.mp4", chunk_size=65536)
    moved: list[int] = []
    body.watch(moved.append)
    taken = 0
    async for chunk in body.chunks():
        assert moved[-1:] == ([taken] if taken else [])  # reported only once handed over
        taken += len(chunk)
    assert moved[-1] == taken == body.length
    assert moved == sorted(moved) and len(moved) >= body.file_size // 65536


def test_filename_sanitising() -> None:
    assert safe_filename('a"b\\c.mp4') == "abc.mp4"
    assert safe_filename("line\r\nbreak.mp4") == "line  break.mp4"
    assert safe_filename('""') == "upload.mp4"
    assert safe_filename("Ünïcode.mkv") == "Ünïcode.mkv"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        # hand-built JSON broken by a quote in the filename: the code is still recovered
        (
            '{"msg":"OK","status":200,"files":[{"filecode":"abcdefabcdef","filename":"a"b.mp4",'
            '"status":"OK"}]}',
            "abcdefabcdef",
        ),
        (
            '{"msg":"OK","status":200,"result":[{"file_code":"abcdefabcdef","status":"OK"}]}',
            "abcdefabcdef",
        ),
        (
            '{"msg":"OK","status":"200","files":[{"filecode":"abcdefabcdef","status":"OK"}]}',
            "abcdefabcdef",
        ),
        ('[{"file_code":"abcdefabcdef","file_status":"OK"}]', "abcdefabcdef"),
    ],
)
async def test_lenient_replies(video: Path, body: str, code: str) -> None:
    host = FakeHost().on("upload/01", node_reply(body))
    async with host.client() as api:
        assert (await api.upload_file(NODE, video, filename="a.mp4")).code == code


@pytest.mark.parametrize(
    "reason",
    [
        "Not video file (notes.txt)",
        "file is too big",
        "You are not allowed to upload files",
        "not enough disk space on your account",
        "video is too short",
    ],
)
async def test_per_file_refusal_keeps_the_server_reason(video: Path, reason: str) -> None:
    host = FakeHost().on(
        "upload/01",
        node_reply(
            f'{{"msg":"OK","status":200,"files":[{{"filecode":"","filename":"notes.txt",'
            f'"status":"{reason}"}}]}}'
        ),
    )
    async with host.client() as api:
        with pytest.raises(UploadRejectedError) as caught:
            await api.upload_file(NODE, video, filename="notes.txt")
    assert caught.value.reason == reason and caught.value.filename == "notes.txt"


@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        (
            node_reply(
                '{"msg":"OK","status":200,"files":[{"filecode":"","status":"fs.cgi error"}]}'
            ),
            TransientError,
        ),
        (
            node_reply('{"msg":"OK","status":200,"files":[{"filecode":"","status":"OK"}]}'),
            ProtocolError,
        ),
        (node_reply('{"msg":"OK","status":200,"files":[]}'), ProtocolError),
        (node_reply('{"msg":"Wrong auth","status":403}'), AuthError),
        (raw("<html>Bad Gateway</html>", 502), TransientError),
        (raw('<form><textarea name="fn">abc</textarea></form>'), TransientError),
        (httpx.ReadTimeout("slow"), TransientError),
    ],
)
async def test_failures(
    video: Path, reply: httpx.Response | Exception, kind: type[Exception]
) -> None:
    host = FakeHost().on("upload/01", reply)
    async with host.client() as api:
        with pytest.raises(kind):
            await api.upload_file(NODE, video, filename="clip.mp4")
    assert len(host.requests) == 1  # an upload that may have landed is never repeated


async def test_an_oversized_node_reply_fails_the_attempt_unread(video: Path) -> None:
    """A node answering megabytes (a hostile host, a proxy's page) is cut off, not kept."""
    padding = " " * (2 * 1024 * 1024)
    body = '{"msg":"OK","status":200,"files":[{"filecode":"abcdefabcdef","status":"OK"}]}'
    host = FakeHost().on("upload/01", node_reply(body + padding))
    async with host.client() as api:
        with pytest.raises(ProtocolError, match="reply larger than"):
            await api.upload_file(NODE, video, filename="clip.mp4")
    assert len(host.requests) == 1


async def test_upload_repeated_only_when_it_never_left(video: Path, autojump_clock: object) -> None:
    host = FakeHost().on(
        "upload/01",
        httpx.ConnectError("refused"),
        node_reply('{"msg":"OK","status":200,"files":[{"filecode":"abcdefabcdef","status":"OK"}]}'),
    )
    # The autojump clock leaps while a worker thread reads the file: no low-speed floor here.
    off = SpeedFloor(0)
    async with host.client(low_speed=off) as api:
        assert (await api.upload_file(NODE, video, filename="clip.mp4")).ok
    assert len(host.requests) == 2
    host = FakeHost().on("upload/01", httpx.ConnectError("refused"))
    async with host.client(retry_budget=3, low_speed=off) as api:
        with pytest.raises(NotSentError):
            await api.upload_file(NODE, video, filename="clip.mp4")

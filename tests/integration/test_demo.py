"""`vipfs demo`'s sample content as players see it: real videos, read through a mount."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.integration.conftest import Emulator, Mount, sh

pytestmark = pytest.mark.fuse


def test_the_demo_clips_are_videos(
    start_emulator: Callable[..., Emulator], start_mount: Callable[..., Mount]
) -> None:
    emulator = start_emulator("--seed-demo", "--enable", "direct_link")
    mount = start_mount(emulator)
    movies = sorted((mount.path / "Movies").iterdir())
    assert movies
    for movie in movies:
        probe = sh(
            "ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
            "stream=codec_name:format=duration", "-of", "default=nw=1", movie,
        )  # fmt: skip
        assert probe.returncode == 0, probe.stderr
        assert "codec_name=h264" in probe.stdout and "duration=1.0" in probe.stdout, probe.stdout
        assert "video" in sh("file", "-b", "--mime-type", movie).stdout

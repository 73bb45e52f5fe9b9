"""The demo's sample videos: shipped as package data, real MP4 files, every demo file one."""

from __future__ import annotations

import base64
from pathlib import Path

from vipfs.emulator.config import EmulatorConfig
from vipfs.emulator.demo import clips, demo_spec
from vipfs.emulator.server import Emulator


def test_clips_are_small_mp4_files() -> None:
    found = clips()
    assert len(found) >= 3 and len(set(found)) == len(found)
    for clip in found:
        assert clip[4:8] == b"ftyp" and len(clip) < 16 * 1024  # an ISO media file, a few KB


def test_every_demo_file_is_a_clip(tmp_path: Path) -> None:
    spec = demo_spec(Emulator(EmulatorConfig(data_dir=tmp_path / "d")).host)
    shipped = set(clips())
    assert spec["files"]
    assert all(base64.b64decode(f["content_b64"]) in shipped for f in spec["files"])

"""A running upload's rate, ETA and status text (issue 12, item 2), on a fake clock."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
from trio.testing import MockClock

from tests.unit.vfs.conftest import Env, eventually
from vipfs.vfs.metadb import Upload, UploadState
from vipfs.vfs.progress import Progress, RateMeter, human_eta, transfer_text
from vipfs.vfs.upload_status import status_of
from vipfs.vfs.uploads import UploadQueue
from vipfs.vfs.xattrs import queued_status


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_no_rate_until_two_samples_a_useful_time_apart() -> None:
    clock = Clock()
    meter = RateMeter(clock)
    assert (meter.sent, meter.rate()) == (0, None)
    meter.record(65_536)
    assert meter.rate() is None  # one sample
    clock.now += 0.1
    meter.record(131_072)
    assert meter.rate() is None  # two, but 0.1 s apart says nothing yet
    clock.now += 0.9
    meter.record(1_065_536)
    assert meter.rate() == pytest.approx(1_000_000.0)
    assert meter.sent == 1_065_536


def test_the_rate_follows_the_last_seconds_not_the_average() -> None:
    clock = Clock()
    meter = RateMeter(clock, window=5.0)
    sent = 0
    for _ in range(10):  # 10 s at 2 MB/s
        sent += 2_000_000
        clock.now += 1.0
        meter.record(sent)
    assert meter.rate() == pytest.approx(2_000_000.0)
    for _ in range(10):  # then 10 s at 0.5 MB/s: the window has forgotten the fast part
        sent += 500_000
        clock.now += 1.0
        meter.record(sent)
    assert meter.rate() == pytest.approx(500_000.0)


def test_a_stall_longer_than_the_window_has_no_rate_and_a_restart_forgets_the_old_one() -> None:
    clock = Clock()
    meter = RateMeter(clock, window=5.0)
    meter.record(0)
    clock.now += 2.0
    meter.record(4_000_000)
    assert meter.rate() == pytest.approx(2_000_000.0)
    clock.now += 3.0  # nothing moved for 3 s: the rate drops with it
    assert meter.rate() == pytest.approx(800_000.0)
    clock.now += 10.0
    assert meter.rate() is None
    meter.record(65_536)  # fewer bytes than before: the POST started over
    clock.now += 1.0
    meter.record(65_536 + 300_000)
    assert meter.rate() == pytest.approx(300_000.0)
    assert meter.sent == 365_536


def test_eta_is_what_is_left_at_the_rate() -> None:
    assert Progress(1_000, 11_000, 500.0).eta == pytest.approx(20.0)
    assert Progress(1_000, 11_000, None).eta is None
    assert Progress(1_000, 11_000, 0.0).eta is None  # a stall: no ETA, never infinity
    assert Progress(12_300_000, 33_000_000).percent == 37
    assert Progress(32_999_999, 33_000_000).percent == 99  # 100 only when all is sent
    assert Progress(5, 0).percent == 0


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(0, "0s"), (9.2, "10s"), (59.5, "1m00s"), (245, "4m05s"), (3599, "59m59s"),
     (3720, "1h02m"), (90_000, "25h00m"), (-3, "0s")],
)  # fmt: skip
def test_human_eta(seconds: float, shown: str) -> None:
    assert human_eta(seconds) == shown


def test_transfer_text_leaves_out_rate_and_eta_until_known() -> None:
    assert transfer_text(0, 33_000_000, None, None) == "0% 0.0/33.0 MB"
    assert (
        transfer_text(12_300_000, 33_000_000, 2_100_000, 10.0)
        == "37% 12.3/33.0 MB 2.1 MB/s ETA 10s"
    )
    assert transfer_text(500, 1_000, 2_100_000, None) == "50% 0.0/0.0 MB 2.1 MB/s"


def _row(state: UploadState, *, id: int = 1, size: int = 33_000_000, attempts: int = 0) -> Upload:
    return Upload(
        id=id,
        fld_id=0,
        name="a.mp4",
        spool=Path("/spool/1"),
        size=size,
        state=state,
        attempts=attempts,
        last_error="HTTP 502" if attempts else None,
    )


def test_the_status_xattr_of_an_uploading_file() -> None:
    row = _row(UploadState.UPLOADING)
    assert queued_status(row) == "uploading 0% 0.0/33.0 MB"
    running = Progress(12_300_000, 33_000_000, 2_100_000.0)
    assert queued_status(row, running) == "uploading 37% 12.3/33.0 MB 2.1 MB/s ETA 10s"
    assert queued_status(_row(UploadState.QUEUED), running) == "queued"
    retrying = queued_status(_row(UploadState.QUEUED, attempts=1))
    assert retrying == "retrying: HTTP 502 (1 attempt failed)"


def test_status_json_items_carry_total_rate_and_eta() -> None:
    rows = [_row(UploadState.UPLOADING, id=1), _row(UploadState.QUEUED, id=2, size=7)]
    running = {1: Progress(3_000_000, 33_000_000, 1_500_000.0)}
    queue = status_of(rows, running.get).to_json()
    (up,), (waiting,) = queue["uploading"], queue["queued"]
    assert (up["sent"], up["total"], up["rate"], up["eta"]) == (3_000_000, 33_000_000, 1.5e6, 20.0)
    assert (waiting["sent"], waiting["total"], waiting["rate"], waiting["eta"]) == (
        0,
        7,
        None,
        None,
    )


async def test_the_queue_reports_a_running_attempts_progress(
    env: Env, virtual_clock: MockClock
) -> None:
    env.api.upload_gate = trio.Event()  # the fake node takes half the file, then waits
    queue = await env.start(write_back=0)
    row = await env.new_file(queue, "clip.mp4")
    await queue.touch(row.id)
    await eventually(lambda: env.api.count("upload_file") == 1)
    size = len(b"video bytes")  # what env.new_file writes
    running = queue.progress(row.id)
    assert running is not None and (running.sent, running.total) == (size // 2, size)
    assert running.rate is None  # one sample: no rate yet
    (item,) = queue.status().uploading
    assert (item.sent, item.total, item.rate, item.eta) == (size // 2, size, None, None)
    line = queue_status_line(queue, row.id)
    assert line == "uploading 45% 0.0/0.0 MB"  # 5 of 11 bytes
    env.api.upload_gate.set()
    await eventually(lambda: len(env.done) == 1)
    assert queue.progress(row.id) is None


def queue_status_line(queue: UploadQueue, upload_id: int) -> str:
    row = queue.get(upload_id)
    assert row is not None
    return queued_status(row, queue.progress(upload_id))

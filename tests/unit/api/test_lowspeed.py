"""The low-speed floor: curl's --low-speed-limit over --low-speed-time, for one transfer."""

from __future__ import annotations

import math
from pathlib import Path

import httpx
import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from vipfs.api.client import XvsClient
from vipfs.api.errors import TooSlowError, TransientError
from vipfs.api.lowspeed import Pace, SpeedFloor

NODE = "https://node.test/upload/01"
OK = '{"msg":"OK","status":200,"files":[{"filecode":"abcdefabcdef","status":"OK"}]}'


def test_nothing_moving_is_too_slow_one_window_after_the_start() -> None:
    pace = Pace(SpeedFloor(1000, 10), now=100.0)
    assert pace.deadline() == 110.0
    pace.moved(999, 105.0)  # under limit * window: the first window still decides
    assert pace.deadline() == 110.0


def test_each_window_must_hold_limit_times_window_bytes() -> None:
    pace = Pace(SpeedFloor(1000, 10), now=0.0)
    pace.moved(6000, 2.0)
    pace.moved(6000, 4.0)  # 12000 in all: without more, the window (t-10, t] holds under
    assert pace.deadline() == 12.0  # 10000 bytes once the sample at 2 s leaves it
    pace.moved(20000, 5.0)
    assert pace.deadline() == 15.0
    pace.moved(10, 30.0)  # a trickle long after: still judged by what came at 5 s
    assert pace.deadline() == 15.0


def test_a_steady_transfer_at_the_limit_is_never_too_slow() -> None:
    pace = Pace(SpeedFloor(100, 5), now=0.0)
    for second in range(1, 100):
        pace.moved(100, float(second))
        assert pace.deadline() > second
    assert len(pace._samples) <= 7  # only the samples that can still decide are kept


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.floats(0, 3), st.integers(0, 400)), max_size=40),
    st.integers(1, 500),
    st.floats(0.5, 10),
)
def test_the_attempt_as_a_whole_is_bounded_by_its_size(
    moves: list[tuple[float, int]], limit: int, window: float
) -> None:
    """Whatever the pattern, an attempt of `size` bytes ends by window + size / limit."""
    size = sum(count for _, count in moves)
    pace = Pace(SpeedFloor(limit, window), now=0.0, size=size)
    now = 0.0
    for gap, count in moves:
        now += gap
        if now >= pace.deadline():
            break  # aborted here
        pace.moved(count, now)
        assert pace.deadline() <= window + size / limit


def test_a_limit_of_zero_turns_the_floor_off() -> None:
    pace = Pace(SpeedFloor(0, 5), now=0.0, size=10)
    pace.moved(1, 1.0)
    assert pace.deadline() == math.inf


def test_bad_floors_are_refused() -> None:
    with pytest.raises(ValueError):
        SpeedFloor(-1, 5)
    with pytest.raises(ValueError):
        SpeedFloor(100, 0)


def client(handler: object, floor: SpeedFloor) -> XvsClient:
    transport = httpx.MockTransport(handler)  # type: ignore[arg-type]
    return XvsClient("https://api.test", "k" * 20, transport=transport, low_speed=floor)


@pytest.fixture
def video(tmp_path: Path) -> Path:
    path = tmp_path / "clip.mp4"
    path.write_bytes(bytes(range(256)) * 1000)  # 256 kB: four chunks
    return path


async def test_an_upload_node_that_never_answers_is_aborted_as_too_slow(video: Path) -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        await trio.sleep_forever()
        raise AssertionError("unreachable")

    floor = SpeedFloor(1000, 0.3)
    started = trio.current_time()
    async with client(handler, floor) as api:
        with trio.fail_after(20), pytest.raises(TooSlowError) as caught:
            await api.upload_file(NODE, video, filename="clip.mp4")
    assert trio.current_time() - started >= 0.3
    assert isinstance(caught.value, TransientError)  # the queue retries it later
    assert "too slow: less than 1000 bytes/s for 0.3 s" in str(caught.value)


async def test_an_upload_moving_above_the_floor_completes(video: Path) -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        async for _ in request.stream:  # type: ignore[union-attr]
            await trio.sleep(0.02)  # ~3 MB/s: far above the floor
        return httpx.Response(200, text=OK, headers={"content-type": "application/json"})

    async with client(handler, SpeedFloor(1000, 2)) as api:
        with trio.fail_after(20):
            assert (await api.upload_file(NODE, video, filename="clip.mp4")).ok

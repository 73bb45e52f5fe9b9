"""The server's UTC offset, learned from `server_time`, and the quota windows it implies."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from vipfs.api.clock import ServerClock, seconds_to_midnight, seconds_to_next_minute

from .fakehost import FakeHost

NOW = datetime(2026, 11, 27, 10, 0, 0, tzinfo=UTC).timestamp()


def test_offset_is_rounded_to_quarter_hours() -> None:
    clock = ServerClock(wall=lambda: NOW)
    clock.learn(datetime(2026, 11, 27, 15, 30, 4))  # UTC+5:30, seconds of skew and latency
    assert clock.offset is not None and clock.offset.total_seconds() == 5.5 * 3600
    assert clock.server_to_epoch(datetime(2026, 11, 27, 15, 30, 0)) == NOW
    clock.learn(datetime(2026, 11, 27, 4, 59, 50))  # UTC-5, slightly behind
    assert clock.server_to_epoch(datetime(2026, 11, 27, 5, 0, 0)) == NOW


def test_utc_until_learned() -> None:
    clock = ServerClock(wall=lambda: NOW)
    assert clock.server_to_epoch(datetime(2026, 11, 27, 10, 0, 0)) == NOW
    assert clock.server_now() == datetime(2026, 11, 27, 10, 0, 0)


def test_windows() -> None:
    assert seconds_to_next_minute(datetime(2026, 1, 1, 0, 0, 59)) == 1
    assert seconds_to_next_minute(datetime(2026, 1, 1, 0, 0, 0)) == 60
    assert seconds_to_midnight(datetime(2026, 12, 31, 23, 0, 0)) == 3600


async def test_client_learns_from_every_reply() -> None:
    host = FakeHost().on(
        "account/info",
        httpx.Response(
            200,
            json={"status": 200, "msg": "OK", "server_time": "2026-11-27 12:00:00", "result": {}},
        ),
    )
    async with host.client(wall=lambda: NOW) as api:
        await api.account_info()
        assert api.server_to_epoch(datetime(2026, 11, 27, 12, 0, 0)) == NOW  # UTC+2

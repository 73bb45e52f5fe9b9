"""Per-account request quotas, as XVS counts them: a server-local calendar minute and day.

Owns: the per-account minute and day request counters (`Quota`).
Imports: the standard library only; never `vipfs.api` or `vipfs.vfs`.

The day counter is incremented before the minute check, so a call refused for the minute limit
still spends daily quota (a faithful bug: clients that hammer lose their day).
"""

from __future__ import annotations

import threading
from datetime import datetime, timezone


class Quota:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._minute: dict[int, tuple[str, int]] = {}
        self._day: dict[int, tuple[str, int]] = {}

    def spend(
        self, usr_id: int, now: float, tz: timezone, per_min: int, per_day: int
    ) -> tuple[str | None, int | None]:
        """Count one call. Returns (refusal msg or None, requests_available or None)."""
        if not per_min and not per_day:
            return None, None
        local = datetime.fromtimestamp(now, tz)
        day_key, minute_key = local.strftime("%Y-%m-%d"), local.strftime("%Y-%m-%d %H:%M")
        with self._lock:
            day = self._bump(self._day, usr_id, day_key)
            if per_day and day > per_day:
                return f"Requests limit reached: {per_day} per day", 0
            minute = self._bump(self._minute, usr_id, minute_key)
            if per_min and minute > per_min:
                return f"Requests limit reached: {per_min} per min", 0
        # With both limits set the per-minute figure is the one shown.
        left = per_min - minute if per_min else per_day - day
        return None, max(0, left)

    @staticmethod
    def _bump(table: dict[int, tuple[str, int]], usr_id: int, window: str) -> int:
        seen_window, count = table.get(usr_id, (window, 0))
        count = count + 1 if seen_window == window else 1
        table[usr_id] = (window, count)
        return count

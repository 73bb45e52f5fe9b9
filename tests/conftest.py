"""Settings every test shares.

Hypothesis runs without its per-example deadline: the examples here take microseconds, and on
a shared, loaded machine a deadline would measure the load, not the code (a flaky test).
"""

from __future__ import annotations

from hypothesis import settings

settings.register_profile("vipfs", deadline=None)
settings.load_profile("vipfs")

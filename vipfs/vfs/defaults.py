"""Built-in defaults that the model and the mount's option table share, written once.

Owns: the default value of every setting that both `vipfs.vfs` and the option table need.
Imports: nothing.
"""

from __future__ import annotations

DIR_CACHE_TIME = 300.0  # seconds a folder listing is fresh
OP_TIMEOUT = 25.0  # seconds an interactive call may wait on the API (then EIO)
WRITE_BACK = 5.0  # seconds after the last close before a file uploads
TRANSFERS = 4  # uploads at once
HOLD_IDLE = 3600.0  # seconds a held temp name waits before it uploads anyway
ATTR_TIMEOUT = 1.0  # seconds the kernel caches names and attributes (fuse_ops)
CACHE_MAX_SIZE = 10 << 30  # bytes the read cache may hold
ENCODING_POLL = 30.0  # seconds between file/encodings polls while an upload is not ready
TAKEDOWN_POLL = 300.0  # seconds between file/dmca + file/deleted polls

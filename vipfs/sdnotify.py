"""systemd's readiness protocol (`Type=notify`), spoken with a plain datagram socket.

Owns: systemd readiness notifications (`READY`, `STOPPING`, `STATUS`).
Imports: the standard library only.

systemd passes a unix socket in `$NOTIFY_SOCKET` (a path, or `@name` for the abstract namespace)
and reads `KEY=value` lines from it: `READY=1` once the mount answers, so units ordered after it
(and `systemctl start`) wait for a usable mount; `STOPPING=1` while the queue drains; `STATUS=`
for `systemctl status`. Outside systemd the variable is unset and every call is a cheap no-op.
A notification that cannot be sent is logged, never raised: it must not take the mount down.
"""

from __future__ import annotations

import logging
import os
import socket

log = logging.getLogger("vipfs.sdnotify")


def notify(*fields: str) -> bool:
    """Send `fields` (such as "READY=1", "STATUS=...") as one message; True if it was sent."""
    target = os.environ.get("NOTIFY_SOCKET", "")
    if not target or not fields:
        return False
    if target.startswith("@"):
        address = "\0" + target[1:]
    elif target.startswith("/"):
        address = target
    else:  # vsock and other forms systemd may use: not spoken here
        log.debug("NOTIFY_SOCKET %r is not a unix socket path; not notifying", target)
        return False
    message = "\n".join(fields).encode()
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(message)
    except OSError as exc:
        log.warning("cannot notify systemd at %s: %s", target, exc)
        return False
    return True


def ready(status: str) -> bool:
    return notify("READY=1", f"STATUS={status}")


def stopping(status: str) -> bool:
    return notify("STOPPING=1", f"STATUS={status}")


def status(text: str) -> bool:
    return notify(f"STATUS={text}")

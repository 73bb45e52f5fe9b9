"""Where the key may travel over plain http: only to this machine.

Owns: the rule of where an `http://` URL may carry the key, and upgrading node URLs to https.
Imports: the standard library only.

Every API call and every upload carries the key, so an `http://` URL sends it in clear to
anyone on the path. An `http://` API URL is refused unless it names this machine (the
emulator, a local proxy). When the API is https, an `http://` upload node URL (real hosts
answer `upload/server` with one) is upgraded to https on the same host and port (an absent
port becomes 443, https's own); so is one naming another machine when the API is local plain
http. A node that cannot speak https then fails the attempt, which is retried later and shown
in `vipfs status`, and the key never goes out in clear.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit, urlunsplit

LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


class InsecureUrlError(ValueError):
    """An `http://` API URL for another machine; the message is the line for the user."""


def is_local(host: str) -> bool:
    """True for a name or address of this machine (loopback only, never a LAN address)."""
    host = host.strip("[]").lower().rstrip(".")
    if host in LOCAL_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_api_url(api_url: str) -> None:
    """Refuse an API URL that would send the key in clear to another machine."""
    parts = urlsplit(api_url.strip())
    if parts.scheme.lower() == "http" and not is_local(parts.hostname or ""):
        secure = urlunsplit(parts._replace(scheme="https"))
        raise InsecureUrlError(
            f"refusing to send the API key in clear to {parts.hostname}: the API URL "
            f"{api_url} is plain http; use {secure}"
        )


def secure_node_url(api_url: str, node_url: str) -> tuple[str, bool]:
    """The URL to upload to, and whether it was upgraded from `http://`: always when the API
    is https, and for a node on another machine even when the API is local plain http."""
    node = urlsplit(node_url)
    if node.scheme.lower() != "http":
        return node_url, False
    if urlsplit(api_url).scheme.lower() != "https" and is_local(node.hostname or ""):
        return node_url, False
    return urlunsplit(node._replace(scheme="https")), True  # same host and port


def node_name(node_url: str) -> str:
    """The node's host[:port], for messages (never its path or query, which may hold tokens)."""
    netloc = urlsplit(node_url).netloc
    return netloc.rsplit("@", 1)[-1] or "?"

"""Credentials go only to the origins the user configured (issue 21).

An origin is (scheme, host, port). A provider's ``OriginGuard`` starts with the endpoints
of its cloud's configuration and may learn those the cloud's identity service returns (the
Keystone catalog); a page link or an operation URL on any other origin is refused before a
byte is sent to it, because it would carry the bearer token, signature or API key there.
"""

from __future__ import annotations

import threading
import time
from typing import Callable, Iterable

from cloudmesh.compute.errors import CloudError

_DEFAULT_PORTS = {"https": 443, "http": 80}


def origin_of(url: str) -> tuple[str, str, int]:
    """``(scheme, host, port)`` of ``url``: scheme and host lowercased, the port defaulted
    (443 for https, 80 for http). CloudError for text that is not an absolute URL."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(str(url).strip())
        port = parts.port
    except ValueError as error:
        raise CloudError(f"not a URL cms can check: {str(url)[:80]!r} ({error})") from None
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if not scheme or not host:
        raise CloudError(f"not an absolute URL: {str(url)[:80]!r}")
    return scheme, host, port if port is not None else _DEFAULT_PORTS.get(scheme, 0)


def _show(origin: tuple[str, str, int]) -> str:
    scheme, host, port = origin
    return f"{scheme}://{'[' + host + ']' if ':' in host else host}:{port}"


class OriginGuard:
    """The origins one cloud's credentials may go to. ``check(url)`` raises CloudError for
    any other; thread-safe. A guard that allows nothing refuses everything."""

    def __init__(self, allowed: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._allowed: set[tuple[str, str, int]] = set()
        for url in allowed:
            self.allow(url)

    def allow(self, url: str) -> None:
        """Add the origin of a configured endpoint, or of a service the cloud's identity
        service returned."""
        origin = origin_of(url)
        with self._lock:
            self._allowed.add(origin)

    def allows(self, url: str) -> bool:
        try:
            origin = origin_of(url)
        except CloudError:
            return False
        with self._lock:
            return origin in self._allowed

    def check(self, url: str) -> str:
        """``url`` if its origin is allowed; else CloudError naming the origin."""
        origin = origin_of(url)
        with self._lock:
            if origin in self._allowed:
                return url
            allowed = ", ".join(sorted(_show(o) for o in self._allowed)) or "none allowed yet"
        raise CloudError(f"refused to send credentials to {_show(origin)}: not the endpoint "
                         f"configured for this cloud ({allowed})",
                         "the cloud named a link on another host; report it to its operator",
                         code="origin-refused")

    def __repr__(self) -> str:
        with self._lock:
            return f"OriginGuard({sorted(_show(o) for o in self._allowed)})"


def retry_after_seconds(value: str | None, cap: float = 60,
                        now: Callable[[], float] = time.time) -> float | None:
    """A Retry-After header as seconds to wait: a number of seconds or an HTTP date,
    capped at ``cap``. None for no header, a negative number or unreadable text; a date in
    the past is 0."""
    if value is None:
        return None
    text = str(value).strip()
    try:
        seconds = float(text)
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        seconds = max(0.0, when.timestamp() - now())
    if seconds != seconds or seconds < 0:  # NaN or negative
        return None
    return min(seconds, float(cap))

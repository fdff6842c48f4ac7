"""``poll_until``: the one polling loop of cms (long-running operations, waits).

One backoff (the interval doubles up to ``max_interval``), one deadline (never slept past),
a failed operation as a CloudError with the cloud's message, and a Retry-After hint honoured
only up to ``RETRY_AFTER_CAP`` seconds (a server asking for a day is not obeyed).
"""

from __future__ import annotations

import time
from typing import Callable, TypeVar

from cloudmesh.compute.errors import CloudError, WaitTimeout

T = TypeVar("T")

#: the longest a Retry-After hint may make cms wait between two polls, in seconds
RETRY_AFTER_CAP = 60.0


def poll_until(fetch: Callable[[], T], done: Callable[[T], bool], *, timeout: float,
               what: str, failed: Callable[[T], str | None] | None = None,
               interval: float = 1.0, max_interval: float = 10.0,
               retry_after: Callable[[T], float | None] | None = None,
               clock: Callable[[], float] = time.monotonic,
               sleep: Callable[[float], None] = time.sleep) -> T:
    """Call ``fetch()`` until ``done(result)``; return that result.

    ``failed(result)`` returning a message ends the wait with CloudError(message) (an
    operation the cloud reports as failed). Between polls cms sleeps ``interval`` seconds,
    doubling up to ``max_interval``, or what ``retry_after(result)`` asks (capped at
    RETRY_AFTER_CAP; negative or None ignored), never past the deadline: after ``timeout``
    seconds WaitTimeout (a CloudError) names ``what`` and the seconds.
    """
    deadline = clock() + timeout
    delay = max(0.0, interval)
    while True:
        result = fetch()
        if failed is not None:
            message = failed(result)
            if message:
                raise CloudError(f"{what} failed: {message}")
        if done(result):
            return result
        pause = delay
        if retry_after is not None:
            hint = _usable_hint(retry_after(result))
            if hint is not None:
                pause = hint
        left = deadline - clock()
        if left <= 0:
            raise WaitTimeout(f"{what} did not finish within {timeout:g} s",
                              "raise the timeout or check the cloud's console")
        sleep(min(pause, left))
        delay = min(max_interval, max(delay * 2, 0.1))


def _usable_hint(seconds: object) -> float | None:
    """A Retry-After hint in seconds, capped; None for a missing, negative or odd one."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        return None
    if seconds != seconds or seconds < 0:  # NaN or negative
        return None
    return min(float(seconds), RETRY_AFTER_CAP)

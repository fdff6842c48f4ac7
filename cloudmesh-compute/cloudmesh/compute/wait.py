"""A generic ``wait_for``, as openstacksdk's ``wait_for_server`` is, on the kit's one
polling loop (``cloudmesh.compute.kit.polling.poll_until``)."""

from __future__ import annotations

from typing import Callable, Iterable

from cloudmesh.compute.errors import CloudError, NotFound, WaitTimeout
from cloudmesh.compute.kit.polling import poll_until

Progress = Callable[[dict, float], None]


def wait_for(fetch: Callable[[], dict], status: str | Iterable[str], timeout: float = 600,
             interval: float = 2, progress: Progress | None = None,
             what: str = "resource", gone_ok: bool = False) -> dict:
    """Call ``fetch()`` until the record's ``status`` is one of ``status``.

    ``progress(record, elapsed)`` is called whenever the status changes. A record in
    status ``error`` ends the wait with CloudError; ``gone_ok`` treats NotFound as
    success (waiting for a deleted VM). Raises WaitTimeout after ``timeout`` seconds.
    """
    import time

    wanted = {status} if isinstance(status, str) else set(status)
    start = time.monotonic()
    seen: dict = {"status": None}

    def fetch_record() -> dict:
        try:
            record = fetch()
        except NotFound:
            if gone_ok:
                return {"status": "terminated"}
            raise
        if record.get("status") != seen["status"]:
            seen["status"] = record.get("status")
            if progress:
                progress(record, time.monotonic() - start)
        return record

    def reached(record: dict) -> bool:
        if record.get("status") in wanted:
            return True
        if record.get("status") == "error" and "error" not in wanted:
            raise CloudError(f"{what} went into status error "
                             f"(cloud state: {record.get('state')})")
        return False

    try:
        # a fixed interval: a person watching a VM boot wants to see it as soon as it is up
        return poll_until(fetch_record, reached, timeout=timeout, what=what,
                          interval=interval, max_interval=interval)
    except WaitTimeout:
        raise WaitTimeout(
            f"timed out after {timeout:g}s waiting for {what} to be "
            f"{'/'.join(sorted(wanted))} (last status: {seen['status']})",
            "raise --timeout or check the cloud's console") from None

"""A generic ``wait_for``, as openstacksdk's ``wait_for_server`` is."""

from __future__ import annotations

import time
from typing import Callable, Iterable

from cloudmesh.compute.errors import CloudError, NotFound, WaitTimeout

Progress = Callable[[dict, float], None]


def wait_for(fetch: Callable[[], dict], status: str | Iterable[str], timeout: float = 600,
             interval: float = 2, progress: Progress | None = None,
             what: str = "resource", gone_ok: bool = False) -> dict:
    """Call ``fetch()`` until the record's ``status`` is one of ``status``.

    ``progress(record, elapsed)`` is called whenever the status changes. A record in
    status ``error`` ends the wait with CloudError; ``gone_ok`` treats NotFound as
    success (waiting for a deleted VM). Raises WaitTimeout after ``timeout`` seconds.
    """
    wanted = {status} if isinstance(status, str) else set(status)
    start = time.monotonic()
    last_status = None
    record: dict = {}
    while True:
        try:
            record = fetch()
        except NotFound:
            if gone_ok:
                return {"status": "terminated"}
            raise
        elapsed = time.monotonic() - start
        if record.get("status") != last_status:
            last_status = record.get("status")
            if progress:
                progress(record, elapsed)
        if last_status in wanted:
            return record
        if last_status == "error" and "error" not in wanted:
            raise CloudError(f"{what} went into status error (cloud state: {record.get('state')})")
        if elapsed + interval > timeout:
            raise WaitTimeout(
                f"timed out after {timeout:g}s waiting for {what} to be {'/'.join(sorted(wanted))} "
                f"(last status: {last_status})", "raise --timeout or check the cloud's console")
        time.sleep(interval)

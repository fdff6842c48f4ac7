"""Deadlines: ``cm.timeout`` bounds a whole request (connect, slow reads, the SDK's own
retries), not each read. An endpoint that sends one byte a second defeats a read timeout;
``bounded`` runs the call in a daemon thread and gives up on it when the deadline passes
(the stuck thread is abandoned; the command ends)."""

from __future__ import annotations

import threading
import time
from typing import Callable, TypeVar

from cloudmesh.compute.errors import CloudError

T = TypeVar("T")


def _late(what: str, seconds: float) -> CloudError:
    return CloudError(f"no answer from {what} within {seconds:g} s (cm.timeout)",
                      "raise cm.timeout in cloudmesh.yaml, or try later", retryable=False,
                      code="deadline")


class Deadline:
    """A point in time ``seconds`` from now."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = float(seconds)
        self._clock = clock
        self._end = clock() + self.seconds

    def remaining(self) -> float:
        """Seconds left, never below 0."""
        return max(0.0, self._end - self._clock())

    def expired(self) -> bool:
        return self._clock() >= self._end

    def check(self, what: str) -> None:
        """CloudError "no answer from <what> within N s (cm.timeout)" once expired."""
        if self.expired():
            raise _late(what, self.seconds)

    def bounded(self, call: Callable[[], T], what: str) -> T:
        """``call()`` bounded by what is left of this deadline."""
        self.check(what)
        return _run_bounded(call, self.remaining(), what, self.seconds)


def bounded(call: Callable[[], T], seconds: float, what: str) -> T:
    """The result of ``call()``, run in a daemon thread; its exception is raised here.
    When ``seconds`` pass first, CloudError "no answer from <what> within N s
    (cm.timeout)" (the thread is left to end on its own)."""
    return _run_bounded(call, seconds, what, seconds)


def _run_bounded(call: Callable[[], T], seconds: float, what: str, shown: float) -> T:
    """``bounded``, naming ``shown`` seconds (the whole deadline) when it gives up."""
    import contextvars

    outcome: dict[str, object] = {}
    context = contextvars.copy_context()

    def run() -> None:
        try:
            outcome["value"] = context.run(call)
        except BaseException as error:  # noqa: BLE001 - handed to the caller as it is
            outcome["error"] = error

    worker = threading.Thread(target=run, name=f"cms-bounded {what}"[:60], daemon=True)
    worker.start()
    worker.join(max(0.0, seconds))
    if worker.is_alive():
        raise _late(what, shown)
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]

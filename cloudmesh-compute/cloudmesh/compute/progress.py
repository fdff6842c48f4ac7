"""Progress of a wait on stderr (``cms vm wait``, ``boot --wait``, ``stop --wait``):
every status change as a line and the elapsed time in between."""

from __future__ import annotations

import sys


def _tick_seconds(default: float = 5.0) -> float:
    """CMS_PROGRESS_INTERVAL (seconds, > 0), read once: tests set it small instead of
    waiting for the 5 s tick; an unreadable value keeps the default."""
    import os

    try:
        value = float(os.environ.get("CMS_PROGRESS_INTERVAL", default))
    except ValueError:
        return default
    return value if 0 < value < float("inf") else default


#: seconds between two "still waiting" reports while no status changes
TICK = _tick_seconds()


class WaitProgress:
    """Progress of a wait on stderr: every status change as a line, and in between the
    elapsed time at least every TICK seconds, as one updating line at a terminal (plain
    lines when stderr is a file or a pipe). ``with WaitProgress() as progress:`` and pass
    ``progress`` as the facade's progress callback."""

    def __init__(self, action: str = "", target: str = "") -> None:
        import threading

        self.action, self.target = action, target
        self.statuses: dict[str, str] = {}
        self.started = 0.0
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.tty = sys.stderr.isatty()
        self.pending = False  # an updating line is on the terminal

    def __call__(self, name: str, record: dict, elapsed: float) -> None:
        status = str(record.get("status"))
        with self.lock:
            self.statuses[name] = status
            self._clear()
            print(f"{name}: {status}{' ' + self.action if self.action else ''} "
                  f"({elapsed:.0f}s)", file=sys.stderr, flush=True)

    def _clear(self) -> None:
        if self.pending:
            sys.stderr.write("\r\x1b[K")
            self.pending = False

    def _tick(self) -> None:
        import time

        while not self.done.wait(TICK):
            elapsed = time.monotonic() - self.started
            seen = ", ".join(f"{n} {s}" for n, s in sorted(self.statuses.items())) or \
                "no answer yet"
            goal = f" for {self.target}" if self.target else ""
            text = f"waiting{goal}: {elapsed:.0f}s ({seen})"
            with self.lock:
                try:
                    if self.tty:
                        sys.stderr.write("\r\x1b[K" + text[:200])
                        self.pending = True
                    else:
                        sys.stderr.write(text + "\n")
                    sys.stderr.flush()
                except (OSError, ValueError):  # stderr closed: nothing to show it on
                    return

    def __enter__(self) -> WaitProgress:
        import threading
        import time

        self.started = time.monotonic()
        threading.Thread(target=self._tick, name="cms-progress", daemon=True).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.done.set()
        with self.lock:
            self._clear()
            try:
                sys.stderr.flush()
            except (OSError, ValueError):
                pass


#: what 'cms vm wait --state' takes: the normalised statuses (records.VM_STATUSES, docs/architecture.md) and 'ssh'
WAIT_STATES = ("booting", "running", "stopping", "stopped", "suspended", "rebooting",
               "deleting", "terminated", "error", "unknown", "ssh")

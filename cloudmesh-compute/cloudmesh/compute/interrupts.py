"""Ctrl-C for the process: the first one raises KeyboardInterrupt (a command stops and
says "interrupted"), a second one while cms is stopping ends the process at once.

Only the process entry (:mod:`cloudmesh.compute.main`) installs the handler; the dispatch
and the ``cms>`` shell call :func:`reset` so that the next ^C counts as a first one again.
"""

from __future__ import annotations

import os

from cloudmesh.compute.errors import EXIT_INTERRUPTED

_interrupted = False


def _on_interrupt(signum: int, frame: object) -> None:
    global _interrupted
    if _interrupted:
        os.write(2, b"interrupted\n")
        os._exit(EXIT_INTERRUPTED)
    _interrupted = True
    raise KeyboardInterrupt


def install() -> None:
    """Take over SIGINT unless someone else (an embedding program) already has."""
    # _signal, not signal: the signal module imports enum, 3 ms on every 'cms help'
    import _signal

    if _signal.getsignal(_signal.SIGINT) is _signal.default_int_handler:
        _signal.signal(_signal.SIGINT, _on_interrupt)


def reset() -> None:
    """The next ^C is a first one again (a new command line, or a new prompt)."""
    global _interrupted
    _interrupted = False

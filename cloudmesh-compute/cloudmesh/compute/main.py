"""The ``cms`` program: the process entry (console script and ``python -m
cloudmesh.compute``).

Usage: cms [--debug] COMMAND [ARGS...]      (cms help lists the commands)
       cms [--file=SCRIPT] [--continue]      (the cms> shell; a script from the file or stdin)

It installs the Ctrl-C handler, then runs one command line through
:func:`cloudmesh.compute.dispatch.dispatch`, or, without a command, starts the ``cms>``
shell (:mod:`cloudmesh.compute.repl`), which runs each line through the same dispatch.
"""

from __future__ import annotations

import os
import sys

from cloudmesh.compute.errors import EXIT_INTERRUPTED


def wants_shell(argv: list[str]) -> bool:
    """No command (the cms> shell), or a script: ``--file=SCRIPT``, ``--continue``."""
    words = [word for word in argv if word != "--debug"]
    return not words or words[0] == "--continue" or words[0].startswith("--file")


def main(argv: list[str] | None = None) -> int:
    """Run cms with ``argv`` (default: the process's arguments); returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    from cloudmesh.compute import interrupts

    interrupts.install()
    if wants_shell(argv):
        # the cms> shell, or a script: its imports only on this path
        from cloudmesh.compute import errors, repl
        from cloudmesh.compute.dispatch import debug_requested

        try:
            return repl.main(debug_requested(argv)[1])
        except errors.CmsError as error:  # the shell's own options, an unreadable script
            errors.print_error(error)
            return error.exit_code
        except KeyboardInterrupt:  # ^C while a script's own line is read
            print("interrupted", file=sys.stderr, flush=True)
            return EXIT_INTERRUPTED
    from cloudmesh.compute.dispatch import dispatch

    code = dispatch(argv)
    threading = sys.modules.get("threading")
    if code == EXIT_INTERRUPTED and threading is not None and threading.active_count() > 1:
        # Threads of a fan-out may still be inside a cloud call or a wait; they are not
        # waited for (os._exit), which also keeps the interpreter's shutdown from joining
        try:
            sys.stdout.flush()
        except Exception:  # a closed pipe: nothing more to say
            pass
        os._exit(EXIT_INTERRUPTED)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""The ``cms`` command: finds the command module, runs it, and turns errors into one
line on stderr and a documented exit code.

Usage: cms [--debug] COMMAND [ARGS...]      (cms help lists the commands)
       cms [--file=SCRIPT] [--continue]      (the cms> shell; a script from the file or stdin)
"""

from __future__ import annotations

import os
import sys

from cloudmesh.compute import errors
from cloudmesh.compute.errors import EXIT_CLOUD, EXIT_INTERRUPTED, EXIT_USAGE, CmsError


def _debug_enabled(argv: list[str]) -> tuple[bool, list[str]]:
    debug = os.environ.get("CMS_DEBUG", "") not in ("", "0")
    while argv and argv[0] == "--debug":
        debug = True
        argv = argv[1:]
    return debug, argv


def run(argv: list[str]) -> int:
    """Run one cms command line (without the program name); returns the exit code."""
    from cloudmesh.compute import discovery

    if not argv or argv[0] == "--continue" or argv[0].startswith("--file"):
        # the cms> shell, or a script: its imports only on this path
        from cloudmesh.compute import console

        return console.main(argv)
    if argv[0] in ("-h", "--help"):
        argv = ["help"]
    elif argv[0] == "--version":
        argv = ["version"]
    command = argv[0]
    module_name = discovery.find_command(command)
    if module_name is None:
        import difflib

        from cloudmesh.compute.errors import escape_control

        close = difflib.get_close_matches(command, list(discovery.commands()), n=1)
        hint = f"did you mean 'cms {close[0]}'? " if close else ""
        print(f"error: unknown command '{escape_control(command)}'; {hint}see 'cms help'",
              file=sys.stderr)
        return EXIT_USAGE
    import importlib

    module = importlib.import_module(module_name)
    return int(module.run(argv) or 0)


_interrupted = False
#: set by the interactive cms> shell: a Ctrl-C ends the command, not the session
IN_SESSION = False


def _on_interrupt(signum, frame) -> None:
    """Ctrl-C: KeyboardInterrupt the first time; a second Ctrl-C while cms is stopping
    ends it at once, quietly (never a traceback from wherever it happened to land)."""
    global _interrupted
    if _interrupted:
        os.write(2, b"interrupted\n")
        os._exit(EXIT_INTERRUPTED)
    _interrupted = True
    raise KeyboardInterrupt


def _stop_interrupted() -> int:
    """After Ctrl-C: say so and exit 130 now. Threads of a fan-out may still be inside a
    cloud call or a wait; they are not waited for (os._exit), which is also what keeps
    the interpreter's shutdown from joining them."""
    import threading

    print("interrupted", file=sys.stderr, flush=True)
    # in a cms> session the fan-out's daemon threads are left to finish in the background
    # (their results are dropped); the session goes on
    if threading.active_count() > 1 and not IN_SESSION:
        try:
            sys.stdout.flush()
        except Exception:  # a closed pipe: nothing more to say
            pass
        os._exit(EXIT_INTERRUPTED)
    return EXIT_INTERRUPTED


def _database_error(error: BaseException) -> CmsError | None:
    """A damaged state database found after it was opened: a configuration error that
    says how to move it away, not an internal error."""
    sqlite3 = sys.modules.get("sqlite3")
    if sqlite3 is None or type(error) is not sqlite3.DatabaseError:
        return None  # (OperationalError, a subclass, is "locked" or a full disk)
    from cloudmesh.compute.state import State

    return State().corrupt(error)


def main(argv: list[str] | None = None) -> int:
    debug, argv = _debug_enabled(list(sys.argv[1:] if argv is None else argv))
    errors.DEBUG = debug
    # _signal, not signal: the signal module imports enum, 3 ms on every 'cms help'
    import _signal

    if _signal.getsignal(_signal.SIGINT) is _signal.default_int_handler:
        _signal.signal(_signal.SIGINT, _on_interrupt)
    try:
        code = run(argv)
        sys.stdout.flush()  # a full disk is found here, not at the interpreter's exit
        return code
    except CmsError as error:
        errors.print_error(error)
        return error.exit_code
    except KeyboardInterrupt:
        return _stop_interrupted()
    except BrokenPipeError:
        # stdout was closed early (cms vm list | head): not an error of ours
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return 0
    except OSError as error:
        import errno

        if error.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO):
            return _internal_error(error, debug)
        # a full disk, a file too large, an I/O error: one line, exit 1
        _quiet_stdout()
        where = f"write {error.filename}" if error.filename else "write the output"
        errors.print_error(CmsError(f"cannot {where}: {error.strerror or error}",
                                    "free some space, or send the output elsewhere"))
        return EXIT_CLOUD
    except Exception as error:  # a bug, or an SDK error a provider does not translate
        return _internal_error(error, debug)


def _quiet_stdout() -> None:
    """stdout to /dev/null, so that the interpreter's last flush does not fail again."""
    try:
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, sys.stdout.fileno())
        os.close(fd)
    except (OSError, ValueError, AttributeError):
        pass


def _internal_error(error: Exception, debug: bool) -> int:
    damaged = _database_error(error)
    if damaged is not None:
        errors.print_error(damaged)
        return damaged.exit_code
    if debug:
        errors.print_error(error, "internal error: ")
    else:
        first_line = str(error).splitlines()[0] if str(error) else ""
        errors.print_error(RuntimeError(
            f"internal error: {type(error).__name__}: {first_line} "
            "(run 'cms --debug ...' for the traceback and report it)"))
    return EXIT_CLOUD


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

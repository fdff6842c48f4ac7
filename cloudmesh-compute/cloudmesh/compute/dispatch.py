"""One cms command line, run in this process: find the command's module, run it, and turn
every error into one line on stderr and a documented exit code.

Shared by the process entry (:mod:`cloudmesh.compute.main`) and the ``cms>`` shell
(:mod:`cloudmesh.compute.repl`). It writes to the current ``sys.stdout``/``sys.stderr``
(a caller may redirect them), reads the environment and working directory afresh on every
call, and never exits the process: it returns the exit code.
"""

from __future__ import annotations

import os
import sys

from cloudmesh.compute import errors
from cloudmesh.compute.errors import EXIT_CLOUD, EXIT_INTERRUPTED, EXIT_USAGE, CmsError

TYPE_CHECKING = False  # typing costs start-up time; type checkers see True
if TYPE_CHECKING:  # pragma: no cover
    from cloudmesh.compute.session import Session


def debug_requested(argv: list[str]) -> tuple[bool, list[str]]:
    """``--debug`` anywhere on the line before a ``--`` (or CMS_DEBUG set): tracebacks
    are shown; the line without it. After ``--`` (a remote command's words) it is kept."""
    debug = os.environ.get("CMS_DEBUG", "") not in ("", "0")
    end = argv.index("--") if "--" in argv else len(argv)
    if "--debug" in argv[:end]:
        debug = True
        argv = [word for word in argv[:end] if word != "--debug"] + argv[end:]
    return debug, argv


def dispatch(argv: list[str], *, session: Session | None = None) -> int:
    """Run one cms command line (without the program name); returns its exit code.
    ``session``: what several lines share (the cms> shell's provider cache), or None."""
    debug, argv = debug_requested(list(argv))
    from cloudmesh.compute import interrupts

    interrupts.reset()
    token = session.activate() if session is not None else None
    previous_debug = errors.set_debug(debug)
    try:
        code = _run(argv)
        sys.stdout.flush()  # a full disk is found here, not at the interpreter's exit
        return code
    except CmsError as error:
        errors.print_error(error)
        return error.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # stdout was closed early (cms vm list | head): not an error of ours
        _quiet_stdout()
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
    finally:
        errors.set_debug(previous_debug)
        if token is not None:
            session.deactivate(token)  # type: ignore[union-attr]
        interrupts.reset()


def _run(argv: list[str]) -> int:
    from cloudmesh.compute import discovery

    if not argv:
        raise errors.UsageError("no command given", "see 'cms help'")
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


def _database_error(error: BaseException) -> CmsError | None:
    """A damaged state database found after it was opened: a configuration error that
    says how to move it away, not an internal error."""
    sqlite3 = sys.modules.get("sqlite3")
    if sqlite3 is None or type(error) is not sqlite3.DatabaseError:
        return None  # (OperationalError, a subclass, is "locked" or a full disk)
    from cloudmesh.compute.state import State

    return State().corrupt(error)


def _quiet_stdout() -> None:
    """The process's stdout to /dev/null, so that the interpreter's last flush does not
    fail again. A stdout the caller redirected (a test, the shell's capture) is left."""
    if sys.stdout is not sys.__stdout__:
        return
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

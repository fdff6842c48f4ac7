"""The error types of cms and the exit codes they map to.

Everything a user can get wrong, and everything a cloud can answer with, ends as one of
these; the shell prints ``str(error)`` as one line on stderr and exits with
``error.exit_code``. Exit codes are documented in the README.
"""

from __future__ import annotations

# secrets and terminal escaping have their own modules; the names stay importable here
from cloudmesh.compute.secrecy import (_SECRETS, register_secret,  # noqa: F401
                                       scrub, secret_forms)
from cloudmesh.compute.terminal import escape_control  # noqa: F401

EXIT_OK = 0
EXIT_CLOUD = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_CONFIG = 4
EXIT_INTERRUPTED = 130

#: ``CmsError.code`` of an error that means nothing is set up for a cloud yet (no
#: credentials found, its tool not installed), as opposed to failing: 'cms check' says so
NOT_SET_UP = "cms:not-set-up"

#: set by ``cms --debug`` (through set_debug): errors are printed with their tracebacks
DEBUG = False


def set_debug(flag: bool) -> bool:
    """Print tracebacks with errors (``--debug``) or not; returns the previous setting,
    so that one command line's --debug does not outlast it."""
    global DEBUG
    previous, DEBUG = DEBUG, flag
    return previous


def print_error(error: BaseException, prefix: str = "") -> None:
    """One line on stderr (and, under --debug, the traceback first), secrets scrubbed and
    control characters escaped (error texts quote what a cloud sent)."""
    import sys

    if DEBUG:
        import traceback

        trace = scrub("".join(traceback.format_exception(type(error), error,
                                                         error.__traceback__)))
        sys.stderr.write("".join(printable_line(line) + "\n"
                                 for line in trace.rstrip("\n").split("\n")))
    print(printable_line(f"error: {prefix}{error}"), file=sys.stderr, flush=True)


def printable_line(text: str) -> str:
    """One line safe for a terminal: secrets scrubbed (before and after escaping, which
    may turn a secret into its escaped form), control characters escaped."""
    return scrub(escape_control(scrub(text)))


class CmsError(Exception):
    """Base of every error cms reports without a traceback."""

    exit_code = EXIT_CLOUD

    def __init__(self, message: str, hint: str | None = None,
                 retryable: bool = False, *, status: int | None = None,
                 code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        #: a transient fault (5xx, throttling, dropped connection, timeout): the same
        #: request may succeed later, and may or may not have reached the cloud
        self.retryable = retryable
        #: the cloud's HTTP status and error code, when it answered: providers decide by
        #: these, never by matching the message
        self.status = status
        self.code = code

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}; {self.hint}"
        return self.message


class CloudError(CmsError):
    """The cloud answered with an error, or could not be reached."""

    exit_code = EXIT_CLOUD


class WaitTimeout(CloudError):
    """A wait ran past its --timeout."""


class UsageError(CmsError):
    """The command line is wrong: unknown option, bad value, bad name expression."""

    exit_code = EXIT_USAGE


class NotSupported(UsageError):
    """The cloud's kind cannot do what was asked."""

    def __init__(self, kind: str, verb: str, reason: str) -> None:
        super().__init__(f"{verb} is not supported by {kind}: {reason}")
        self.kind = kind
        self.verb = verb
        self.reason = reason


class NotFound(CmsError):
    """A named VM, image, flavor, key or cloud entry does not exist."""

    exit_code = EXIT_NOT_FOUND


class ConfigError(CmsError):
    """cloudmesh.yaml is missing, malformed, or lacks what a command needs."""

    exit_code = EXIT_CONFIG


class CredentialError(ConfigError):
    """The cloud rejected the credentials, or none could be found."""


def worst_exit_code(errors: list[BaseException]) -> int:
    """The exit code for a fan-out that had several failures: the most specific one wins
    when they agree, otherwise the cloud error code."""
    codes = {getattr(e, "exit_code", EXIT_CLOUD) for e in errors}
    if not codes:
        return EXIT_OK
    if len(codes) == 1:
        return codes.pop()
    return EXIT_CLOUD

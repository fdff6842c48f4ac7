"""The error types of cms and the exit codes they map to.

Everything a user can get wrong, and everything a cloud can answer with, ends as one of
these; the shell prints ``str(error)`` as one line on stderr and exits with
``error.exit_code``. Exit codes are documented in the README.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_CLOUD = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_CONFIG = 4
EXIT_INTERRUPTED = 130

#: set by ``cms --debug``: errors are printed with their tracebacks
DEBUG = False


#: secret values read from the configuration in this process; never printed
_SECRETS: set[str] = set()
_MASK = "********"


def register_secret(value: object) -> None:
    """Remember a secret value so that any error text or traceback containing it is
    scrubbed before it is printed. Very short values are skipped (they would mask
    ordinary words)."""
    if isinstance(value, str) and len(value) >= 6:
        _SECRETS.add(value)


def scrub(text: str) -> str:
    for secret in sorted(_SECRETS, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, _MASK)
    return text


def print_error(error: BaseException, prefix: str = "") -> None:
    """One line on stderr (and, under --debug, the traceback first), secrets scrubbed."""
    import sys

    if DEBUG:
        import traceback

        lines = traceback.format_exception(type(error), error, error.__traceback__)
        sys.stderr.write(scrub("".join(lines)))
    print(scrub(f"error: {prefix}{error}"), file=sys.stderr, flush=True)


class CmsError(Exception):
    """Base of every error cms reports without a traceback."""

    exit_code = EXIT_CLOUD

    def __init__(self, message: str, hint: str | None = None,
                 retryable: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        #: a transient fault (5xx, throttling, dropped connection, timeout): the same
        #: request may succeed later, and may or may not have reached the cloud
        self.retryable = retryable

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

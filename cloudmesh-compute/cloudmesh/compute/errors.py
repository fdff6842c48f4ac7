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


#: secret values read from the configuration in this process, in every form they may be
#: printed in (raw, repr-escaped, URL-encoded); never printed
_SECRETS: set[str] = set()
_MASK = "********"
#: shorter values are not scrubbed: they would mask ordinary words
_SHORTEST_SECRET = 6

# Characters that must not reach a terminal raw from a cloud: C0 (with TAB, LF, CR, ESC,
# BEL), DEL, C1, the Unicode line and paragraph separators, and the bidirectional
# controls that make text display in another order than it is ("Trojan Source").
_UNSAFE_CHARS = ("[\x00-\x1f\x7f-\x9f\u2028\u2029\u061c\u200e\u200f"
                 "\u202a-\u202e\u2066-\u2069]")
_unsafe = None
_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_char(match) -> str:
    char = match.group()
    named = _NAMED_ESCAPES.get(char)
    if named:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_control(text: str) -> str:
    """``text`` with every control character shown as an escape (``\\n``, ``\\x1b``,
    ``\\u202e``), so that text from a cloud can neither move the cursor, ring the bell,
    change colours nor fake an extra line. Plain text is returned as it is."""
    if text.isprintable():  # the common case, and fast (no regex)
        return text
    global _unsafe
    if _unsafe is None:
        import re

        _unsafe = re.compile(_UNSAFE_CHARS)
    return _unsafe.sub(_escape_char, text)


def _percent_encoded(text: str, safe: str, plus: bool, upper: bool) -> str:
    # urllib.parse.quote without importing urllib (register_secret is on the start-up
    # path of every command that reads the config)
    hex_format = "%{:02X}" if upper else "%{:02x}"
    out = []
    for byte in text.encode("utf-8"):
        char = chr(byte)
        if byte < 128 and (char.isalnum() or char in "_.-~" or char in safe):
            out.append(char)
        elif plus and char == " ":
            out.append("+")
        else:
            out.append(hex_format.format(byte))
    return "".join(out)


def secret_forms(value: str) -> set[str]:
    """The ways a secret can appear in text: as it is, without surrounding whitespace,
    escaped by repr or by JSON or by escape_control, and URL-encoded (as in a query string
    or a URL an SDK puts into its error)."""
    import json  # (already loaded by the state database on every path that gets here)

    bare = {value, value.strip()}
    forms = set(bare)
    for form in bare:
        forms.add(repr(form)[1:-1])
        forms.add(repr(form.encode("utf-8"))[2:-1])  # b'...': as an HTTP library shows it
        forms.add(escape_control(form))
        forms.add(form.encode("unicode_escape").decode("ascii"))
        forms.add(json.dumps(form)[1:-1])
        forms.add(json.dumps(form, ensure_ascii=False)[1:-1])
        for safe, plus in (("", False), ("/", False), ("", True), ("/", True)):
            forms.add(_percent_encoded(form, safe, plus, upper=True))
            forms.add(_percent_encoded(form, safe, plus, upper=False))
    return {f for f in forms if len(f) >= _SHORTEST_SECRET}


def register_secret(value: object) -> None:
    """Remember a secret value so that any output, error text or traceback containing it
    (in any of its printed forms) is scrubbed before it is printed. Very short values are
    skipped (they would mask ordinary words)."""
    if isinstance(value, str) and len(value.strip()) >= _SHORTEST_SECRET \
            and value not in _SECRETS:
        _SECRETS.update(secret_forms(value))


def scrub(text: str) -> str:
    """``text`` with every registered secret replaced by a mask."""
    if not _SECRETS:
        return text
    for secret in sorted(_SECRETS, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, _MASK)
    return text


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

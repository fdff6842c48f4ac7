"""Helpers shared by the command modules: parsing with docopt-ng, reporting fan-out
outcomes, and option values. A command parses, calls the facade, prints."""

from __future__ import annotations

import sys

from cloudmesh.compute.errors import EXIT_OK, UsageError, print_error, worst_exit_code


class HelpShown(Exception):
    """--help was asked for and printed."""


def parse(doc: str, argv: list[str]) -> dict:
    """Parse argv (starting with the command name) against a docopt usage docstring.
    ``--help`` prints the docstring; bad usage is one UsageError line, exit code 2."""
    from docopt import DocoptExit, docopt

    command = argv[0] if argv else "?"
    if "-h" in argv[1:] or "--help" in argv[1:]:
        if "--" not in argv or argv.index("--") > max(
                argv.index(a) for a in ("-h", "--help") if a in argv):
            print(doc.strip("\n"))
            raise HelpShown()
    usage = _usage_for(doc, argv)
    try:
        arguments = docopt(usage, argv=argv, default_help=False)
    except DocoptExit as error:
        import re

        message = str(error).split("\n", 1)[0].strip()
        known = {*re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", doc)}
        unknown = [a.split("=", 1)[0] for a in argv[1:]
                   if a.startswith("-") and a != "--" and a.split("=", 1)[0] not in known]
        if unknown:
            detail = f"unknown option {unknown[0]}"
        elif message and not message.startswith(("Warning", "Usage")):
            detail = message
        else:
            detail = f"invalid arguments '{' '.join(argv[1:])}'"
        raise UsageError(f"cms {command}: {detail}", f"see 'cms {command} --help'") from None
    if usage is not doc:  # the other verbs' words, arguments and options: absent
        import re

        from docopt import parse_options

        section = doc.partition("Usage:")[2].partition("\n\n")[0]
        # (no set() here: in this package the name 'set' is the 'cms set' module)
        repeated = {*re.findall(r"\[(--[a-z][\w-]*)(?:=[A-Z_]+)?\]\.\.\.", section)}
        for option in parse_options(doc):
            arguments.setdefault(option.name, [] if option.name in repeated else option.value)
        for token, dots in re.findall(
                r"(?<![\w=-])([a-z][a-z0-9_-]*|[A-Z][A-Z0-9_]*)(?![\w=])(\.\.\.)?", section):
            if token != "cms":
                absent = ([] if dots else None) if token.isupper() else False
                arguments.setdefault(token, absent)
        if "[--]" in section:
            arguments.setdefault("--", False)
    return arguments


def _usage_for(doc: str, argv: list[str]) -> str:
    """The docstring with only the usage patterns of the verb given (``cms vm list ...``
    keeps the ``cms vm list`` lines): docopt's time grows with the number of patterns,
    12 ms for all of cms vm. Without a matching pattern the whole docstring is kept, so
    docopt's errors are the same."""
    if len(argv) < 2:
        return doc
    head, sep, rest = doc.partition("Usage:")
    usage, blank, tail = rest.partition("\n\n")
    if not sep or not blank:
        return doc
    entries: list[list[str]] = []
    for line in usage.strip("\n").splitlines():
        if line.strip().startswith("cms "):
            entries.append([line])
        elif entries:
            entries[-1].append(line)  # a continuation of the pattern above
    kept = [entry for entry in entries if entry[0].split()[2:3] == [argv[1]]]
    if not kept:
        return doc
    return head + sep + "\n" + "\n".join(line for entry in kept for line in entry) + \
        blank + tail


def run_command(function, doc: str, argv: list[str]) -> int:
    """Parse and call ``function(arguments)``; --help returns 0."""
    try:
        arguments = parse(doc, argv)
    except HelpShown:
        return EXIT_OK
    return int(function(arguments) or 0)


def positive_seconds(value: str | None, option: str, default: float) -> float:
    if value in (None, ""):
        return default
    try:
        number = float(value)
    except ValueError:
        raise UsageError(f"{option} takes a number of seconds, not '{value}'") from None
    if not number > 0:
        raise UsageError(f"{option} must be above 0, not '{value}'")
    return number


def positive_int(value: str | None, option: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except ValueError:
        raise UsageError(f"{option} takes a whole number, not '{value}'") from None
    if number < 1:
        raise UsageError(f"{option} must be at least 1, not '{value}'")
    return number


def report_errors(outcomes: list, prefix: str = "") -> int:
    """Print each failed outcome as one line on stderr; return the exit code."""
    errors = []
    for outcome in outcomes:
        if outcome.error is not None:
            errors.append(outcome.error)
            named = str(outcome.error).startswith(f"{outcome.item}: ")
            print_error(outcome.error, "" if named else f"{prefix}{outcome.item}: ")
    return worst_exit_code(errors)


def report_outcomes(outcomes: list, describe) -> int:
    """One stderr line per success (``NAME: describe(result)``), then the failures;
    returns the exit code."""
    for outcome in outcomes:
        if outcome.ok:
            print(f"{outcome.item}: {describe(outcome.result)}", file=sys.stderr)
    return report_errors(outcomes)


def confirm(question: str, yes: bool, verb: str) -> None:
    """Go on only with --yes, or a 'y' typed at a terminal; without a terminal (a script,
    a pipe) the question is a one-line refusal, never a silent yes."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise UsageError(f"{question} refused without confirmation", "add --yes to confirm")
    print(f"{question} [y/N] ", end="", file=sys.stderr, flush=True)
    if sys.stdin.readline().strip().lower() not in ("y", "yes"):
        raise UsageError(f"{verb} cancelled; nothing was changed")


#: verbs that change or end running VMs: naming many at once needs confirmation
DESTRUCTIVE = ("stop", "reboot", "suspend", "delete", "restart")
CONFIRM_ABOVE = 10


def confirm_many(facade, verb: str, names: list[str], yes: bool, dryrun: bool = False) -> None:
    """More than 'cms set confirm_above=' (default 10) VMs named at once with a destructive
    verb (a wide expression) needs --yes, or a 'y' typed at a terminal."""
    from cloudmesh.compute.errors import ConfigError

    try:
        threshold = int(facade.state.get("confirm_above") or CONFIRM_ABOVE)
    except ValueError:
        raise ConfigError("the variable confirm_above must be a whole number",
                          "cms set confirm_above=10") from None
    if verb not in DESTRUCTIVE or len(names) <= threshold or dryrun:
        return
    shown = ", ".join(names[:3]) + (f", ... {names[-1]}" if len(names) > 3 else "")
    confirm(f"{verb} {len(names)} VMs on {facade.name} ({shown})?", yes, verb)


def open_provider(cloud: str | None, state=None):
    """The Provider facade for a cloud (imports only that cloud's SDK)."""
    from cloudmesh.compute.provider import Provider

    return Provider(cloud, state=state)


def progress_printer(action: str = ""):
    """A progress callback that prints status changes of a wait on stderr."""
    def show(name: str, record: dict, elapsed: float) -> None:
        status = record.get("status")
        print(f"{name}: {status}{' ' + action if action else ''} ({elapsed:.0f}s)",
              file=sys.stderr, flush=True)
    return show

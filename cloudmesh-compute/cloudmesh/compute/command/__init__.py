"""What the command modules share when they run: ``run_command`` (parse, run, map the
outcome to an exit code), reporting fan-out outcomes, confirming what destroys, opening the
facade. Parsing and option values are :mod:`cloudmesh.compute.cliparse`, wait progress
:mod:`cloudmesh.compute.progress` (their names stay importable here). A command parses,
calls the facade, prints."""

from __future__ import annotations

import sys

from cloudmesh.compute.errors import (EXIT_OK, CmsError, UsageError, print_error,
                                      worst_exit_code)

# parsing and option values, and wait progress, have their own modules
from cloudmesh.compute.cliparse import (HelpShown, check_choice, list_options,  # noqa: F401
                                        parse, positive_int, positive_seconds)
from cloudmesh.compute.progress import TICK, WAIT_STATES, WaitProgress  # noqa: F401


def run_command(function, doc: str, argv: list[str]) -> int:
    """Parse and call ``function(arguments)``; --help returns 0."""
    try:
        arguments = parse(doc, argv)
    except HelpShown:
        return EXIT_OK
    try:
        return int(function(arguments) or 0)
    except CmsError as error:
        # the library's hints speak of Python arguments (image=...); a command line's hint
        # is about its options (--image=...), which the error carries as cli_hint
        if getattr(error, "cli_hint", None):
            error.hint = error.cli_hint
        raise


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


def open_provider(cloud: str | None, state=None, config=None):
    """The Provider facade for a cloud (imports only that cloud's SDK)."""
    from cloudmesh.compute.provider import Provider

    return Provider(cloud, config=config, state=state)


def cache_note(state, clouds: list[str], kind: str = "vm", what: str = "VMs") -> None:
    """On stderr, how old the cached rows of each cloud are (``--cached`` answers from
    the last live list, without asking the cloud)."""
    import time

    for cloud in clouds:
        count, oldest = state.cache_age(cloud, kind)
        if oldest is None:
            print(f"cached: no {what} of {cloud} (none seen yet; a live list fills the "
                  "cache)", file=sys.stderr)
            continue
        age = max(0.0, time.time() - oldest)
        ago = (f"{age:.0f} s" if age < 120 else f"{age / 60:.0f} min" if age < 7200
               else f"{age / 3600:.0f} h" if age < 172800 else f"{age / 86400:.0f} days")
        stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(oldest))
        print(f"cached: {count} {what} of {cloud}, as seen {ago} ago (since {stamp}); "
              "without --cached the cloud is asked", file=sys.stderr)

"""Command-line parsing for the command modules: docopt-ng with one-line usage errors
(the closest option or verb suggested, an empty value refused), and the checks of option
values every command shares (seconds, counts, choices, --filter/--limit)."""

from __future__ import annotations

from cloudmesh.compute.errors import UsageError


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
            detail = f"unknown option {unknown[0]}{_did_you_mean(unknown[0], known)}"
        elif message and not message.startswith(("Warning", "Usage")):
            detail = message
        else:
            detail = f"invalid arguments '{' '.join(argv[1:])}'"
        hint = None if unknown else _usage_hint(doc, argv)
        raise UsageError(f"cms {command}: {detail}",
                         hint or f"see 'cms {command} --help'") from None
    _refuse_empty(arguments, argv)
    if usage is not doc:  # the other verbs' words, arguments and options: absent
        import re

        from docopt import parse_options

        section = doc.partition("Usage:")[2].partition("\n\n")[0]
        # (no set() here: in this package the name 'set' is the 'cms set' module)
        repeated = {*re.findall(r"\[(--[a-z][\w-]*)(?:=[A-Z_=]+)?\]\.\.\.", section)}
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


def _closest(word: str, choices) -> str | None:
    import difflib

    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return close[0] if close else None


def _did_you_mean(word: str, choices) -> str:
    close = _closest(word, choices)
    return f" (did you mean {close}?)" if close else ""


def _usage_hint(doc: str, argv: list[str]) -> str | None:
    """What to write instead of a command line docopt refused: a verb that is close to
    one of the command's verbs, or several names given as separate words (the usage takes
    one argument, comma separated: 'cms vm stop a b' is 'cms vm stop a,b')."""
    from docopt import DocoptExit, docopt

    command = argv[0]
    section = doc.partition("Usage:")[2].partition("\n\n")[0]
    verbs = {line.split()[2] for line in section.splitlines()
             if line.strip().startswith("cms ") and len(line.split()) > 2
             and line.split()[2].isalpha() and line.split()[2].islower()}
    if len(argv) > 1 and verbs and argv[1] not in verbs and not argv[1].startswith("-"):
        close = _closest(argv[1], verbs)
        if close:
            return f"did you mean 'cms {command} {close}'?"
    index = 2
    while index < len(argv):
        if argv[index] == "--":
            break
        if argv[index].startswith("-"):
            # '--cloud x': x is the option's value (a flag's next word may be a name too,
            # which only costs a hint)
            index += 2 if "=" not in argv[index] and argv[index].startswith("--") else 1
            continue
        end = index
        while end + 1 < len(argv) and not argv[end + 1].startswith("-"):
            end += 1
        if end > index:
            names = ",".join(argv[index:end + 1])
            joined = [*argv[:index], names, *argv[end + 1:]]
            try:
                docopt(_usage_for(doc, joined), argv=joined, default_help=False)
            except (DocoptExit, SystemExit):
                pass
            else:
                return f"several names are one argument, comma separated: '{names}'"
        index = end + 1
    return None


def _refuse_empty(arguments: dict, argv: list[str]) -> None:
    """An empty value (--name=, --cloud= or '' from an unset shell variable) is a usage
    error, never a silent fallback to a default."""
    for key, value in arguments.items():
        if value != "" or key in ("--", "VALUE"):  # (cms config set KEY '' sets '')
            continue
        if key.startswith("-"):
            raise UsageError(f"cms {argv[0]}: {key} is empty",
                             f"give it a value, or leave {key} out for the default "
                             "(an unset shell variable?)")
        raise UsageError(f"cms {argv[0]}: {key} is empty",
                         "give a value (an unset shell variable?)")


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


def list_options(arguments: dict) -> tuple[dict[str, list[str]], int | None]:
    """The list verbs' ``--filter=KEY=GLOB`` (repeatable) and ``--limit=N``, checked before
    any request: {key: [globs]} and the limit (None: all); output.select applies them."""
    filters: dict[str, list[str]] = {}
    for text in arguments.get("--filter") or []:
        key, sep, pattern = text.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--filter takes KEY=GLOB, not '{text}'",
                             "e.g. --filter=status=running --filter=name=web*")
        filters.setdefault(key.strip(), []).append(pattern)
    return filters, positive_int(arguments.get("--limit"), "--limit")


def check_choice(value: str | None, option: str, choices) -> str | None:
    """An enumerated option's value, checked before any request."""
    if value is None or value in choices:
        return value
    hint = f"use one of {', '.join(choices)}"
    close = _closest(str(value), choices)
    raise UsageError(f"{option}={value} is not one of the choices"
                     f"{f' (did you mean {close}?)' if close else ''}", hint)

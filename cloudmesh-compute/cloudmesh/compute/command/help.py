"""Show the commands, or one command's usage.

Usage:
  cms help [COMMAND]

Arguments:
  COMMAND   a command name, e.g. vm
"""

from __future__ import annotations

import importlib
import sys

from cloudmesh.compute.command import run_command
from cloudmesh.compute.errors import UsageError

INTRO = """cms: one command line for virtual machines on many clouds.

Usage: cms [--debug] COMMAND [ARGS...]     cms COMMAND --help for a command's usage
       cms                                 the cms> shell (cms < FILE, cms --file=FILE:
                                           a script, stopping at the first failure)
"""


def run(argv: list[str]) -> int:
    # Parsed by hand: 'cms help' runs often and needs no docopt.
    args = argv[1:]
    if args and args[0] in ("-h", "--help"):
        print(__doc__.strip("\n"))
        return 0
    if len(args) > 1:
        return run_command(lambda a: 0, __doc__, argv)
    return _help(args[0] if args else None)


def _help(command: str | None) -> int:
    from cloudmesh.compute import discovery

    if command:
        module_name = discovery.find_command(command)
        if module_name is None:
            raise UsageError(f"unknown command '{command}'", "see 'cms help'")
        print((importlib.import_module(module_name).__doc__ or "").strip("\n"))
        return 0
    lines = [INTRO, "Commands:"]
    found = discovery.commands()
    width = max(map(len, found), default=0)
    for name, module_name in found.items():
        try:
            doc = importlib.import_module(module_name).__doc__ or ""
        except Exception as error:  # a broken third-party command must not break help
            doc = f"(cannot load: {type(error).__name__})"
        summary = doc.strip().splitlines()[0] if doc.strip() else ""
        lines.append(f"  {name.ljust(width)}  {summary}")
    lines.append("")
    lines.append("Exit codes: 0 ok, 1 cloud error, 2 usage, 3 not found, 4 configuration, "
                 "130 interrupted.")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0

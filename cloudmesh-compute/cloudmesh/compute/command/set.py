"""Set, show and delete variables that commands use as defaults.

Usage:
  cms set [ASSIGNMENTS...]
  cms set --delete NAMES...

Arguments:
  ASSIGNMENTS   NAME=VALUE pairs, e.g. cloud=mycloud image=ubuntu-24.04
  NAMES         variables to delete

Options:
  --delete      delete the named variables

Without arguments, prints every variable. 'cloud' is the default cloud for commands
without --cloud (it must be a configured cloud); image, flavor, key, secgroup and username
are defaults for 'cms vm boot' on every cloud, and CLOUD.image (etc.) for one cloud only.
Variables live in the state database beside cloudmesh.yaml.
"""

from __future__ import annotations

import sys

from cloudmesh.compute.command import run_command
from cloudmesh.compute.errors import UsageError

_NAME = r"^[A-Za-z_][A-Za-z0-9_.-]*$"


def run(argv: list[str]) -> int:
    return run_command(_set, __doc__, argv)


def _set(arguments: dict) -> int:
    from cloudmesh.compute.state import State

    state = State()
    if arguments["--delete"]:
        for name in arguments["NAMES"]:
            if not state.delete(name):
                print(f"{name} was not set", file=sys.stderr)
        return 0
    assignments = arguments["ASSIGNMENTS"]
    if not assignments:
        for name, value in state.variables().items():
            print(f"{name}={value}")
        return 0
    import re

    pairs = []
    for assignment in assignments:
        name, sep, value = assignment.partition("=")
        if not sep or not re.match(_NAME, name):
            raise UsageError(f"'{assignment}' is not NAME=VALUE",
                             "write e.g. cms set cloud=mycloud")
        pairs.append((name, value))
    for name, value in pairs:
        if name == "cloud" and value:
            from cloudmesh.compute.config import Config

            Config().cloud(value)  # refuse a cloud that is not configured
    for name, value in pairs:
        state.set(name, value)
        print(f"{name}={value}", file=sys.stderr)
    return 0

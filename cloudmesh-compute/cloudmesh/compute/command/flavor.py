"""List and show the flavors (machine sizes, instance types, shapes) of a cloud.

Usage:
  cms flavor list [--cloud=CLOUD] [--output=FORMAT] [--cached] [--filter=KEY=GLOB]...
                 [--limit=N]
  cms flavor show NAME [--cloud=CLOUD] [--output=FORMAT]

Arguments:
  NAME   a flavor name or id

Options:
  --cloud=CLOUD    the cloud (default: 'cms set cloud=', then cloudmesh.default.cloud)
  -o, --output=FORMAT  table, json, yaml or csv [default: table]
  --filter=KEY=GLOB  for list: only flavors whose field KEY matches the shell pattern
                     GLOB (vcpus=2, name=t3.*); several keys: all must match
  --limit=N          for list: at most N flavors (after --filter)
  --cached         list what the last live list saw, without asking the cloud
"""

from __future__ import annotations

from cloudmesh.compute.command import run_command
from cloudmesh.compute.command import list_options
from cloudmesh.compute.output import (FLAVOR_COLUMNS, check_format, emit, emit_record,
                                      select)


def run(argv: list[str]) -> int:
    return run_command(lambda a: list_or_show(a, "flavor", "flavors", FLAVOR_COLUMNS), __doc__,
                       argv)


def list_or_show(arguments: dict, one: str, many: str, columns: list[str]) -> int:
    """``cms image|flavor list|show``: the same shape for both record types."""
    from cloudmesh.compute.config import Config, resolve_cloud
    from cloudmesh.compute.provider import Provider
    from cloudmesh.compute.state import State

    output = check_format(arguments["--output"])
    selection = list_options(arguments)
    config, state = Config(), State()
    if arguments["list"] and arguments["--cached"]:
        cloud = resolve_cloud(arguments["--cloud"], config, state)
        config.cloud(cloud)  # an unknown cloud is an error even offline
        from cloudmesh.compute.command import cache_note

        cache_note(state, [cloud], one, many)
        emit(select(state.cached(cloud, one), *selection), output, columns)
        return 0
    provider = Provider(arguments["--cloud"], config=config, state=state)
    if arguments["list"]:
        listed = (provider.images(all_builds=True) if arguments.get("--all")
                  else getattr(provider, many)())
        emit(select(listed, *selection), output, columns)
    else:
        emit_record(getattr(provider, one)(arguments["NAME"]), output)
    return 0

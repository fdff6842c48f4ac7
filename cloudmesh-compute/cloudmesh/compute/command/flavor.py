"""List and show the flavors (machine sizes, instance types, shapes) of a cloud.

Usage:
  cms flavor list [--cloud=CLOUD] [--region=REGIONS] [--output=FORMAT] [--cached]
                  [--filter=KEY=GLOB]... [--limit=N]
  cms flavor show NAME [--cloud=CLOUD] [--output=FORMAT]

Arguments:
  NAME   a flavor name or id

Options:
  --cloud=CLOUD    the cloud (default: 'cms set cloud=', then cloudmesh.default.cloud);
                   for list, several (a,b) or all (every configured cloud)
  --region=REGIONS for list: these regions (R1,R2) or all, instead of the configured one
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

        from cloudmesh.compute.regions import parse_regions
        from cloudmesh.compute.workers import cache_names

        kept = cache_names(cloud, parse_regions(arguments.get("--region")), state, one)
        cache_note(state, kept, one, many)
        emit(select([r for name in kept for r in state.cached(name, one)], *selection),
             output, columns)
        return 0
    if arguments["list"] and (arguments.get("--region") or _several(arguments["--cloud"])):
        return _list_spread(arguments, one, config, state, output, selection, columns)
    provider = Provider(arguments["--cloud"], config=config, state=state)
    if arguments["list"]:
        listed = (provider.images(all_builds=True) if arguments.get("--all")
                  else getattr(provider, many)())
        emit(select(listed, *selection), output, columns)
    else:
        emit_record(getattr(provider, one)(arguments["NAME"]), output)
    return 0


def _several(option: str | None) -> bool:
    return bool(option) and (option == "all" or "," in option or "[" in option)


def _list_spread(arguments: dict, one: str, config, state, output: str, selection: tuple,
                 columns: list[str]) -> int:
    """A list over several clouds or regions at once (cloudmesh.compute.workers); each
    record says its cloud, and the region it was listed in."""
    from cloudmesh.compute import workers
    from cloudmesh.compute.regions import parse_regions

    regions = parse_regions(arguments.get("--region"))
    clouds = workers.target_clouds(arguments["--cloud"], config, state)
    listed = workers.run(one, clouds, regions, {"all_builds": bool(arguments.get("--all"))},
                         config, state)
    records = []
    for outcome in listed:
        region = outcome.item.partition(" region ")[2] or None
        records += [{**r, "region": r.get("region") or region} if region else r
                    for r in (outcome.result if outcome.ok else [])]
    if any(o.ok for o in listed):
        shown = columns + ["region"] if regions and "region" not in columns else columns
        emit(select(records, *selection), output, shown)
    return workers.report_failures(listed)

"""Define security groups locally and upload them to clouds.

Usage:
  cms secgroup list [--cloud=CLOUD] [--region=REGIONS] [--output=FORMAT]
                    [--filter=KEY=GLOB]... [--limit=N]
  cms secgroup add GROUP [--description=TEXT]
  cms secgroup rule add GROUP PROTOCOL PORTS CIDR
  cms secgroup rule delete GROUP PROTOCOL PORTS CIDR
  cms secgroup upload GROUPS [--cloud=CLOUD] [--prune] [--dryrun]
  cms secgroup delete GROUPS [--cloud=CLOUD]

Arguments:
  GROUP      a group name
  GROUPS     group names; expressions expand
  PROTOCOL   tcp, udp, icmp or all
  PORTS      22, 8000:8080, or 'all' for icmp and all
  CIDR       who may connect, e.g. 0.0.0.0/0 or 10.1.0.0/16

Options:
  --cloud=CLOUD       list or delete the groups on this cloud instead of the local ones;
                      upload to this cloud (default: 'cms set cloud=', then
                      cloudmesh.default.cloud); for list, several clouds (a,b) or
                      all (every configured cloud)
  --region=REGIONS    for list on clouds: these regions (R1,R2) or all, where groups are
                      kept per region (aws, openstack, oracle; azure: resource groups)
  --description=TEXT  what the group is for
  --prune             with upload: also remove ingress rules the local group does not have
  --dryrun            with upload: say what would change; change nothing
  -o, --output=FORMAT  table, json, yaml or csv [default: table]
  --filter=KEY=GLOB   for list: only groups whose field KEY matches the shell pattern
                      GLOB (name=web*, description=*ssh*); several keys: all must match
  --limit=N           for list: at most N groups (after --filter)

Rules are ingress rules. 'upload' creates the group on the cloud or reconciles it: it adds
the missing rules and names the extra ones it found, leaving them unless --prune. 'cms
init' defines the group 'default' (ssh on 22 and icmp from anywhere).
"""

from __future__ import annotations

import sys

from cloudmesh.compute.command import open_provider, report_outcomes, run_command
from cloudmesh.compute.errors import NotFound, UsageError
from cloudmesh.compute.command import list_options
from cloudmesh.compute.output import check_format, emit, select


def run(argv: list[str]) -> int:
    return run_command(_secgroup, __doc__, argv)


def _rows(groups: list[dict]) -> list[dict]:
    from cloudmesh.compute.secgroups import rule_text

    rows = []
    for group in groups:
        rules = group.get("rules") or [None]
        for rule in rules:
            rows.append({"name": group["name"], "description": group.get("description") or "",
                         "rule": rule_text(rule) if rule else ""})
    return rows


def _secgroup(arguments: dict) -> int:
    from cloudmesh.compute.secgroups import parse_rule, rule_text
    from cloudmesh.compute.state import State

    state = State()
    if arguments["list"]:
        output = check_format(arguments["--output"])
        selection = list_options(arguments)
        if arguments["--region"] and not arguments["--cloud"]:
            raise UsageError("--region lists groups on clouds; local groups have no "
                             "regions", "give --cloud too, e.g. --cloud=all --region=all")
        from cloudmesh.compute import workers

        if workers.spread(arguments["--cloud"], arguments["--region"]):
            return _list_spread(arguments, state, output, selection)
        if arguments["--cloud"]:
            groups = open_provider(arguments["--cloud"], state).secgroups()
        else:
            groups = state.secgroups()
        groups = select(groups, *selection)
        if output == "table":
            emit(_rows(groups), output, ["name", "description", "rule"])
        else:
            emit(groups, output)
        return 0
    if arguments["rule"]:
        group = arguments["GROUP"]
        if state.secgroup_get(group) is None:
            raise NotFound(f"security group '{group}' is not defined locally",
                           f"define it with 'cms secgroup add {group}'")
        rule = parse_rule(arguments["PROTOCOL"], arguments["PORTS"], arguments["CIDR"])
        changed = state.secgroup_rule(group, rule, add=bool(arguments["add"]))
        verb = "added to" if arguments["add"] else "removed from"
        if not changed:
            if arguments["delete"]:
                raise NotFound(f"{group} has no rule '{rule_text(rule)}'",
                               "see 'cms secgroup list'")
            print(f"{group}: already has '{rule_text(rule)}'", file=sys.stderr)
        else:
            print(f"{group}: '{rule_text(rule)}' {verb} the local group", file=sys.stderr)
        return 0
    if arguments["add"]:
        from cloudmesh.compute.names import check_new_name

        group = check_new_name(arguments["GROUP"], "group name")
        existing = state.secgroup_get(group)
        description = arguments["--description"] or (existing or {}).get("description") or group
        state.secgroup_put(group, description)
        print(f"{group}: {'updated' if existing else 'defined'}", file=sys.stderr)
        return 0
    if arguments["upload"]:
        from cloudmesh.compute.command import report_errors
        from cloudmesh.compute.names import expand
        from cloudmesh.compute.provider import fan_out

        names = expand(arguments["GROUPS"])
        provider = open_provider(arguments["--cloud"], state)
        outcomes = fan_out(lambda name: provider.upload_secgroup(
            name, prune=arguments["--prune"], dryrun=arguments["--dryrun"]), names)
        for outcome in outcomes:
            if outcome.ok:
                _print_report(outcome.result, arguments["--dryrun"], arguments["--prune"])
        return report_errors(outcomes)
    if arguments["delete"]:
        if arguments["--cloud"]:
            outcomes = open_provider(arguments["--cloud"], state).delete_secgroups(
                arguments["GROUPS"])
            return report_outcomes(outcomes, lambda _: f"deleted on {arguments['--cloud']}")
        from cloudmesh.compute.names import expand

        names = expand(arguments["GROUPS"])
        missing = [n for n in names if state.secgroup_get(n) is None]
        if missing:
            raise NotFound(f"security group '{missing[0]}' is not defined locally")
        for name in names:
            state.secgroup_delete(name)
            print(f"{name}: deleted locally", file=sys.stderr)
        return 0
    raise UsageError("cms secgroup: no verb given", "see 'cms secgroup --help'")


def _list_spread(arguments: dict, state, output: str, selection: tuple) -> int:
    """Groups over several clouds or regions at once (cloudmesh.compute.workers): the
    table has a row per rule, with the group's cloud (and region)."""
    from cloudmesh.compute import workers
    from cloudmesh.compute.config import Config

    groups, listed = workers.list_records("secgroup", arguments["--cloud"],
                                          arguments["--region"], {}, Config(), state)
    groups = select(groups, *selection)
    if any(o.ok for o in listed):
        if output == "table":
            where = ["cloud"] + (["region"] if arguments["--region"] else [])
            rows = [{**{k: g.get(k, "") for k in where}, **row}
                    for g in groups for row in _rows([g])]
            emit(rows, output, where + ["name", "description", "rule"])
        else:
            emit(groups, output)
    return workers.report_failures(listed)


def _print_report(report: dict, dryrun: bool, prune: bool) -> None:
    from cloudmesh.compute.secgroups import rule_text

    would = "would " if dryrun else ""
    name, cloud = report["name"], report["cloud"]
    if report["created"]:
        print(f"{name}: {would}create on {cloud}", file=sys.stderr)
    for rule in report["added"]:
        print(f"{name}: {would}add {rule_text(rule)}", file=sys.stderr)
    for rule in report["extra"]:
        if prune:
            print(f"{name}: {would}remove {rule_text(rule)}", file=sys.stderr)
        else:
            print(f"{name}: extra rule on {cloud}, left as it is (--prune removes it): "
                  f"{rule_text(rule)}", file=sys.stderr)
    if not (report["created"] or report["added"] or report["extra"]):
        print(f"{name}: up to date on {cloud}", file=sys.stderr)

r"""Manage virtual machines on any configured cloud.

Usage:
  cms vm boot [--name=NAMES] [--n=COUNT] [--cloud=CLOUD] [--image=IMAGE] [--flavor=FLAVOR]
              [--key=KEY] [--secgroup=GROUPS] [--username=USER] [--userdata=FILE]
              [--network=NETWORK] [--subnet=SUBNET] [--zone=ZONE] [--disk=GB]
              [--public-ip | --no-public-ip]
              [--wait] [--timeout=SECONDS] [--dryrun] [--output=FORMAT]
  cms vm list [NAMES] [--cloud=CLOUD] [--region=REGIONS] [--output=FORMAT]
              [--refresh | --cached] [--filter=KEY=GLOB]... [--limit=N]
  cms vm info NAMES [--cloud=CLOUD] [--region=REGION] [--output=FORMAT]
  cms vm status NAMES [--cloud=CLOUD] [--region=REGION] [--output=FORMAT]
  cms vm start NAMES [--cloud=CLOUD] [--region=REGION] [--dryrun] [--yes] [--wait] [--timeout=SECONDS]
  cms vm stop NAMES [--cloud=CLOUD] [--region=REGION] [--dryrun] [--yes] [--wait] [--timeout=SECONDS]
  cms vm reboot NAMES [--cloud=CLOUD] [--region=REGION] [--dryrun] [--yes] [--wait] [--timeout=SECONDS]
  cms vm suspend NAMES [--cloud=CLOUD] [--region=REGION] [--dryrun] [--yes] [--wait] [--timeout=SECONDS]
  cms vm resume NAMES [--cloud=CLOUD] [--region=REGION] [--dryrun] [--yes] [--wait] [--timeout=SECONDS]
  cms vm delete NAMES [--cloud=CLOUD] [--region=REGION] [--dryrun] [--yes] [--wait] [--timeout=SECONDS]
  cms vm wait NAMES [--cloud=CLOUD] [--region=REGION] [--state=STATE] [--timeout=SECONDS] [--interval=SECONDS]
  cms vm ssh NAMES [--cloud=CLOUD] [--command=COMMAND] [--username=USER] [--key=KEY]
             [--port=PORT] [--timeout=SECONDS]

Arguments:
  NAMES   VM names or ids; expressions expand: web[01-03], a,b,c, x[1-2,5]. An
          existing VM's exact name may hold any character its cloud allows (quote it:
          "Test Server 2"); write a literal comma or bracket as \, \[ \] (my\,vm)

Options:
  --cloud=CLOUD        the cloud (default: 'cms set cloud=', then cloudmesh.default.cloud);
                       for list, several clouds (a,b or an expression) are listed at
                       once; --cloud=all: every configured cloud
  --region=REGIONS     the region instead of the cloud's configured one; for list,
                       several (R1,R2) or all (the cloud's regions: list, else every
                       region the account can use); each row says its region
  --name=NAMES         names of the VMs to boot (default: USER-vm-N, counted locally)
  --n=COUNT            how many VMs to boot with generated names
  --image=IMAGE        image name or id (default: the cloud's default.image)
  --flavor=FLAVOR      flavor / instance type (default: the cloud's default.flavor or size)
  --key=KEY            key name (default: the cloud's default.key); boot uploads it from
                       the local registry if the cloud lacks it; ssh also takes a file
  --secgroup=GROUPS    security groups, comma separated (default: default.secgroup)
  --username=USER      the login the key is for (default: default.username, else the
                       kind's usual login, e.g. ubuntu; oracle opc)
  --userdata=FILE      a cloud-init file passed as user data
  --network=NETWORK    the network to attach (default: default.network, else the cloud's
                       only one; several and none chosen is an error listing them)
  --subnet=SUBNET      the subnet (default: default.subnet, else the network's only one)
  --zone=ZONE          the zone / availability zone / domain (default: default.zone)
  --disk=GB            the boot disk size in GB (default: default.disk_gb, else the image's)
  --public-ip          give the VM an address reachable from outside (the default;
                       default.public_ip=false turns it off)
  --no-public-ip       private addresses only
  --wait               wait until the VMs reach their target state
  --timeout=SECONDS    how long to wait (default: 600 s; for ssh 30 s to connect)
  --interval=SECONDS   how often to poll while waiting [default: 2]
  --state=STATE        the status to wait for (booting, running, stopping, stopped,
                       suspended, rebooting, deleting, terminated, error, unknown), or
                       'ssh': until a command runs over SSH [default: running]
  --command=COMMAND    for ssh: run this command (on several VMs at once, each output line
                       prefixed with the VM name) and exit with its exit status; without
                       it, an interactive session (see 'cms ssh --help')
  --port=PORT          for ssh: the sshd port (default: the cloud's default.ssh_port, or 22)
  --dryrun             say what would be done; send no request to the cloud
  --yes                act on more than 'cms set confirm_above=' (default 10) VMs with
                       stop, reboot, suspend or delete without asking
  --refresh            list live from the cloud (the default)
  --cached             list from the local cache, without asking the cloud
  -o, --output=FORMAT  table, json, yaml or csv [default: table]
  --filter=KEY=GLOB    for list: only VMs whose field KEY matches the shell pattern GLOB
                       (status=running, name=web*, zone=us-east-1?, metadata.owner=al*);
                       several keys: all must match; one key given twice: either
  --limit=N            for list: at most N VMs (after --filter)

'info' prints each VM as field/value rows (JSON and YAML: one object for one VM). Waits
print each status change and, in between, the elapsed time every 5 s on stderr. An empty
value (--name=, an unset shell variable) is a usage error, never the default.

Exit codes: 0 ok, 1 cloud error, 2 usage, 3 not found, 4 configuration, 130 interrupted.
"""

from __future__ import annotations

import sys

from cloudmesh.compute.command import (WAIT_STATES, WaitProgress, check_choice, confirm_many,
                                       open_provider,
                                       positive_int, positive_seconds, report_errors,
                                       run_command)
from cloudmesh.compute.errors import (EXIT_USAGE, ConfigError, UsageError, print_error,
                                      worst_exit_code)
from cloudmesh.compute.command import list_options
from cloudmesh.compute.output import (VM_COLUMNS, check_format, emit, emit_record,
                                      select)

STATUS_COLUMNS = ["name", "status", "state", "cloud"]


def run(argv: list[str]) -> int:
    return run_command(_vm, __doc__, argv)


def _context():
    from cloudmesh.compute.config import Config
    from cloudmesh.compute.state import State

    config = Config()
    if config.exists or config.path.is_dir():
        config.data  # a broken config is reported before the facade (and SDKs) load
    return config, State()


def _provider(cloud: str | None, region: str | None = None):
    """open_provider, after a broken configuration was reported (before any SDK loads);
    ``region``: one region (--region=R) instead of the cloud's configured one."""
    config, state = _context()
    if region is None:
        return open_provider(cloud, state, config)
    from cloudmesh.compute.provider import Provider
    from cloudmesh.compute.regions import parse_regions

    if parse_regions(region) == ["all"] or "," in region:
        raise UsageError(f"--region={region}: this verb works in one region",
                         "name one, e.g. --region=us-east-1 (list takes several)")
    return Provider(cloud, config=config, state=state, region=region)


def _vm(arguments: dict) -> int:
    output = check_format(arguments["--output"])
    if arguments["list"]:
        return _list(arguments, output)
    timeout = positive_seconds(arguments["--timeout"], "--timeout", 600)
    if arguments["boot"]:
        return _boot(arguments, output, timeout)
    if arguments["info"] or arguments["status"]:
        provider = _provider(arguments["--cloud"], arguments["--region"])
        outcomes = provider.infos(arguments["NAMES"])
        records = [o.result for o in outcomes if o.ok]
        if arguments["info"] and (len(outcomes) == 1 or output == "table"):
            # one VM reads best as field/value rows (a table of one 16-column row wraps)
            for index, record in enumerate(records):
                if index:
                    sys.stdout.write("\n")
                emit_record(record, output)
        elif records:
            columns = STATUS_COLUMNS if arguments["status"] else None
            single = len(outcomes) == 1 and output in ("json", "yaml")
            emit(records[0] if single else records, output, columns)
        return report_errors(outcomes)
    if arguments["ssh"]:
        from cloudmesh.compute.command.ssh import ssh_session

        ssh_timeout = positive_seconds(arguments["--timeout"], "--timeout", 30)
        return ssh_session(arguments["NAMES"], arguments["--command"], arguments["--cloud"],
                           arguments["--username"], arguments["--key"], arguments["--port"],
                           ssh_timeout)
    if arguments["wait"]:
        state = check_choice((arguments["--state"] or "running").lower(), "--state",
                             WAIT_STATES)
        interval = positive_seconds(arguments["--interval"], "--interval", 2)
        provider = _provider(arguments["--cloud"], arguments["--region"])
        with WaitProgress(target=state) as progress:
            if state == "ssh":
                return report_errors(provider.wait_ssh(arguments["NAMES"], timeout=timeout,
                                                       interval=interval, progress=progress))
            outcomes = provider.wait(arguments["NAMES"], state, timeout=timeout,
                                     interval=interval, progress=progress)
        return report_errors(outcomes)
    from cloudmesh.compute.provider import ACTIONS

    for verb, (method, target) in ACTIONS.items():
        if arguments[verb]:
            return _act(arguments, verb, method, target, timeout)
    raise UsageError("cms vm: no verb given", "see 'cms vm --help'")


def _list(arguments: dict, output: str) -> int:
    from cloudmesh.compute.names import expand

    names = expand(arguments["NAMES"]) if arguments["NAMES"] else None  # bad input first
    selection = list_options(arguments)
    from cloudmesh.compute import workers
    from cloudmesh.compute.regions import parse_regions

    regions = parse_regions(arguments["--region"])
    config, state = _context()
    clouds = workers.target_clouds(arguments["--cloud"], config, state)
    if arguments["--cached"]:
        return _list_cached(clouds, names, config, state, output, selection, regions)
    if len(clouds) == 1:
        config.check_cloud(clouds[0])  # a wrong name is told before the facade loads
    # each (cloud, region) at once; several kinds: one worker process per kind
    listed = workers.run("vm", clouds, regions, {"names": names}, config, state)
    if any(o.ok for o in listed):
        records = [r for outcome in listed if outcome.ok for r in outcome.result]
        _note_spaced_misses(names, records)
        emit(select(records, *selection), output, VM_COLUMNS)
    return workers.report_failures(listed)


def _note_spaced_misses(names: list[str] | None, records: list[dict]) -> None:
    """A name with a space may be a VM made in a web console ('Test Server 2') or two
    names typed as one ('a b'): when no VM has it, say how several names are written."""
    found = {r.get("name") for r in records} | {r.get("id") for r in records}
    for name in names or []:
        if " " in name.strip() and name not in found:
            first, *rest = name.split()
            print(f"note: no VM named {name!r}; several names are separated by commas: "
                  f"{','.join([first, *rest])}", file=sys.stderr)


def _list_cached(clouds: list[str], names: list[str] | None, config, state,
                 output: str, selection: tuple = ({}, None),
                 regions: list[str] | None = None) -> int:
    """The last seen VMs from the state database: no provider is opened, no SDK loaded.
    A table of all VMs comes from the cells stored beside each record (10,000 VMs in
    well under 0.1 s)."""
    valid, failed = [], []
    from cloudmesh.compute.workers import cache_names

    for cloud in clouds:
        try:
            config.check_cloud(cloud)
            valid += cache_names(cloud, regions, state)  # cloud@region: kept apart
        except ConfigError as error:
            failed.append(error)
    from cloudmesh.compute.command import cache_note

    cache_note(state, valid)
    whole = names is None and selection == ({}, None)  # every cached VM, as stored
    if valid and output == "table" and whole:
        from cloudmesh.compute.output import simple_table, table_cells

        rows = [row for cloud in valid for row in state.cached_cells(cloud, "vm")]
        text = simple_table(VM_COLUMNS, rows) if all(
            len(r) == len(VM_COLUMNS) for r in rows) else None
        if text is None:  # cells from an older cms or not plain text: use the records
            records = [r for cloud in valid for r in state.cached(cloud, "vm")]
            rows = table_cells(records, VM_COLUMNS)
            text = simple_table(VM_COLUMNS, rows)
        if text is None:
            emit(records, output, VM_COLUMNS)
        else:
            sys.stdout.write(text + "\n")
    elif valid and output == "json" and whole:
        # the records are stored as JSON: print them as they are, one per line
        texts = [t for cloud in valid for t in state.cached_json(cloud, "vm")]
        sys.stdout.write("[\n" + ",\n".join(texts) + "\n]\n" if texts else "[]\n")
    elif valid:
        records = [r for cloud in valid for r in state.cached(cloud, "vm")
                   if names is None or r["name"] in names or r.get("id") in names]
        emit(select(records, *selection), output, VM_COLUMNS)
    for error in failed:
        print_error(error)
    return worst_exit_code(failed)


def _boot(arguments: dict, output: str, timeout: float) -> int:
    from cloudmesh.compute.names import MAX_NAMES

    count = positive_int(arguments["--n"], "--n")
    if count is not None and count > MAX_NAMES:  # the same limit with --dryrun
        raise UsageError(f"--n={count} is above the limit of {MAX_NAMES}",
                         f"boot at most {MAX_NAMES:,} VMs at once")
    provider = _provider(arguments["--cloud"])
    userdata = None
    if arguments["--userdata"]:
        try:
            with open(arguments["--userdata"], encoding="utf-8") as handle:
                userdata = handle.read()
        except OSError as error:
            raise ConfigError(f"cannot read --userdata file: {error.strerror}: "
                              f"{arguments['--userdata']}") from None
    public_ip = True if arguments["--public-ip"] else (
        False if arguments["--no-public-ip"] else None)
    if arguments["--wait"] and not arguments["--dryrun"]:
        with WaitProgress(target="running") as progress:
            outcomes = _boot_with(provider, arguments, count, userdata, public_ip, timeout,
                                  progress)
    else:
        outcomes = _boot_with(provider, arguments, count, userdata, public_ip, timeout, None)
    if arguments["--dryrun"]:
        # a name that is taken: the dry run refuses it as the boot would, not "would boot"
        taken = {o.item: o.result for o in provider.infos([o.result["name"] for o in outcomes])
                 if o.ok and o.result.get("status") not in ("terminated", "deleting")}
        for outcome in outcomes:
            vm = outcome.result
            if vm["name"] in taken:
                print_error(UsageError(f"a VM named '{vm['name']}' already exists on "
                                       f"'{provider.name}' (status {taken[vm['name']]['status']})"
                                       "; the boot would refuse it", "pick another name"))
                continue
            print(f"would boot {vm['name']} on {provider.name} ({provider.kind}): image={vm['image']} "
                  f"flavor={vm['flavor']} key={vm['key'] or '-'} "
                  f"secgroups={','.join(vm['secgroups']) or '-'}", file=sys.stderr)
        return EXIT_USAGE if taken else 0
    records = [o.result for o in outcomes if o.ok]
    if records:
        emit(records, output, VM_COLUMNS)
    return report_errors(outcomes)


def _boot_with(provider, arguments: dict, count: int | None, userdata: str | None,
               public_ip: bool | None, timeout: float, progress) -> list:
    return provider.boot(
        names=arguments["--name"], count=count,
        image=arguments["--image"], flavor=arguments["--flavor"], key=arguments["--key"],
        secgroups=arguments["--secgroup"], username=arguments["--username"],
        network=arguments["--network"], subnet=arguments["--subnet"],
        zone=arguments["--zone"], disk_gb=arguments["--disk"], public_ip=public_ip,
        userdata=userdata, dryrun=arguments["--dryrun"], wait=arguments["--wait"],
        timeout=timeout, progress=progress)


def _act(arguments: dict, verb: str, method: str, target: str, timeout: float) -> int:
    from cloudmesh.compute.names import expand

    names = expand(arguments["NAMES"])
    provider = _provider(arguments["--cloud"], arguments["--region"])
    dryrun = arguments["--dryrun"]
    confirm_many(provider, verb, names, arguments["--yes"], dryrun)
    outcomes = provider.act(method, names, dryrun=dryrun)
    for outcome in outcomes:
        if outcome.ok:
            if dryrun:
                seen = outcome.result
                known = ("not in the local cache" if seen["state"] == "not cached"
                         else f"last seen {seen['status']}")
                print(f"would {verb} {outcome.item} on {provider.name} ({known})",
                      file=sys.stderr)
            else:
                print(f"{outcome.item}: {verb} requested ({outcome.result['status']})",
                      file=sys.stderr)
    code = report_errors(outcomes)
    started = [o.item for o in outcomes if o.ok]
    if arguments["--wait"] and not dryrun and started:
        with WaitProgress(target=target) as progress:
            waited = provider.wait(started, target, timeout=timeout, progress=progress)
        wait_code = report_errors(waited)
        code = code or wait_code
    return code

"""Multipass: local Ubuntu VMs (images, launch, start/stop, exec, shell, mount, transfer).

Usage:
  cms multipass images [--cloud=CLOUD] [--output=FORMAT] [--filter=KEY=GLOB]... [--limit=N]
  cms multipass list [--cloud=CLOUD] [--output=FORMAT] [--filter=KEY=GLOB]... [--limit=N]
  cms multipass info NAMES [--cloud=CLOUD] [--output=FORMAT]
  cms multipass launch NAMES [--image=IMAGE] [--flavor=FLAVOR] [--cpus=N] [--memory=SIZE]
                [--disk=SIZE] [--cloud-init=FILE] [--network=SPEC]... [--bridged]
                [--mount=MOUNT]... [--timeout=SECONDS] [--cloud=CLOUD] [--dryrun]
                [--output=FORMAT]
  cms multipass create NAMES [--image=IMAGE] [--flavor=FLAVOR] [--cpus=N] [--memory=SIZE]
                [--disk=SIZE] [--cloud-init=FILE] [--network=SPEC]... [--bridged]
                [--mount=MOUNT]... [--timeout=SECONDS] [--cloud=CLOUD] [--dryrun]
                [--output=FORMAT]
  cms multipass start NAMES [--cloud=CLOUD] [--dryrun]
  cms multipass stop NAMES [--cloud=CLOUD] [--dryrun] [--yes]
  cms multipass suspend NAMES [--cloud=CLOUD] [--dryrun] [--yes]
  cms multipass restart NAMES [--cloud=CLOUD] [--dryrun] [--yes]
  cms multipass delete NAMES [--purge] [--cloud=CLOUD] [--dryrun] [--yes]
  cms multipass recover NAMES [--cloud=CLOUD] [--dryrun]
  cms multipass purge [--cloud=CLOUD] [--dryrun] [--yes]
  cms multipass exec NAME [--cloud=CLOUD] [--] COMMAND...
  cms multipass shell NAME [--cloud=CLOUD]
  cms multipass mount SOURCE TARGET [--cloud=CLOUD] [--dryrun]
  cms multipass umount TARGET [--cloud=CLOUD] [--dryrun]
  cms multipass transfer PATHS... [--recursive] [--cloud=CLOUD] [--dryrun]
  cms multipass networks [--cloud=CLOUD] [--output=FORMAT]
  cms multipass version [--cloud=CLOUD] [--output=FORMAT]
  cms multipass get KEY [--cloud=CLOUD]
  cms multipass set SETTING [--cloud=CLOUD] [--dryrun]

Arguments:
  NAMES     instance names; expressions expand: web[01-03], a,b,c. A name has letters,
            digits and hyphens, starts with a letter and does not end with a hyphen
  NAME      one instance name
  COMMAND   the command to run in the instance, after --
  SOURCE    a local directory to mount
  TARGET    NAME[:PATH], a mount point in an instance (all of its mounts if no PATH)
  PATHS     SOURCE... DESTINATION; NAME:PATH is inside an instance, - is stdin/stdout
  KEY       a Multipass setting, e.g. local.driver or local.NAME.cpus
  SETTING   KEY=VALUE

Options:
  --cloud=CLOUD      a cloud of kind multipass [default: multipass]; the cloud named
                     multipass needs no entry in cloudmesh.yaml
  --image=IMAGE      image name or alias from 'cms multipass images' (default: the LTS)
  --flavor=FLAVOR    tiny, small, medium, large, xlarge or NcpuM-G-DG such as
                     2cpu-4G-20G; the size options override its sizes
  --cpus=N           number of CPUs
  --memory=SIZE      memory, e.g. 2G or 512M
  --disk=SIZE        disk, e.g. 10G
  --cloud-init=FILE  a cloud-init user-data file (- for stdin)
  --network=SPEC     an extra network: NAME or name=NAME,mode=auto|manual,mac=MAC
  --bridged          add the network set with 'cms multipass set local.bridged-network=...'
  --mount=MOUNT      SRC[:DST], a local directory to mount in the new instance
  --timeout=SECONDS  how long Multipass may take to launch an instance
  --purge            delete for good (otherwise 'cms multipass recover' brings it back)
  --recursive        transfer directories with their contents
  --dryrun           print the multipass commands; change nothing
  --yes              stop, suspend, restart or delete more than 'cms set confirm_above='
                     (default 10) instances, or purge, without being asked; without a
                     terminal these are refused unless --yes is given
  -o, --output=FORMAT  table, json, yaml or csv [default: table]
  --filter=KEY=GLOB  for images and list: only records whose field KEY matches the shell
                     pattern GLOB (status=running, name=web*); several keys: all must match
  --limit=N          for images and list: at most N records (after --filter)

exec, shell and a transfer to or from - run multipass on this terminal and return its
exit status. Multipass is installed with 'sudo snap install multipass' on Linux, or the
installer from https://canonical.com/multipass/install on macOS and Windows.
"""

from __future__ import annotations

import sys
TYPE_CHECKING = False  # typing costs ms on 'cms help', which imports this module
if TYPE_CHECKING:
    from typing import Any, Callable

from cloudmesh.compute.command import report_errors, run_command
from cloudmesh.compute.errors import UsageError
from cloudmesh.compute.command import list_options
from cloudmesh.compute.output import check_format, emit, select

VM_COLUMNS = ["name", "status", "state", "private_ips", "image", "flavor"]
INFO_COLUMNS = ["name", "status", "state", "private_ips", "image", "flavor", "cpus", "memory",
                "disk", "mounts", "zone"]
IMAGE_COLUMNS = ["name", "aliases", "os", "version", "status"]
NETWORK_COLUMNS = ["name", "type", "description"]
#: cms multipass verb -> (facade verb, what is said when it is done)
_ACTIONS = {"start": ("start", "started"), "stop": ("stop", "stopped"),
            "suspend": ("suspend", "suspended"), "restart": ("reboot", "restarted")}


def run(argv: list[str]) -> int:
    return run_command(_multipass, __doc__, argv)


def _multipass(arguments: dict) -> int:
    output = check_format(arguments["--output"])
    list_options(arguments)  # a bad --filter or --limit before anything runs
    facade = _open(arguments["--cloud"])
    for verb, handler in _HANDLERS.items():
        if arguments[verb]:
            return handler(arguments, facade, output)
    raise UsageError("cms multipass: no verb given", "see 'cms multipass --help'")


def _open(cloud: str | None):
    """The facade of a multipass cloud (``multipass`` needs no yaml entry)."""
    from cloudmesh.compute.config import Config
    from cloudmesh.compute.provider import Provider
    from cloudmesh.compute.state import State

    facade = Provider(cloud or "multipass", config=Config(), state=State())
    if facade.kind != "multipass":
        raise UsageError(f"cloud '{facade.name}' is of kind {facade.kind}, not multipass",
                         "pick a multipass cloud with --cloud")
    return facade


def _names(expression: str) -> list[str]:
    """Expanded names, each valid for Multipass, before anything runs."""
    from cloudmesh.compute.names import expand
    from cloudmesh.multipass.parsing import check_name

    return [check_name(name) for name in expand(expression)]


def _confirm_many(facade, verb: str, names: list[str], arguments: dict) -> None:
    """The rule of 'cms vm': more than 'cms set confirm_above=' names at once with a
    destructive verb needs --yes, or a 'y' typed at a terminal."""
    from cloudmesh.compute.command import confirm_many

    confirm_many(facade, verb, names, arguments["--yes"], arguments.get("--dryrun") or False)


def _would(argv: list[str]) -> None:
    import shlex

    print(f"would run: {shlex.join(['multipass', *argv])}", file=sys.stderr)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _emit_one_or_many(records: list[dict], output: str, columns: list[str] | None,
                      single: bool) -> None:
    if output in ("json", "yaml") and single and records:
        emit(records[0], output, columns)
    else:
        emit(records, output, columns)


# ---- verbs ------------------------------------------------------------------------
def _images(arguments: dict, facade, output: str) -> int:
    records = facade.images()
    if output in ("table", "csv"):  # aliases are what people launch by
        records = [{**r, "aliases": (r.get("native") or {}).get("aliases", [])}
                   for r in records]
    emit(select(records, *list_options(arguments)), output, IMAGE_COLUMNS)
    return 0


def _list(arguments: dict, facade, output: str) -> int:
    emit(select(facade.list(), *list_options(arguments)), output, VM_COLUMNS)
    return 0


def _details(record: dict) -> dict:
    """A vm record with the sizes and mounts Multipass reports, for the info table."""
    from cloudmesh.multipass.parsing import to_bytes

    native = record.get("native") or {}

    def size(used: Any, total: Any) -> str:
        parts = [to_bytes(used), to_bytes(total)]
        if not parts[1]:
            return ""
        text = f"{parts[1] / 2 ** 30:.1f}GiB"
        return f"{parts[0] / 2 ** 30:.1f}GiB of {text}" if parts[0] else text

    memory = native.get("memory") if isinstance(native.get("memory"), dict) else {}
    disks = [d for d in (native.get("disks") or {}).values() if isinstance(d, dict)]
    disk = disks[0] if disks else {}
    mounts = native.get("mounts") if isinstance(native.get("mounts"), dict) else {}
    return {**record, "cpus": native.get("cpu_count") or "",
            "memory": size(memory.get("used"), memory.get("total")),
            "disk": size(disk.get("used"), disk.get("total")),
            "mounts": [f"{(m or {}).get('source_path')} => {target}"
                       for target, m in mounts.items()]}


def _info(arguments: dict, facade, output: str) -> int:
    names = _names(arguments["NAMES"])
    outcomes = facade.infos(names)
    records = [o.result for o in outcomes if o.ok]
    if records:
        if output in ("table", "csv"):
            records = [_details(r) for r in records]
        _emit_one_or_many(records, output, INFO_COLUMNS if output in ("table", "csv")
                          else None, single=len(names) == 1)
    return report_errors(outcomes)


def _launch(arguments: dict, facade, output: str) -> int:
    from cloudmesh.compute.provider import fan_out
    from cloudmesh.multipass.parsing import flavor_sizes, launch_argv

    names = _names(arguments["NAMES"])
    cpus, memory, disk = arguments["--cpus"], arguments["--memory"], arguments["--disk"]
    if arguments["--flavor"]:  # the flavor's sizes, unless given one by one
        vcpus, ram_mb, disk_gb = flavor_sizes(arguments["--flavor"], facade.name)
        cpus, memory, disk = cpus or vcpus, memory or f"{ram_mb}M", disk or f"{disk_gb:g}G"
    options = {"image": arguments["--image"], "cpus": cpus, "memory": memory, "disk": disk,
               "cloud_init": arguments["--cloud-init"], "networks": arguments["--network"],
               "bridged": arguments["--bridged"], "mounts": arguments["--mount"],
               "timeout": arguments["--timeout"]}
    argvs = {name: launch_argv(name, **options) for name in names}  # validates
    if arguments["--dryrun"]:
        for argv in argvs.values():
            _would(argv)
        return 0
    for name in names:
        _say(f"{name}: launching on {facade.name} "
             f"({arguments['--image'] or 'default image'})")

    def launch(name: str) -> dict:
        return facade.call("launch", name, **options)

    outcomes = fan_out(launch, names)
    records = [o.result for o in outcomes if o.ok]
    for record in records:
        facade.state.cache_put(facade.name, "vm", record)
    if records:
        emit(records, output, VM_COLUMNS)
    return report_errors(outcomes)


def _action(verb: str) -> Callable[[dict, Any, str], int]:
    method, done = _ACTIONS[verb]

    def act(arguments: dict, facade, output: str) -> int:
        names = _names(arguments["NAMES"])
        if arguments["--dryrun"]:
            for name in names:
                _would([verb, name])
            return 0
        _confirm_many(facade, method, names, arguments)
        outcomes = facade.act(method, names)
        for outcome in outcomes:
            if outcome.ok:
                _say(f"{outcome.item}: {done} ({outcome.result['status']})")
        return report_errors(outcomes)
    return act


def _delete(arguments: dict, facade, output: str) -> int:
    from cloudmesh.compute.provider import fan_out

    names, purge = _names(arguments["NAMES"]), arguments["--purge"]
    if arguments["--dryrun"]:
        for name in names:
            _would(["delete", name, *(["--purge"] if purge else [])])
        return 0
    _confirm_many(facade, "delete", names, arguments)
    if purge:
        outcomes = fan_out(lambda n: facade.call("delete", n, purge=True), names)
    else:
        outcomes = facade.act("destroy", names)
    for outcome in outcomes:
        if not outcome.ok:
            continue
        if purge:
            facade.state.cache_remove(facade.name, "vm", outcome.item)
            _say(f"{outcome.item}: purged")
        else:
            _say(f"{outcome.item}: deleted; 'cms multipass recover {outcome.item}' brings it "
                 "back until 'cms multipass purge'")
    return report_errors(outcomes)


def _recover(arguments: dict, facade, output: str) -> int:
    from cloudmesh.compute.provider import fan_out

    names = _names(arguments["NAMES"])
    if arguments["--dryrun"]:
        for name in names:
            _would(["recover", name])
        return 0
    outcomes = fan_out(lambda n: facade.call("recover", n), names)
    for outcome in outcomes:
        if outcome.ok:
            facade.state.cache_put(facade.name, "vm", outcome.result)
            _say(f"{outcome.item}: recovered ({outcome.result['status']})")
    return report_errors(outcomes)


def _purge(arguments: dict, facade, output: str) -> int:
    deleted = [r["name"] for r in facade.list() if r["status"] == "terminated"]
    if arguments["--dryrun"]:
        _would(["purge"])
        _say(f"would purge: {', '.join(deleted) or 'nothing'}")
        return 0
    if deleted:  # for good: asked every time, whatever the number
        from cloudmesh.compute.command import confirm

        shown = ", ".join(deleted[:3]) + (f", ... {deleted[-1]}" if len(deleted) > 3 else "")
        confirm(f"purge {len(deleted)} deleted instances on {facade.name} for good ({shown})?",
                arguments["--yes"], "purge")
    facade.call("purge")
    for name in deleted:
        facade.state.cache_remove(facade.name, "vm", name)
    _say(f"purged: {', '.join(deleted) or 'nothing'}")
    return 0


def _exec(arguments: dict, facade, output: str) -> int:
    from cloudmesh.multipass.parsing import exec_argv

    return facade.provider.run_interactive(*exec_argv(arguments["NAME"], arguments["COMMAND"]))


def _shell(arguments: dict, facade, output: str) -> int:
    from cloudmesh.multipass.parsing import shell_argv

    return facade.provider.run_interactive(*shell_argv(arguments["NAME"]))


def _split_target(target: str) -> tuple[str, str | None]:
    from cloudmesh.multipass.parsing import check_name

    name, _, path = target.partition(":")
    return check_name(name), path or None


def _mount(arguments: dict, facade, output: str) -> int:
    import os

    name, path = _split_target(arguments["TARGET"])
    source = os.path.abspath(os.path.expanduser(arguments["SOURCE"]))
    if arguments["--dryrun"]:
        _would(["mount", source, f"{name}:{path}" if path else name])
        return 0
    facade.call("mount", source, name, path)
    _say(f"{name}: mounted {source} at {path or 'the default mount point'}")
    return 0


def _umount(arguments: dict, facade, output: str) -> int:
    name, path = _split_target(arguments["TARGET"])
    if arguments["--dryrun"]:
        _would(["umount", f"{name}:{path}" if path else name])
        return 0
    facade.call("umount", name, path)
    _say(f"{name}: unmounted {path or 'every mount'}")
    return 0


def _transfer(arguments: dict, facade, output: str) -> int:
    from cloudmesh.multipass.parsing import transfer_argv

    paths, recursive = arguments["PATHS"], arguments["--recursive"]
    argv = transfer_argv(paths, recursive)
    if arguments["--dryrun"]:
        _would(argv)
        return 0
    if "-" in paths:  # stdin or stdout streams through this terminal
        return facade.provider.run_interactive(*argv)
    facade.call("transfer", paths, recursive)
    _say(f"transferred {', '.join(paths[:-1])} to {paths[-1]}")
    return 0


def _networks(arguments: dict, facade, output: str) -> int:
    emit(facade.call("networks"), output, NETWORK_COLUMNS)
    return 0


def _version(arguments: dict, facade, output: str) -> int:
    versions = facade.call("version")
    rows = {"multipass": versions.get("multipass"), "multipassd": versions.get("multipassd")}
    if output == "table":
        emit([{"component": k, "version": v or "not answering"} for k, v in rows.items()],
             output, ["component", "version"])
    else:
        emit(rows if output in ("json", "yaml") else [rows], output)
    return 0


def _get(arguments: dict, facade, output: str) -> int:
    print(facade.call("get", arguments["KEY"]))
    return 0


def _set(arguments: dict, facade, output: str) -> int:
    key, equals, value = arguments["SETTING"].partition("=")
    if not key or not equals:
        raise UsageError(f"set takes KEY=VALUE, not '{arguments['SETTING']}'",
                         "e.g. cms multipass set local.bridged-network=eth0")
    if arguments["--dryrun"]:
        _would(["set", f"{key}={value}"])
        return 0
    facade.call("set", key, value)
    _say(f"{key} set")
    return 0


_HANDLERS: dict[str, Callable[[dict, Any, str], int]] = {
    "images": _images, "list": _list, "info": _info, "launch": _launch, "create": _launch,
    "start": _action("start"), "stop": _action("stop"), "suspend": _action("suspend"),
    "restart": _action("restart"), "delete": _delete, "recover": _recover, "purge": _purge,
    "exec": _exec, "shell": _shell, "mount": _mount, "umount": _umount,
    "transfer": _transfer, "networks": _networks, "version": _version, "get": _get,
    "set": _set,
}

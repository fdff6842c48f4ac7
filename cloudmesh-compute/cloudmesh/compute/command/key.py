"""Manage SSH keys: the local registry and the key pairs on clouds.

Usage:
  cms key list [--cloud=CLOUD] [--region=REGIONS] [--output=FORMAT] [--filter=KEY=GLOB]...
               [--limit=N]
  cms key add NAME [--source=FILE]
  cms key gen NAME
  cms key upload NAMES [--cloud=CLOUD]
  cms key delete NAMES [--cloud=CLOUD]

Arguments:
  NAME    the key's name (on every cloud it is uploaded to)
  NAMES   key names; expressions expand: a,b or k[1-2]

Options:
  --cloud=CLOUD    list or delete the keys on this cloud instead of the local registry;
                   upload to this cloud (default: 'cms set cloud=', then
                   cloudmesh.default.cloud); for list, several clouds (a,b) or all
                   (every configured cloud)
  --region=REGIONS for list on clouds: these regions (R1,R2) or all, where key pairs are
                   kept per region (aws, openstack; azure: resource groups)
  --source=FILE    the public key file (default: ~/.ssh/id_ed25519.pub, then id_rsa.pub)
  -o, --output=FORMAT  table, json, yaml or csv [default: table]
  --filter=KEY=GLOB  for list: only keys whose field KEY matches the shell pattern GLOB
                     (name=lab*, type=ssh-ed25519); several keys: all must match
  --limit=N          for list: at most N keys (after --filter)

'add' validates the key and records its name, type, fingerprint (SHA256, as ssh-keygen -l
prints it) and path. 'gen' writes a new ed25519 pair under the config directory's keys/
folder (private key 0600, never printed). 'upload' imports keys to a cloud: the same key
already there is left alone, another key under the same name is an error that names both
fingerprints. 'delete' without --cloud forgets a key locally and keeps its files.
"""

from __future__ import annotations

import sys

from cloudmesh.compute.command import open_provider, report_outcomes, run_command
from cloudmesh.compute.errors import NotFound, UsageError
from cloudmesh.compute.command import list_options
from cloudmesh.compute.output import check_format, emit, select

LOCAL_COLUMNS = ["name", "type", "fingerprint", "path"]
CLOUD_COLUMNS = ["name", "fingerprint", "cloud", "kind"]


def run(argv: list[str]) -> int:
    return run_command(_key, __doc__, argv)


def _key(arguments: dict) -> int:
    from cloudmesh.compute.state import State

    state = State()
    if arguments["list"]:
        output = check_format(arguments["--output"])
        selection = list_options(arguments)
        if arguments["--region"] and not arguments["--cloud"]:
            raise UsageError("--region lists key pairs on clouds; the local registry has "
                             "no regions", "give --cloud too, e.g. --cloud=all --region=all")
        from cloudmesh.compute import workers

        if workers.spread(arguments["--cloud"], arguments["--region"]):
            return _list_spread(arguments, state, output, selection)
        if arguments["--cloud"]:
            emit(select(open_provider(arguments["--cloud"], state).keys(), *selection),
                 output, CLOUD_COLUMNS)
        else:
            emit(select(state.keys(), *selection), output, LOCAL_COLUMNS)
        return 0
    if arguments["add"]:
        return _add(state, arguments["NAME"], arguments["--source"])
    if arguments["gen"]:
        return _gen(state, arguments["NAME"])
    if arguments["upload"]:
        provider = open_provider(arguments["--cloud"], state)
        outcomes = provider.upload_keys(arguments["NAMES"])
        return report_outcomes(outcomes, lambda key: f"{key['action']} on "
                               f"{provider.name} ({key['fingerprint']})")
    if arguments["delete"]:
        if arguments["--cloud"]:
            outcomes = open_provider(arguments["--cloud"], state).delete_keys(arguments["NAMES"])
            return report_outcomes(outcomes, lambda _: f"deleted on {arguments['--cloud']}")
        from cloudmesh.compute.names import expand

        names = expand(arguments["NAMES"])
        missing = [n for n in names if state.key_get(n) is None]
        if missing:
            raise NotFound(f"key '{missing[0]}' is not in the local registry", "see 'cms key list'")
        for name in names:
            entry = state.key_get(name)
            state.key_delete(name)
            print(f"{name}: forgotten locally (files kept: {entry['path']})", file=sys.stderr)
        return 0
    raise UsageError("cms key: no verb given", "see 'cms key --help'")


def _list_spread(arguments: dict, state, output: str, selection: tuple) -> int:
    """Key pairs over several clouds or regions at once (cloudmesh.compute.workers)."""
    from cloudmesh.compute import workers
    from cloudmesh.compute.config import Config

    records, listed = workers.list_records("key", arguments["--cloud"],
                                           arguments["--region"], {}, Config(), state)
    if any(o.ok for o in listed):
        emit(select(records, *selection), output, CLOUD_COLUMNS
             + (["region"] if arguments["--region"] else []))
    return workers.report_failures(listed)


def _add(state, name: str, source: str | None) -> int:
    from cloudmesh.compute.keysgroups import Keys

    entry = Keys(state).add(name, source)
    print(f"{name}: {entry['type']} {entry['fingerprint']} ({entry['path']})"
          f"{' (already registered)' if entry['action'] == 'unchanged' else ''}",
          file=sys.stderr)
    return 0


def _gen(state, name: str) -> int:
    from cloudmesh.compute.keysgroups import Keys

    if state.key_get(name):  # (the library's hint names its exist_ok argument)
        raise UsageError(f"key '{name}' is already registered", "pick another name")
    entry = Keys(state).gen(name)
    print(f"{name}: new ed25519 key {entry['fingerprint']}; public key {entry['path']}, "
          f"private key {entry['private_path']} (mode 0600)", file=sys.stderr)
    return 0

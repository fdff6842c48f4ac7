"""Log into VMs or run commands on them over SSH; manage their ~/.ssh/config entries.

Usage:
  cms ssh config list [--output=FORMAT]
  cms ssh config add NAMES [--cloud=CLOUD] [--username=USER] [--key=KEY] [--port=PORT]
  cms ssh config delete NAMES
  cms ssh NAMES [--cloud=CLOUD] [--username=USER] [--key=KEY] [--port=PORT]
              [--timeout=SECONDS] [--] [COMMAND...]

Arguments:
  NAMES     VM names; several run the command in parallel, each output line prefixed
  COMMAND   the command to run (quote it, or put it after --); without one, an
            interactive session (one VM only) with the system ssh

Options:
  --cloud=CLOUD      the VM's cloud (default: the cloud the VM was last seen on, then the
                     default cloud)
  --username=USER    login user (default: the VM's metadata, then the cloud's
                     default.username, then your user name)
  --key=KEY          a key of 'cms key list', or a private key file (default: the VM's key)
  --port=PORT        sshd port (default: the cloud's default.ssh_port, else 22)
  --timeout=SECONDS  how long to wait for the VM to answer [default: 30]
  --output=FORMAT    table, json, yaml or csv [default: table]

Host keys are kept in known_hosts beside cloudmesh.yaml: the first contact records the
key, a changed key is refused. 'config add' writes a Host block per VM into ~/.ssh/config
(between '# >>> cms NAME' and '# <<< cms NAME' lines) and leaves the rest of the file as
it is; a VM whose name, address or user is not plain (letters, digits, '.', '_', '-'; an
IP address or DNS name; a login name) is refused, since OpenSSH would run what it says.
The exit code of a command is the remote command's exit status.
"""

from __future__ import annotations

import sys

from cloudmesh.compute.command import positive_seconds, report_errors, run_command
from cloudmesh.compute.errors import UsageError


def run(argv: list[str]) -> int:
    return run_command(_ssh, __doc__, argv)


def _ssh(arguments: dict) -> int:
    if arguments["config"] and (arguments["list"] or arguments["add"] or arguments["delete"]):
        return _config(arguments)
    command = " ".join(arguments["COMMAND"]) if arguments["COMMAND"] else None
    return ssh_session(arguments["NAMES"], command, cloud=arguments["--cloud"],
                       username=arguments["--username"], key=arguments["--key"],
                       port=arguments["--port"], timeout=positive_seconds(
                           arguments["--timeout"], "--timeout", 30))


def provider_for(names: list[str], cloud: str | None):
    """The Provider of the VMs: --cloud, else the one cloud the cache saw them on, else
    the default cloud."""
    from cloudmesh.compute.config import Config
    from cloudmesh.compute.provider import Provider
    from cloudmesh.compute.state import State

    config, state = Config(), State()
    if not cloud:
        seen = {r["cloud"] for name in names for r in state.find(name)}
        if len(seen) == 1:
            cloud = seen.pop()
    return Provider(cloud, config=config, state=state)


def ssh_session(names_expression: str, command: str | None, cloud: str | None = None,
                username: str | None = None, key: str | None = None,
                port: str | None = None, timeout: float = 30) -> int:
    """Shared by 'cms ssh' and 'cms vm ssh'."""
    from cloudmesh.compute.names import expand
    from cloudmesh.compute.provider import fan_out
    from cloudmesh.compute.sshclient import interactive, run_command

    names = expand(names_expression)
    if port is not None:
        from cloudmesh.compute.sshclient import check_port

        check_port(port)
    provider = provider_for(names, cloud)
    options = {"username": username, "key": key, "port": port}
    if command is None:
        if len(names) != 1:
            raise UsageError("an interactive session takes one VM",
                             "give a command to run on several")
        return interactive(provider.ssh_target(names[0], **options), timeout)
    several = len(names) > 1
    outcomes = fan_out(lambda n: run_command(provider.ssh_target(n, **options), command,
                                             prefix=several, timeout=timeout), names)
    code = report_errors(outcomes)
    statuses = [o.result for o in outcomes if o.ok]
    if several:
        for outcome in outcomes:
            if outcome.ok and outcome.result:
                print(f"{outcome.item}: exit status {outcome.result}", file=sys.stderr)
    return code or next((s for s in statuses if s), 0)


def _config(arguments: dict) -> int:
    from cloudmesh.compute import sshconfig

    if arguments["list"]:
        from cloudmesh.compute.output import check_format, emit

        output = check_format(arguments["--output"])
        emit(sshconfig.entries(), output, ["host", "hostname", "user", "port", "identityfile"])
        return 0
    from cloudmesh.compute.names import expand

    names = expand(arguments["NAMES"])
    if arguments["delete"]:
        removed = sshconfig.remove(names)
        for name in names:
            print(f"{name}: {'removed from' if name in removed else 'not in'} "
                  f"{sshconfig.ssh_config_path()}", file=sys.stderr)
        return 0 if len(removed) == len(names) else 3
    provider = provider_for(names, arguments["--cloud"])
    from cloudmesh.compute.provider import fan_out

    outcomes = fan_out(lambda n: sshconfig.checked(provider.ssh_target(
        n, username=arguments["--username"], key=arguments["--key"],
        port=arguments["--port"])), names)
    targets = [o.result for o in outcomes if o.ok]
    if targets:
        sshconfig.add(targets)
        for target in targets:
            print(f"{target.name}: Host block written to {sshconfig.ssh_config_path()}",
                  file=sys.stderr)
    return report_errors(outcomes)

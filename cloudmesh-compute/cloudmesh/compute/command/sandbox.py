"""A cloud of your own on this computer: emulated EC2, an SSH server playing its VMs, and
a Multipass stand-in.

Usage:
  cms sandbox start [--cloud=CLOUD]
  cms sandbox stop
  cms sandbox status [--output=FORMAT]

Options:
  --cloud=CLOUD        the name of the sandbox's EC2 cloud in cloudmesh.yaml [default: sandbox]
  -o, --output=FORMAT  table, json, yaml or csv [default: table]

'start' runs, in one background process that stays up after cms ends, moto's EC2 server
on 127.0.0.1 and an SSH server on 127.0.0.1 that plays every VM booted there; it adds the
cloud 'sandbox' (cm.sandbox: true) to cloudmesh.yaml with a default image, flavor and
username, so that

    cms key gen mykey
    cms vm boot --cloud=sandbox --key=mykey --wait
    cms vm ssh NAME --command="uname -a"

need nothing else. The SSH server accepts a key once a boot has uploaded it and it is one
of 'cms key list'; commands run as you, on this computer. Without Multipass installed,
'start' also adds the cloud 'multipass' (or 'sandbox-multipass' when you have one) run by
a stand-in that remembers instances but starts none ('cms multipass images').

'stop' ends the process and removes the entries and files 'start' wrote (in
CONFIG_DIR/sandbox/); your other clouds are never touched. A second 'start' says that the
sandbox runs; 'stop' when it is stopped says so. Everything the sandbox holds is lost
when it stops. It needs moto: pip install 'cloudmesh-compute[sandbox]'.
"""

from __future__ import annotations

import sys

from cloudmesh.compute.command import run_command


def run(argv: list[str]) -> int:
    return run_command(_sandbox, __doc__, argv)


def _sandbox(arguments: dict) -> int:
    from cloudmesh.compute.sandbox import control

    if arguments["start"]:
        return _start(control, arguments["--cloud"])
    if arguments["stop"]:
        outcome = control.stop()
        if outcome["was_running"]:
            removed = ", ".join(outcome["removed"]) or "none"
            print(f"The sandbox is stopped; clouds removed from cloudmesh.yaml: {removed}")
        else:
            left = f" (removed its leftover clouds: {', '.join(outcome['removed'])})" \
                if outcome["removed"] else ""
            print(f"The sandbox is not running{left}.")
        return 0
    return _status(control, arguments["--output"])


def _start(control, cloud: str) -> int:
    started = control.start(cloud)
    ec2, ssh = started["ec2"], started["ssh"]
    if not started["started"]:
        print(f"The sandbox is already running (EC2 on 127.0.0.1:{ec2}, SSH on "
              f"127.0.0.1:{ssh}; clouds {', '.join(started['clouds'])}); "
              "'cms sandbox stop' ends it.")
        return 0
    name = started["clouds"][0]
    print(f"The sandbox runs (pid {started['pid']}): EC2 on 127.0.0.1:{ec2} as the cloud "
          f"'{name}', SSH for its VMs on 127.0.0.1:{ssh}.")
    if started.get("multipass"):
        print(f"Multipass stand-in (no VM runs): the cloud '{started['multipass']}'.")
    else:
        print("Multipass is installed: the sandbox adds no stand-in.", file=sys.stderr)
    print("Try:\n"
          "  cms key gen mykey                 # once: a key of your own\n"
          f"  cms vm boot --cloud={name} --key=mykey --wait\n"
          f"  cms vm list --cloud={name}\n"
          "  cms vm ssh NAME --command='uname -a'\n"
          "  cms sandbox stop                  # ends it; your other clouds stay")
    return 0


def _status(control, output: str) -> int:
    from cloudmesh.compute.output import check_format, emit_record

    fmt = check_format(output)
    state = control.status()
    record = {"status": "running" if state["running"] else "stopped",
              "pid": state["pid"] if state["running"] else None,
              "ec2": f"127.0.0.1:{state['ec2']}" if state["running"] else None,
              "ssh": f"127.0.0.1:{state['ssh']}" if state["running"] else None,
              "clouds": ",".join(state["clouds"]) if state["running"] else None}
    if fmt == "table":
        if state["running"]:
            print(f"running (pid {record['pid']}): EC2 on {record['ec2']}, SSH on "
                  f"{record['ssh']}; clouds {record['clouds']}")
        else:
            print("stopped ('cms sandbox start' starts it)")
        return 0
    emit_record(record, fmt)
    return 0

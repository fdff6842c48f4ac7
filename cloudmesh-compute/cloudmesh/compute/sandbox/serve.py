"""The sandbox's background process: moto's EC2 server and the SSH server that plays the
VMs, until SIGTERM.

    python -m cloudmesh.compute.sandbox.serve DIRECTORY

It writes ``DIRECTORY/ports.json`` (0600) once both listen; ``cms sandbox start`` waits
for that file. Every quarter second it trusts, on the SSH server, the public keys that
were uploaded to moto and are in the user's own key registry (``cms key list``).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from pathlib import Path

from cloudmesh.compute.sandbox.entries import USERNAME

PORTS_FILE = "ports.json"
REFRESH_SECONDS = 0.25


def _blob(line: str) -> tuple[str, str] | None:
    """(type, base64) of an OpenSSH public key line, without its comment."""
    fields = line.split()
    return (fields[0], fields[1]) if len(fields) >= 2 else None


def uploaded_keys() -> set[tuple[str, str]]:
    """The public keys of every key pair held by this process's moto (all accounts and
    regions already in use; reading never creates a region's backend)."""
    from moto.ec2.models import ec2_backends

    found = set()
    for account in list(dict.values(ec2_backends)):
        for backend in list(dict.values(account)):
            for pair in list(backend.key_pairs.values()):
                blob = _blob(pair.public_key) if pair.material_public else None
                if blob:
                    found.add(blob)
    return found


class Registry:
    """The user's own public keys (the cms key registry), by (type, base64). One State
    for the process's life: opening it may wait for another cms's write, reading it
    (WAL) does not."""

    def __init__(self) -> None:
        self._state = None

    def keys(self) -> dict[tuple[str, str], str]:
        from cloudmesh.compute.state import State

        if self._state is None:
            self._state = State()
        keys = {}
        for key in self._state.keys():
            blob = _blob(key.get("public_key") or "")
            if blob:
                keys[blob] = key["public_key"].strip()
        return keys


def trusted_lines(registry: Registry) -> list[str]:
    own = registry.keys()
    return sorted(own[blob] for blob in uploaded_keys() if blob in own)


def keep_keys_current(ssh, stopping: threading.Event) -> None:
    """Trust on ``ssh`` the keys both uploaded to moto and the user's own, from the next
    login on; runs on its own thread so that a slow database never delays a stop."""
    registry = Registry()
    trusted: list[str] = []
    while not stopping.wait(REFRESH_SECONDS):
        try:
            lines = trusted_lines(registry)
        except Exception as error:  # a database another cms holds: keep the keys, retry
            print(f"sandbox: could not read the keys: {error}", file=sys.stderr, flush=True)
            continue
        if lines != trusted:
            ssh.set_authorized_keys(lines)
            trusted = lines
            print(f"sandbox: the SSH server trusts {len(lines)} key(s)", flush=True)


def write_ports(directory: Path, ports: dict) -> None:
    from cloudmesh.compute.files import atomic_write

    atomic_write(directory / PORTS_FILE, json.dumps(ports))


def serve(directory: Path) -> None:
    # EC2 refuses unknown AMIs and instance types; so does the sandbox
    os.environ.setdefault("MOTO_ENABLE_AMI_VALIDATION", "true")
    os.environ.setdefault("MOTO_EC2_ENABLE_INSTANCE_TYPE_VALIDATION", "true")
    # the SSH server's login is the AMI's (ubuntu), which only the asyncssh backend takes
    os.environ.pop("CMS_TEST_SSH_SERVER", None)
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request in the log

    from cloudmesh.compute.testing.sshd import start_ssh_server

    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())

    ec2 = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    ec2.start()
    ssh = start_ssh_server(directory / "ssh", "127.0.0.1", authorized_keys=[], user=USERNAME)
    try:
        write_ports(directory, {"pid": os.getpid(), "ec2": ec2.get_host_and_port()[1],
                                "ssh": ssh.port, "ssh_user": ssh.user})
        print(f"sandbox: EC2 on 127.0.0.1:{ec2.get_host_and_port()[1]}, "
              f"SSH on 127.0.0.1:{ssh.port}", flush=True)
        threading.Thread(target=keep_keys_current, args=(ssh, stopping), daemon=True,
                         name="sandbox-keys").start()
        while not stopping.wait(1):  # wakes for the signal handler
            pass
    finally:
        ssh.stop()
        ec2.stop()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m cloudmesh.compute.sandbox.serve DIRECTORY", file=sys.stderr)
        return 2
    serve(Path(argv[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())

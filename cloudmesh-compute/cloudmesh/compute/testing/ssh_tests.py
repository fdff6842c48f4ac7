"""The conformance suite's SSH tests (a part of ``ComputeProviderSuite``): a VM booted
with a key, reached at the address the provider reports by an SSH server that trusts
exactly the keys the boot delivered. The tests only read the VM, so they share one per
class and test cloud (as ``shared_vm``); each checks again that the cloud holds the key.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from cloudmesh.compute.errors import CloudError
from cloudmesh.compute.provider import Provider
from cloudmesh.compute.testing.fixtures import require_ssh_server


class SshTests:
    """The SSH part of the suite; ``ComputeProviderSuite`` provides ``boot``,
    ``new_name``, ``cloud_identity``, ``still_running`` and the ``delivered_keys`` hook."""

    @pytest.fixture(scope="class")
    @classmethod
    def shared_ssh_vms(cls):
        """The class's VMs booted with a key for SSH, each with its SSH server, by test
        cloud; the servers stop with the class."""
        entries: dict[tuple, dict[str, Any]] = {}
        yield entries
        for entry in entries.values():
            entry["server"].stop()

    def boot_for_ssh(self, provider: Provider, directory: Path) -> dict[str, Any]:
        """A running VM booted with a fresh key for the local user (its private key in
        ``directory``), and an SSH server at the VM's own address trusting exactly the
        keys the boot delivered."""
        import getpass
        import ipaddress

        from cloudmesh.compute.keys import generate_ed25519
        from cloudmesh.compute.testing.sshd import start_ssh_server

        key_name = self.new_name()
        key = generate_ed25519(directory / "keys" / key_name, "conformance")
        provider.state.key_put({"name": key_name, **key})
        user = getpass.getuser()
        vm = self.boot(provider, key=key_name, username=user)
        host, _ = provider.provider.ssh_address(vm)
        assert ipaddress.ip_address(host).is_loopback, (
            f"the test cloud must give its VMs 127.0.0.0/8 addresses, not {host}")
        server = start_ssh_server(directory / "sshd", host=host,
                                  authorized_keys=self.keys_delivered(provider, vm, key,
                                                                      key_name), user=user)
        return {"vm": vm, "server": server, "key": key_name, "public_key": key["public_key"],
                "user": user}

    def keys_delivered(self, provider: Provider, vm: dict[str, Any], key: dict[str, Any],
                       key_name: str) -> list[str]:
        """The keys the test cloud holds for ``vm``; fails unless ``key`` is among them."""
        delivered = [line.strip() for line in self.delivered_keys(provider, vm)]
        assert key["public_key"].split()[:2] in [line.split()[:2] for line in delivered], (
            f"the boot did not deliver key {key_name} to {vm['name']}: {delivered}")
        return delivered

    @pytest.fixture
    def ssh_vm(self, provider: Provider, shared_ssh_vms: dict[tuple, dict[str, Any]],
               tmp_path_factory: pytest.TempPathFactory):
        """A running VM booted with a fresh key for the local user, and an SSH server at
        the VM's own address trusting exactly the keys the boot delivered. Only the
        cloud's ssh_port is set (the server cannot listen on 22). The SSH tests only read
        the VM: they share one per class and test cloud (as ``shared_vm``), each checking
        again that the cloud still holds the delivered key."""
        require_ssh_server()
        if provider.provider.key_delivery is None:
            pytest.skip(f"{provider.kind} delivers no keys")
        where = self.cloud_identity(provider)
        entry = shared_ssh_vms.get(where)
        fresh = entry and self.still_running(provider, entry["vm"])
        if fresh:
            entry["vm"] = fresh
            self.keys_delivered(provider, fresh, {"public_key": entry["public_key"]},
                                entry["key"])
        else:
            if entry:
                entry["server"].stop()
            directory = tmp_path_factory.mktemp("conformance-ssh")
            entry = shared_ssh_vms[where] = self.boot_for_ssh(provider, directory)
        provider.state.set(f"{provider.name}.ssh_port", str(entry["server"].port))
        return entry

    def test_ssh_reaches_the_vm_with_the_delivered_key(self, provider: Provider,
                                                       ssh_vm: dict[str, Any]) -> None:
        from cloudmesh.compute.sshclient import known_hosts_path, run_command

        server = ssh_vm["server"]
        target = provider.ssh_target(ssh_vm["vm"]["name"])  # no option: record and registry
        assert (target.host, target.port, target.username) == (
            server.host, server.port, ssh_vm["user"])
        out, err = io.BytesIO(), io.BytesIO()
        status = run_command(target, "echo hello; echo oops >&2; exit 7", stdout=out,
                             stderr=err, timeout=20)
        assert status == 7
        assert out.getvalue() == b"hello\n" and err.getvalue() == b"oops\n"
        assert f"[{server.host}]:{server.port}" in known_hosts_path().read_text()

    def test_ssh_command_from_the_cli(self, provider: Provider,
                                      ssh_vm: dict[str, Any]) -> None:
        """'cms vm ssh NAME --command=...' as typed, run through cms's dispatch in this
        process (the SSH session is cms's own client either way)."""
        from cloudmesh.compute.testing.fixtures import run_in_process

        result = run_in_process("vm", "ssh", ssh_vm["vm"]["name"], f"--cloud={provider.name}",
                                "--command=echo from-$(whoami)")
        assert result.returncode == 0, result
        assert result.stdout.strip().endswith(f"from-{ssh_vm['user']}"), result

    def test_ssh_refuses_a_changed_host_key(self, provider: Provider, ssh_vm: dict[str, Any],
                                            tmp_path: Path) -> None:
        """A server of its own at the VM's address (the shared one keeps its host key)."""
        from cloudmesh.compute.sshclient import run_command
        from cloudmesh.compute.testing.sshd import start_ssh_server

        shared = ssh_vm["server"]
        server = start_ssh_server(tmp_path / "sshd", host=shared.host,
                                  authorized_keys=shared.authorized_keys, user=ssh_vm["user"])
        provider.state.set(f"{provider.name}.ssh_port", str(server.port))
        try:
            target = provider.ssh_target(ssh_vm["vm"]["name"])
            assert target.port == server.port
            assert run_command(target, "true", stdout=io.BytesIO(), timeout=20) == 0
            server.restart_with_new_host_key()
            with pytest.raises(CloudError, match="host key .* has changed"):
                run_command(target, "true", stdout=io.BytesIO(), timeout=20)
        finally:
            server.stop()
            provider.state.set(f"{provider.name}.ssh_port", str(shared.port))

"""The facade's SSH work (``Provider.ssh_target``, ``wait_ssh``, ``ssh``): where and as
whom to reach a VM, waiting until a command runs on it, running one command. The
connection itself is :mod:`.sshclient`.

``SshMethods`` is a part of the facade (``cloudmesh.compute.provider.Provider`` derives
from it); it uses the facade's ``info``, ``call``, ``default``, ``state`` and ``provider``,
and does not import the facade's module, so that the two do not import each other.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Callable

from cloudmesh.compute import names as name_expr
from cloudmesh.compute.errors import CloudError, CmsError, NotFound
from cloudmesh.compute.fanout import Outcome, fan_out

if TYPE_CHECKING:  # pragma: no cover
    from cloudmesh.compute.sshclient import SshTarget


class SshMethods:
    """The facade's SSH methods."""

    def ssh_target(self, name: str, username: str | None = None, key: str | None = None,
                   port: str | int | None = None, host: str | None = None) -> SshTarget:
        """Where and as whom to reach a VM (an SshTarget: name, host, port, username,
        key_path). Each of username, key, host and port is the first of (README "SSH"):
        the argument given (the command line's option), ``cms set`` (CLOUD.NAME, then
        NAME), the VM's record (the username and key it was booted with, its address),
        the cloud's ``default:`` block, the kind's default. ``ssh_host`` and
        ``ssh_port`` in ``default:`` come before the VM's address: they say how every
        VM of the cloud is reached (a tunnel, the sandbox). A cloud whose endpoint is a
        local emulator never sends SSH to an address off this machine unless
        ``ssh_host`` says where (ConfigError)."""
        import getpass

        # sshclient (sockets, subprocess) is imported only when SSH is used
        from cloudmesh.compute.sshclient import SshTarget, check_port

        record = self.info(name)
        address, default_port = self.call("ssh_address", record)
        host = self.default("ssh_host", host) or address
        self._refuse_emulated_address(record["name"], str(host), address)
        port_number = check_port(self.default("ssh_port", port) or default_port)
        booted = self.state.boot_get(self.name, record["name"]) or {}
        recorded_user = (record.get("username") or (record.get("metadata") or {}).get("username")
                         or booted.get("username"))
        user = (self._set_value("username", username) or recorded_user
                or self.default("username") or self.provider.default_username
                or getpass.getuser())
        recorded_key = record.get("key") or booted.get("key")
        key_name = self._set_value("key", key) or recorded_key or self.default("key")
        key_path = None
        if key_name:
            entry = self.state.key_get(key_name)
            if entry and entry.get("private_path"):
                key_path = entry["private_path"]
            elif key and os.path.isfile(os.path.expanduser(key)):
                key_path = os.path.expanduser(key)  # --key may also name a file
            elif key:
                raise NotFound(f"key '{key}' is neither in the local registry nor a file",
                               "see 'cms key list'")
        return SshTarget(name=record["name"], host=str(host), port=port_number,
                         username=str(user), key_path=key_path,
                         booted_without_key=not (key_name or recorded_key))

    def _set_value(self, option: str, given: Any) -> Any:
        """The argument given, else ``cms set CLOUD.OPTION`` or ``cms set OPTION``."""
        if given not in (None, ""):
            return given
        for variable in (f"{self.name}.{option}", option):
            value = self.state.get(variable)
            if value not in (None, ""):
                return value
        return None

    def _refuse_emulated_address(self, vm_name: str, host: str, address: str) -> None:
        """A cloud on a loopback emulator (moto, a fake) hands out addresses that belong
        to someone else (moto: real AWS ranges): SSH there would offer the user's key to
        a stranger's machine. Such a cloud's VMs are reached only on this machine, or
        where ``ssh_host`` says."""
        from cloudmesh.compute.endpoints import is_loopback_host

        emulator = _loopback_endpoint(self.spec)
        if emulator is None or is_loopback_host(host) or host != address:
            return
        from cloudmesh.compute.errors import ConfigError

        raise ConfigError(
            f"VM {vm_name}: cloud '{self.name}' is an emulator on this machine ({emulator}) "
            f"and the VM's address {host} is not: refusing to send SSH there",
            f"say where its SSH server is: cms set {self.name}.ssh_host=127.0.0.1 (and "
            f"{self.name}.ssh_port=PORT), or ssh_host in the cloud's default: block")

    def wait_ssh(self, names: str | list[str], timeout: float = 600, interval: float = 2,
                 progress: Callable[[str, dict, float], None] | None = None,
                 **target_options: Any) -> list[Outcome]:
        """Wait until each VM is running and a command runs over SSH."""
        import time

        from cloudmesh.compute.errors import WaitTimeout

        def wait_one(vm_name: str) -> dict:
            start = time.monotonic()
            record = self.call("wait", vm_name, "running", timeout=timeout,
                               interval=interval,
                               progress=self.progress_for(vm_name, progress))
            last_error: Exception | None = None
            while True:
                remaining = timeout - (time.monotonic() - start)
                try:
                    target = self.ssh_target(vm_name, **target_options)
                    if run_ssh(target, "true", timeout=max(1.0, min(10.0, remaining)),
                               stdout=_Discard(), stderr=_Discard()) == 0:
                        if progress:
                            progress(vm_name, {**record, "status": "ssh"},
                                     time.monotonic() - start)
                        return {**record, "status": "ssh"}
                except CmsError as error:
                    last_error = error
                if time.monotonic() - start + interval > timeout:
                    raise WaitTimeout(f"timed out after {timeout:g}s waiting for SSH on "
                                      f"{vm_name} (last error: {last_error})")
                time.sleep(interval)

        return fan_out(wait_one, name_expr.expand(names))

    def ssh(self, name: str, command: str, username: str | None = None,
            key: str | None = None, port: str | int | None = None, host: str | None = None,
            timeout: float = 30) -> dict:
        """Run ``command`` on one VM over SSH (as ``cms vm ssh NAME --command`` does:
        address, user and key from ``ssh_target``; host keys in ~/.cloudmesh/known_hosts,
        a changed one refused). Returns {"name", "host", "exit_code", "stdout",
        "stderr"}; a command that fails is a non-zero ``exit_code``, not an exception.
        ``timeout``: seconds to connect. A VM that cannot be reached is a CloudError, a
        refused key a CredentialError."""
        import io

        target = self.ssh_target(name, username=username, key=key, port=port, host=host)
        out, err = io.BytesIO(), io.BytesIO()
        code = run_ssh(target, command, timeout=timeout, stdout=out, stderr=err)
        return {"name": target.name, "host": target.host, "exit_code": code,
                "stdout": out.getvalue().decode("utf-8", "replace"),
                "stderr": err.getvalue().decode("utf-8", "replace")}


def run_ssh(target: SshTarget, command: str, timeout: float, stdout: Any,
            stderr: Any) -> int:
    """sshclient.run_command with every failure a CmsError: after the connection (whose
    errors it reports itself) paramiko can still fail opening the channel or reading."""
    from cloudmesh.compute.sshclient import run_command

    try:
        return run_command(target, command, timeout=timeout, stdout=stdout, stderr=stderr)
    except CmsError:
        raise
    except Exception as error:
        raise CloudError(f"{target.name}: ssh {target.username}@{target.host}:{target.port} "
                         f"failed: {type(error).__name__}: {error}".rstrip(": ")) from error


#: the credentials keys that name a cloud's API endpoint (DESIGN 4)
ENDPOINT_KEYS = ("endpoint_url", "auth_url", "base_url", "api_endpoint", "service_endpoint")


def _loopback_endpoint(spec: dict) -> str | None:
    """The cloud's endpoint when it is on this machine (127.0.0.0/8, ::1, localhost)."""
    from urllib.parse import urlsplit

    from cloudmesh.compute.endpoints import is_loopback_host

    credentials = (spec or {}).get("credentials") or {}
    for key in ENDPOINT_KEYS:
        value = credentials.get(key)
        if isinstance(value, str) and value.strip():
            try:
                host = urlsplit(value.strip()).hostname or ""
            except ValueError:
                continue
            if is_loopback_host(host):
                return value.strip()
    return None


class _Discard:
    """A stream that drops what is written (the output of wait's probe command)."""

    def write(self, data: bytes) -> None:
        pass

    def flush(self) -> None:
        pass

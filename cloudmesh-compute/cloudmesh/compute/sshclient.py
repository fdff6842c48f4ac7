"""SSH into VMs: commands through paramiko, interactive sessions through the system ssh.

Host keys live in ``~/.cloudmesh/known_hosts`` (beside cloudmesh.yaml), shared by both
paths: first contact records the key, a changed key is refused with a clear error. We
never turn host-key checking off.
"""

from __future__ import annotations

import base64
import fcntl
import os
import select
import shutil
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from cloudmesh.compute.errors import CloudError, ConfigError, CredentialError, UsageError
from cloudmesh.compute.files import config_dir, ensure_dir
from cloudmesh.compute.lazy import require
from cloudmesh.compute.terminal import escape_control

_print_lock = threading.Lock()


@dataclass
class SshTarget:
    """Everything needed to reach one VM's sshd."""

    name: str
    host: str
    port: int
    username: str
    key_path: str | None = None
    #: no key was given and none is recorded for the VM (it was booted without one)
    booted_without_key: bool = False

    @property
    def host_key_name(self) -> str:
        """The name OpenSSH and paramiko file the host key under."""
        return self.host if self.port == 22 else f"[{self.host}]:{self.port}"


def check_port(port: str | int) -> int:
    """A TCP port number, or UsageError."""
    try:
        number = int(port)
    except (TypeError, ValueError):
        # (the port may come from a cloud or a config: shown escaped, on one line)
        raise UsageError(f"the ssh port must be a number, "
                         f"not '{escape_control(str(port))}'") from None
    if not 0 < number < 65536:
        raise UsageError(f"the ssh port must be between 1 and 65535, not {number}")
    return number


def known_hosts_path() -> Path:
    return config_dir() / "known_hosts"


def key_fingerprint(key) -> str:
    import hashlib

    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def _paramiko():
    module = require("paramiko", "cloudmesh-compute", "paramiko")
    import logging

    # paramiko's transport thread logs failures with tracebacks; ours is one line
    logger = logging.getLogger("paramiko")
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
        logger.propagate = False
    return module


def _record_host_key(hostname: str, key) -> None:
    """Append one host key under an exclusive lock (several VMs may be reached at once)."""
    path = known_hosts_path()
    ensure_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.write(f"{hostname} {key.get_name()} {key.get_base64()}\n")


def _known_keys(hostname: str) -> dict:
    paramiko = _paramiko()
    keys = paramiko.HostKeys()
    path = known_hosts_path()
    if path.is_file():
        keys.load(str(path))
    return dict(keys.lookup(hostname) or {})


def _changed_key_error(target: SshTarget, expected, offered) -> CloudError:
    return CloudError(
        f"{target.name}: the host key of {target.host_key_name} has changed "
        f"(known {key_fingerprint(expected)}, offered {key_fingerprint(offered)}); "
        "refusing to connect",
        f"if the VM was rebuilt, forget the old key: ssh-keygen -R '{target.host_key_name}' "
        f"-f {known_hosts_path()}")


def connect(target: SshTarget, timeout: float = 30):
    """A connected paramiko SSHClient; our errors for every way it can fail."""
    paramiko = _paramiko()

    class RecordOnFirstContact(paramiko.MissingHostKeyPolicy):
        def missing_host_key(self, client, hostname, key):
            _record_host_key(hostname, key)
            client.get_host_keys().add(hostname, key.get_name(), key)

    if target.key_path is None and not _agent_or_default_keys():
        if target.booted_without_key:
            raise _no_key_error(target)
        raise CredentialError(f"VM {target.name}: no private key to log in as "
                              f"'{target.username}': its key has no private key file here, "
                              "and there is no ssh agent or ~/.ssh/id_* key",
                              "give the private key file with --key=FILE")
    client = paramiko.SSHClient()
    for key_type, key in _known_keys(target.host_key_name).items():
        client.get_host_keys().add(target.host_key_name, key_type, key)
    client.set_missing_host_key_policy(RecordOnFirstContact())
    try:
        client.connect(target.host, port=target.port, username=target.username,
                       key_filename=target.key_path, timeout=timeout, banner_timeout=timeout,
                       auth_timeout=timeout, look_for_keys=target.key_path is None,
                       allow_agent=target.key_path is None)
    except paramiko.BadHostKeyException as error:
        client.close()
        raise _changed_key_error(target, error.expected_key, error.key) from None
    except paramiko.AuthenticationException:
        client.close()
        if target.key_path is None and target.booted_without_key:
            raise _no_key_error(target) from None
        raise CredentialError(f"{target.name}: ssh to {target.host} port {target.port}: "
                              f"authentication failed for user '{target.username}' with "
                              f"{'the key ' + target.key_path if target.key_path else 'the ssh agent and the default keys'}"
                              " (the server refused the key)",
                              "check --username and --key (cms key list)") from None
    except (paramiko.SSHException, OSError, EOFError) as error:
        client.close()
        raise connect_error(target, error, timeout) from None
    return client


def _agent_or_default_keys() -> bool:
    """Whether paramiko has a key to try when none is given: the ssh agent or a default
    key file in ~/.ssh (id_ed25519, id_ecdsa, id_rsa, id_dsa)."""
    if os.environ.get("SSH_AUTH_SOCK"):
        return True
    ssh_dir = Path.home() / ".ssh"
    return any((ssh_dir / name).is_file()
               for name in ("id_ed25519", "id_ecdsa", "id_rsa", "id_dsa"))


def _no_key_error(target: SshTarget) -> CredentialError:
    return CredentialError(
        f"VM {target.name} was booted without a key: cms has none to log in as "
        f"'{target.username}' on {target.host} port {target.port}",
        "give the key that is on it (--key=KEY, a name of 'cms key list' or a file), or "
        "boot a VM with --key=KEY")


def _reason(error: BaseException, timeout: float) -> str:
    """What went wrong connecting, in plain words."""
    import errno

    if isinstance(error, (socket.timeout, TimeoutError)):
        return f"no answer within {timeout:g}s (timed out)"
    if isinstance(error, socket.gaierror):
        return "the host name cannot be resolved"
    code = getattr(error, "errno", None)
    if code == errno.ECONNREFUSED:
        return "connection refused (nothing listens on that port: is sshd running?)"
    if code in (errno.EHOSTUNREACH, errno.ENETUNREACH):
        return "no route to the host (is the address right, the VM up, a firewall open?)"
    if code == errno.ETIMEDOUT:
        return f"no answer within {timeout:g}s (timed out)"
    if code == errno.ECONNRESET:
        return "the connection was reset"
    if isinstance(error, EOFError) or "banner" in str(error).lower():
        return "something answered, but not an SSH server (or it closed the connection)"
    if getattr(error, "strerror", None):
        return str(error.strerror).lower()
    return str(error) or type(error).__name__


def connect_error(target: SshTarget, error: BaseException, timeout: float) -> CloudError:
    """A connection failure in cms's words: which host and port, and what happened."""
    reasons = getattr(error, "errors", None)  # paramiko's NoValidConnectionsError
    if isinstance(reasons, dict) and reasons:
        error = next(iter(reasons.values()))
    import shlex

    name = shlex.quote(target.name)  # the VM's name as the user would type it
    return CloudError(f"VM {target.name}: cannot reach ssh on {target.host} port "
                      f"{target.port}: {_reason(error, timeout)}",
                      f"see 'cms vm status {name}'; wait for it with 'cms vm wait {name} "
                      "--state=ssh'")


class LineWriter:
    """Writes a command's output: raw for one VM, line by line with a ``name: `` prefix
    when several VMs run at once (so their lines do not interleave mid-line)."""

    def __init__(self, prefix: str | None, stream) -> None:
        self.prefix = prefix.encode() if prefix else None
        self.stream = stream
        self.pending = b""

    def write(self, data: bytes) -> None:
        out = getattr(self.stream, "buffer", self.stream)
        if self.prefix is None:
            with _print_lock:
                out.write(data)
                out.flush()
            return
        self.pending += data
        *lines, self.pending = self.pending.split(b"\n")
        if lines:
            with _print_lock:
                out.write(b"".join(self.prefix + line + b"\n" for line in lines))
                out.flush()

    def close(self) -> None:
        if self.pending:
            self.write(b"\n")


def run_command(target: SshTarget, command: str, prefix: bool = False,
                timeout: float = 30, stdout=None, stderr=None) -> int:
    """Run a command, stream its output, return its exit status."""
    client = connect(target, timeout)
    tag = f"{target.name}: " if prefix else None
    out = LineWriter(tag, stdout or sys.stdout)
    err = LineWriter(tag, stderr or sys.stderr)
    try:
        channel = client.get_transport().open_session()
        channel.exec_command(command)
        while True:
            select.select([channel], [], [], 0.2)
            while channel.recv_ready():
                out.write(channel.recv(65536))
            while channel.recv_stderr_ready():
                err.write(channel.recv_stderr(65536))
            if channel.exit_status_ready() and not channel.recv_ready() \
                    and not channel.recv_stderr_ready():
                break
        status = channel.recv_exit_status()
        return status if status >= 0 else 1
    finally:
        out.close()
        err.close()
        client.close()


def check_host_key(target: SshTarget, timeout: float = 30) -> None:
    """Before handing over to the system ssh: refuse a changed host key with our own
    one-line error (ssh would too, with a page of text) and report an unreachable VM."""
    paramiko = _paramiko()
    known = _known_keys(target.host_key_name)
    try:
        sock = socket.create_connection((target.host, target.port), timeout=timeout)
    except OSError as error:
        raise connect_error(target, error, timeout) from None
    transport = paramiko.Transport(sock)
    try:
        transport.banner_timeout = timeout
        if known:
            transport.get_security_options().key_types = [
                t for t in transport.get_security_options().key_types if t in known] or \
                transport.get_security_options().key_types
        transport.start_client(timeout=timeout)
        offered = transport.get_remote_server_key()
    except (paramiko.SSHException, OSError, EOFError) as error:
        raise connect_error(target, error, timeout) from None
    finally:
        transport.close()
    expected = known.get(offered.get_name())
    if expected is not None and expected != offered:
        raise _changed_key_error(target, expected, offered)


def interactive_argv(target: SshTarget) -> list[str]:
    ssh = shutil.which("ssh")
    if ssh is None:
        raise ConfigError("the ssh command is not installed",
                          "install OpenSSH's client (apt-get install openssh-client)")
    argv = [ssh, "-p", str(target.port),
            "-o", f"UserKnownHostsFile={known_hosts_path()}",
            "-o", "StrictHostKeyChecking=accept-new"]
    if target.key_path:
        argv += ["-i", target.key_path, "-o", "IdentitiesOnly=yes"]
    return argv + [f"{target.username}@{target.host}"]


def interactive(target: SshTarget, timeout: float = 30) -> int:
    """An interactive session with the system ssh; returns its exit status."""
    check_host_key(target, timeout)
    argv = interactive_argv(target)
    ensure_dir(known_hosts_path().parent)
    sys.stdout.flush()
    import signal

    # ^C belongs to the session; a no-op handler, not SIG_IGN, which ssh would inherit
    previous = signal.signal(signal.SIGINT, lambda number, frame: None)
    try:
        return subprocess.call(argv)
    finally:
        signal.signal(signal.SIGINT, previous)

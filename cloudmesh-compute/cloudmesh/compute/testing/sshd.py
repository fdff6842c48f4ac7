"""A real SSH server on a loopback address for tests, with throwaway host and user keys.

``start_ssh_server(directory)`` writes fresh ed25519 keys into ``directory`` and returns
a running server on a free port of ``host`` (any 127.0.0.0/8 address; the cloud fakes hand
such addresses to their VMs). It is OpenSSH's ``/usr/sbin/sshd`` when that and
``ssh-keygen`` are installed, otherwise an SSH server built on asyncssh
(:mod:`cloudmesh.compute.testing.asyncssh_server`), so the SSH tests run on a machine with
only Python. ``CMS_TEST_SSH_SERVER=openssh`` or ``=asyncssh`` forces one backend.

Both backends have one interface: ``directory``, ``host``, ``port``, ``user``,
``user_key`` (a generated private key; its ``.pub`` is the trusted key unless
``authorized_keys`` is given), ``host_key`` (``.pub`` beside it), ``authorized_keys``,
``backend`` ("openssh" or "asyncssh"), ``set_authorized_keys(lines)`` (trust exactly
these from the next login on), ``restart_with_new_host_key()`` (a rebuilt VM: same address
and port, another host key) and ``stop()``.

``start_sshd`` and ``sshd_available`` are the older names. Set CMS_REQUIRE_SSHD=1 to
make a missing server fail tests instead of skipping them (the project's CI does).
"""

from __future__ import annotations

import getpass
import importlib.util
import ipaddress
import os
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

SSHD = "/usr/sbin/sshd"
BACKEND_ENV = "CMS_TEST_SSH_SERVER"
BACKENDS = ("openssh", "asyncssh")


def openssh_available() -> bool:
    """OpenSSH's sshd (a non-empty executable) and ssh-keygen are installed."""
    try:
        usable = os.path.isfile(SSHD) and os.access(SSHD, os.X_OK) and os.path.getsize(SSHD) > 0
    except OSError:
        usable = False
    return usable and shutil.which("ssh-keygen") is not None


def asyncssh_available() -> bool:
    return importlib.util.find_spec("asyncssh") is not None


def ssh_server_available() -> bool:
    """Some SSH server can be started for tests (OpenSSH or the asyncssh fallback)."""
    return openssh_available() or asyncssh_available()


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _keygen(path: Path, comment: str) -> None:
    for stale in (path, path.with_suffix(".pub")):  # ssh-keygen would ask to overwrite
        stale.unlink(missing_ok=True)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f",
                    str(path)], check=True)


class PortTaken(RuntimeError):
    """Another process bound the port between free_port() and sshd's bind (sshd cannot
    take a bound socket from us, so start_ssh_server picks another port and retries)."""


@dataclass
class Sshd:
    """OpenSSH's sshd on ``host:port``."""

    directory: Path
    port: int
    user: str = field(default_factory=getpass.getuser)
    process: subprocess.Popen | None = None
    host: str = "127.0.0.1"
    authorized_keys: list[str] = field(default_factory=list)
    backend = "openssh"

    @property
    def user_key(self) -> Path:
        return self.directory / "user_key"

    @property
    def host_key(self) -> Path:
        return self.directory / "host_key"

    def _config(self) -> Path:
        path = self.directory / "sshd_config"
        path.write_text("\n".join([
            f"Port {self.port}", f"ListenAddress {self.host}", f"HostKey {self.host_key}",
            f"PidFile {self.directory / 'sshd.pid'}",
            f"AuthorizedKeysFile {self.directory / 'authorized_keys'}",
            f"AllowUsers {self.user}",
            "UsePAM no", "StrictModes no", "PasswordAuthentication no",
            "KbdInteractiveAuthentication no", "PubkeyAuthentication yes",
            "PermitRootLogin prohibit-password", "Subsystem sftp internal-sftp",
            "LogLevel ERROR", ""]))
        return path

    def start(self) -> "Sshd":
        if os.geteuid() == 0:
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # privilege separation dir
        self.process = subprocess.Popen([SSHD, "-D", "-e", "-f", str(self._config())],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                message = self.process.stderr.read().decode()[-500:]
                if "Address already in use" in message:
                    raise PortTaken(f"sshd: port {self.port} of {self.host} is taken: {message}")
                raise RuntimeError(f"sshd exited: {message}")
            try:
                socket.create_connection((self.host, self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("sshd did not start listening within 10 s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process and self.process.stderr:
            self.process.stderr.close()

    def set_authorized_keys(self, lines: list[str]) -> None:
        """Trust exactly these OpenSSH public key lines from the next login on."""
        self.authorized_keys = [line.strip() for line in lines if line.strip()]
        # sshd reads the file at each login: written beside it and renamed over it, so a
        # login during a change reads the old set or the new one, never a truncated file
        # (a key trusted before and after the change was refused otherwise)
        path = self.directory / "authorized_keys"
        partial = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
        partial.write_text("".join(line + "\n" for line in self.authorized_keys))
        os.replace(partial, path)

    def restart_with_new_host_key(self) -> None:
        """The same address and port with another host key, as a rebuilt VM has."""
        self.stop()
        _keygen(self.host_key, "rebuilt-host")
        self.start()


def choose_backend(user: str | None = None) -> str:
    """The backend start_ssh_server uses: CMS_TEST_SSH_SERVER if set, else OpenSSH when
    installed and ``user`` is the user running the tests (the only one a test's sshd can
    log in: it reads authorized_keys from the test's private directory), else asyncssh."""
    forced = os.environ.get(BACKEND_ENV, "").strip().lower()
    if forced and forced != "auto":
        if forced not in BACKENDS:
            raise RuntimeError(f"{BACKEND_ENV}={forced!r}: expected one of {', '.join(BACKENDS)}")
        return forced
    if openssh_available() and user in (None, getpass.getuser()):
        return "openssh"
    return "asyncssh"


def start_ssh_server(directory: Path, host: str = "127.0.0.1",
                     authorized_keys: list[str] | None = None, user: str | None = None,
                     port: int = 0):
    """A running SSH server on ``host`` (a 127.0.0.0/8 address) and ``port`` (0: a free one).

    ``directory`` receives the keys (created 0700). ``authorized_keys``: the OpenSSH public
    key lines to trust; by default the generated ``user_key.pub``. ``user``: the only
    login name accepted (default: the user running the tests; commands always run as
    that user). The test's OpenSSH sshd logs in only that user, so another name selects
    the asyncssh backend unless one is forced."""
    if not ipaddress.ip_address(host).is_loopback:
        raise ValueError(f"test SSH servers listen on loopback addresses only, not {host}")
    backend = choose_backend(user)
    directory = Path(directory)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    if backend == "openssh":
        if not openssh_available():
            raise RuntimeError(f"{BACKEND_ENV}=openssh but no usable {SSHD} and ssh-keygen")
        if user not in (None, getpass.getuser()):
            raise RuntimeError(f"the test's OpenSSH sshd logs in {getpass.getuser()!r} only, "
                               f"not {user!r}")
        server = Sshd(directory, port or free_port(host), host=host)
        keygen = _keygen
    else:
        from cloudmesh.compute.testing.asyncssh_server import AsyncsshServer, generate_key

        server = AsyncsshServer(directory, host, user, port)  # port 0: the OS picks at bind
        keygen = generate_key
    keygen(server.host_key, "test-host")
    keygen(server.user_key, "test-user")
    if authorized_keys is None:
        authorized_keys = [server.user_key.with_suffix(".pub").read_text().strip()]
    server.set_authorized_keys(authorized_keys)
    for _attempt in range(4 if backend == "openssh" and not port else 0):
        try:
            return server.start()
        except PortTaken:  # another test's server took the free port first: pick again
            server.port = free_port(host)
    return server.start()


# the names of the first version (OpenSSH only)
start_sshd = start_ssh_server
sshd_available = ssh_server_available

"""A real OpenSSH sshd on 127.0.0.1 for tests, with throwaway host and user keys.

``start_sshd(directory)`` writes fresh ed25519 keys and a config into ``directory``,
starts ``/usr/sbin/sshd -D`` on a free loopback port and returns a running ``Sshd``;
``restart_with_new_host_key()`` simulates a rebuilt VM. Set CMS_REQUIRE_SSHD=1 to make a
missing sshd fail tests instead of skipping them (the project's CI does).
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

SSHD = "/usr/sbin/sshd"


def sshd_available() -> bool:
    return os.path.isfile(SSHD) and shutil.which("ssh-keygen") is not None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _keygen(path: Path, comment: str) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f",
                    str(path)], check=True)


@dataclass
class Sshd:
    directory: Path
    port: int
    user: str = field(default_factory=getpass.getuser)
    process: subprocess.Popen | None = None

    @property
    def user_key(self) -> Path:
        return self.directory / "user_key"

    @property
    def host_key(self) -> Path:
        return self.directory / "host_key"

    def _config(self) -> Path:
        path = self.directory / "sshd_config"
        path.write_text("\n".join([
            f"Port {self.port}", "ListenAddress 127.0.0.1", f"HostKey {self.host_key}",
            f"PidFile {self.directory / 'sshd.pid'}",
            f"AuthorizedKeysFile {self.directory / 'authorized_keys'}",
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
                raise RuntimeError(f"sshd exited: {self.process.stderr.read().decode()[-500:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
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

    def restart_with_new_host_key(self) -> None:
        """The same address and port with another host key, as a rebuilt VM has."""
        self.stop()
        for path in (self.host_key, self.host_key.with_suffix(".pub")):
            path.unlink()
        _keygen(self.host_key, "rebuilt-host")
        self.start()


def start_sshd(directory: Path) -> Sshd:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    server = Sshd(directory, free_port())
    _keygen(server.host_key, "test-host")
    _keygen(server.user_key, "test-user")
    (directory / "authorized_keys").write_text(
        server.user_key.with_suffix(".pub").read_text())
    return server.start()

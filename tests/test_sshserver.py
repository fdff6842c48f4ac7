"""The test SSH server (cloudmesh.compute.testing.sshd) with both backends, OpenSSH's sshd
and the asyncssh fallback, driven by cms's own SSH client and by the system ssh.

The last test runs this file again in a mount namespace where /usr/sbin/sshd is hidden,
as on a fresh machine without OpenSSH: the server must fall back to asyncssh."""

from __future__ import annotations

import getpass
import io
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from cloudmesh.compute.errors import CloudError, CredentialError
from cloudmesh.compute.testing.asyncssh_server import generate_key
from cloudmesh.compute.testing.sshd import (BACKEND_ENV, SSHD, choose_backend,
                                             openssh_available, start_ssh_server)

HIDDEN_ENV = "CMS_TEST_SSHD_HIDDEN"      # set inside the namespace run
EXPECT_ENV = "CMS_TEST_EXPECT_BACKEND"   # the backend the automatic choice must make
VM_ADDRESS = "127.0.0.7"                 # as a cloud fake hands out to a VM


@pytest.fixture(params=["openssh", "asyncssh"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "openssh" and not openssh_available():
        pytest.skip(f"no OpenSSH sshd at {SSHD}")
    monkeypatch.setenv(BACKEND_ENV, request.param)
    return request.param


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """cms's known_hosts lives here."""
    path = tmp_path / "cloudmesh"
    monkeypatch.setenv("CLOUDMESH_CONFIG_DIR", str(path))
    return path


@pytest.fixture
def server(backend: str, tmp_path: Path, config_dir: Path):
    running = start_ssh_server(tmp_path / "sshd", host=VM_ADDRESS)
    assert running.backend == backend
    yield running
    running.stop()


def target(server, key: Path | None = None, user: str | None = None):
    from cloudmesh.compute.sshclient import SshTarget

    return SshTarget("vm1", server.host, server.port, user or server.user,
                     str(key or server.user_key))


def run(server, command: str, **kwargs) -> tuple[int, bytes, bytes]:
    from cloudmesh.compute.sshclient import run_command

    out, err = io.BytesIO(), io.BytesIO()
    status = run_command(target(server, **kwargs), command, stdout=out, stderr=err, timeout=10)
    return status, out.getvalue(), err.getvalue()


def test_command_output_status_and_host_key(server, config_dir: Path) -> None:
    assert server.host == VM_ADDRESS and server.directory.stat().st_mode & 0o077 == 0
    status, out, err = run(server, "echo hello; echo oops >&2; exit 3")
    assert (status, out, err) == (3, b"hello\n", b"oops\n")
    status, out, _ = run(server, 'printf "%s|" "$USER" "$HOME"; cd && pwd')
    user, home, cwd = out.decode().split("|")
    assert status == 0 and user == server.user and cwd.strip() == home
    known = (config_dir / "known_hosts").read_text()
    host_pub = server.host_key.with_suffix(".pub").read_text().split()
    assert known == f"[{VM_ADDRESS}]:{server.port} {host_pub[0]} {host_pub[1]}\n"
    assert host_pub[0] == "ssh-ed25519"
    assert server.host_key.read_text().startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    assert server.user_key.stat().st_mode & 0o077 == 0


def test_listens_only_on_its_address(server) -> None:
    socket.create_connection((VM_ADDRESS, server.port), timeout=5).close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", server.port), timeout=5).close()


def test_changed_host_key_is_refused(server, config_dir: Path) -> None:
    assert run(server, "true")[0] == 0
    known = (config_dir / "known_hosts").read_text()
    port, old_key = server.port, server.host_key.with_suffix(".pub").read_text()
    server.restart_with_new_host_key()
    assert server.port == port and server.host_key.with_suffix(".pub").read_text() != old_key
    with pytest.raises(CloudError, match="has changed"):
        run(server, "true")
    assert (config_dir / "known_hosts").read_text() == known


def test_trusts_exactly_the_given_keys(backend: str, tmp_path: Path, config_dir: Path) -> None:
    other = tmp_path / "other_key"
    generate_key(other, "someone")
    line = other.with_suffix(".pub").read_text().strip()
    running = start_ssh_server(tmp_path / "sshd", host=VM_ADDRESS, authorized_keys=[line])
    try:
        assert running.authorized_keys == [line]
        assert run(running, "echo ok", key=other)[:2] == (0, b"ok\n")
        with pytest.raises(CredentialError, match="refused the key"):
            run(running, "true")                       # its own user_key is not trusted
        with pytest.raises(CredentialError, match="refused the key"):
            run(running, "true", key=other, user="nobody-here")
        running.set_authorized_keys([running.user_key.with_suffix(".pub").read_text()])
        assert run(running, "echo ok")[:2] == (0, b"ok\n")
        with pytest.raises(CredentialError, match="refused the key"):
            run(running, "true", key=other)
        # a second VM's server: its own address, the same port (a cloud-wide ssh_port)
        neighbour = start_ssh_server(tmp_path / "sshd2", host="127.0.0.8", port=running.port)
        try:
            assert (neighbour.host, neighbour.port) == ("127.0.0.8", running.port)
            assert run(neighbour, "echo there")[:2] == (0, b"there\n")
        finally:
            neighbour.stop()
    finally:
        running.stop()


def test_a_login_during_a_key_change_is_not_refused(server, tmp_path: Path) -> None:
    """A key trusted before and after a change of the others is never refused, even by
    a login while the change is written (the deep check's SSH server follows six clouds'
    keys: one boot's change must not lock out another cloud's login)."""
    import threading

    generate_key(tmp_path / "other_key", "another-vm")
    mine = server.user_key.with_suffix(".pub").read_text().strip()
    other = (tmp_path / "other_key").with_suffix(".pub").read_text().strip()
    stop = threading.Event()

    def change_keys() -> None:
        changes = 0
        while not stop.is_set():
            server.set_authorized_keys([mine, other] if changes % 2 else [mine])
            changes += 1

    changer = threading.Thread(target=change_keys, daemon=True)
    changer.start()
    try:
        results = [run(server, "true")[0] for _ in range(8)]
    finally:
        stop.set()
        changer.join()
    assert results == [0] * 8


def test_asyncssh_serves_a_user_name_of_the_image(tmp_path: Path, config_dir: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A VM image's user (ubuntu) is not the user running the tests, whom alone a test's
    OpenSSH sshd can log in: the automatic choice is asyncssh, which accepts that name."""
    monkeypatch.delenv(BACKEND_ENV, raising=False)
    name = "ubuntu" if getpass.getuser() != "ubuntu" else "cms-test-image-user"
    assert choose_backend(name) == "asyncssh"
    running = start_ssh_server(tmp_path / "sshd", host=VM_ADDRESS, user=name)
    try:
        assert (running.backend, running.user) == ("asyncssh", name)
        assert run(running, "echo $USER")[:2] == (0, f"{name}\n".encode())
        with pytest.raises(CredentialError):
            run(running, "true", user=getpass.getuser())
    finally:
        running.stop()


def test_backend_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BACKEND_ENV, "asyncssh")
    assert choose_backend() == "asyncssh"
    monkeypatch.setenv(BACKEND_ENV, "telnet")
    with pytest.raises(RuntimeError, match="openssh, asyncssh"):
        choose_backend()
    monkeypatch.delenv(BACKEND_ENV)
    assert choose_backend() == ("openssh" if openssh_available() else "asyncssh")
    if os.environ.get(EXPECT_ENV):
        assert choose_backend() == os.environ[EXPECT_ENV]
    with pytest.raises(ValueError, match="loopback"):
        start_ssh_server(Path("/nonexistent"), host="10.0.0.1")


@pytest.mark.skipif(shutil.which("ssh") is None, reason="no ssh client installed")
def test_shell_sessions_with_the_system_ssh(server, tmp_path: Path) -> None:
    argv = ["ssh", "-F", "/dev/null", "-o", "BatchMode=yes",
            "-o", f"UserKnownHostsFile={tmp_path / 'known_hosts'}",
            "-o", "StrictHostKeyChecking=accept-new", "-i", str(server.user_key),
            "-p", str(server.port), f"{server.user}@{server.host}"]
    script = "echo interactive-$((40+2))\nexit 4\n"
    piped = subprocess.run(argv, input=script, capture_output=True, text=True, timeout=30)
    assert piped.returncode == 4, piped.stderr
    assert piped.stdout == "interactive-42\n"
    # -tt: a pty although stdin is a pipe (the terminal echoes what it is sent)
    tty = subprocess.run([argv[0], "-tt", *argv[1:]], capture_output=True, timeout=30,
                         input=b"tty; echo $TERM; echo interactive-$((40+2))\nexit 4\n")
    assert tty.returncode == 4, tty.stderr
    text = tty.stdout.decode().replace("\r\n", "\n")
    assert "interactive-42" in text.splitlines() and "/dev/pts/" in text, text
    command = subprocess.run([argv[0], "-tt", *argv[1:], "stty size; exit 7"],
                             capture_output=True, timeout=30)
    assert command.returncode == 7, command.stderr


#: the tests whose outcome a hidden sshd can change: those that let start_ssh_server
#: choose (the ones taking ``backend`` force it through CMS_TEST_SSH_SERVER, and their
#: asyncssh cases ran above already)
CHOOSING = "backend_choice or asyncssh_serves"


def test_passes_with_sshd_hidden_in_a_mount_namespace(tmp_path: Path) -> None:
    """This file's tests that let the server choose its backend, again on a machine
    without OpenSSH's sshd: /usr/sbin/sshd is covered by an empty file in a private mount
    namespace (root only; nothing outside it changes)."""
    if os.environ.get(HIDDEN_ENV):
        pytest.skip("already inside the namespace")
    unshare = shutil.which("unshare")
    if unshare is None or os.geteuid() != 0:
        pytest.skip("needs root and util-linux unshare")
    if subprocess.run([unshare, "--mount", "true"], capture_output=True).returncode != 0:
        pytest.skip("unshare --mount is not permitted here")
    empty = tmp_path / "no-sshd"
    empty.write_bytes(b"")
    hide = f"mount --bind {empty} {SSHD} && " if os.path.exists(SSHD) else ""
    env = {k: v for k, v in os.environ.items() if k != BACKEND_ENV}
    env.update({HIDDEN_ENV: "1", EXPECT_ENV: "asyncssh"})
    this = Path(__file__)
    inner = subprocess.run(
        [unshare, "--mount", "--propagation", "private", "sh", "-c",
         f'{hide}exec "$0" -m pytest -q -p no:cacheprovider -x -k "$2" "$1"',
         sys.executable, str(this), CHOOSING],
        cwd=this.parent.parent, env=env, capture_output=True, text=True, timeout=300)
    assert inner.returncode == 0, inner.stdout[-3000:] + inner.stderr[-2000:]
    summary = inner.stdout.strip().splitlines()[-1]
    assert summary.startswith("2 passed") and "failed" not in summary, summary

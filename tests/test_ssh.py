"""SSH into VMs against a real OpenSSH sshd on 127.0.0.1 (throwaway host and user keys).

The VM records come from the AWS provider over moto; their SSH address is overridden with
`cms set CLOUD.ssh_host=... CLOUD.ssh_port=...`, as a user reaching VMs through a tunnel
would, so every connection goes to the test's sshd."""

from __future__ import annotations

import errno
import os
import socket
import threading
import time
from pathlib import Path

import pytest

from cloudmesh.compute.testing.sshd import Sshd, sshd_available, start_sshd
from conftest import aws_cloud_spec, cms_here, run_cms, write_config
from test_cli import assert_one_line_error


@pytest.fixture
def sshd(tmp_path: Path) -> Sshd:
    if not sshd_available():
        if os.environ.get("CMS_REQUIRE_SSHD"):
            pytest.fail("no OpenSSH sshd at /usr/sbin/sshd (install openssh-server)")
        pytest.skip("no OpenSSH sshd installed")
    server = start_sshd(tmp_path / "sshd")
    yield server
    server.stop()


@pytest.fixture
def vms(cms_home: Path, moto: str, sshd: Sshd) -> list[str]:
    """Two VMs on cloud 'm' whose SSH address is the test's sshd; the sshd's user key is
    the cloud's default key (uploaded by the boot)."""
    write_config(cms_home, {"m": aws_cloud_spec(moto, key="sshkey")}, default="m")
    assert cms_here("key", "add", "sshkey", f"--source={sshd.user_key}.pub").code == 0
    assert cms_here("set", "m.ssh_host=127.0.0.1", f"m.ssh_port={sshd.port}",
                   f"m.username={sshd.user}").code == 0
    boot = cms_here("vm", "boot", "--name=vm[1-2]", "--wait", "--timeout=60")
    assert boot.code == 0, boot
    return ["vm1", "vm2"]


def test_command_output_and_exit_status(vms: list[str], cms_home: Path, sshd: Sshd) -> None:
    result = cms_here("vm", "ssh", "vm1", "--command=echo hello; echo oops >&2; exit 3")
    assert result.code == 3, result
    assert result.out == "hello\n" and result.err == "oops\n"
    known = (cms_home / "known_hosts").read_text()
    assert known.startswith(f"[127.0.0.1]:{sshd.port} ssh-ed25519 ")
    assert sshd.host_key.with_suffix(".pub").read_text().split()[1] in known
    ok = cms_here("ssh", "vm1", "--", "uname", "-s")
    assert ok.code == 0 and ok.out == "Linux\n"
    quoted = cms_here("ssh", "vm1", "test -d /")
    assert quoted.code == 0


def test_several_vms_in_parallel_prefix_each_line(vms: list[str]) -> None:
    result = cms_here("vm", "ssh", "vm[1-2]", "--command=echo one; echo two")
    assert result.code == 0, result
    lines = sorted(result.out.splitlines())
    assert lines == ["vm1: one", "vm1: two", "vm2: one", "vm2: two"]
    failing = cms_here("vm", "ssh", "vm[1-2]", "--command=exit 5")
    assert failing.code == 5 and "vm1: exit status 5" in failing.err


def test_interactive_session_with_system_ssh(vms: list[str], sshd: Sshd) -> None:
    ssh_dir = Path.home() / ".ssh"
    ssh_dir.mkdir(mode=0o700, exist_ok=True)
    (ssh_dir / "config").write_text("Host *\n    BatchMode yes\n")  # never prompt in tests
    result = run_cms("vm", "ssh", "vm1", stdin="echo interactive-$((40+2))\nexit 4\n")
    assert result.code == 4, result
    assert "interactive-42" in result.out
    # refused before any session starts: no terminal needed
    assert_one_line_error(cms_here("vm", "ssh", "vm[1-2]"), 2, "takes one VM")


def test_changed_host_key_is_refused(vms: list[str], sshd: Sshd, cms_home: Path) -> None:
    assert cms_here("vm", "ssh", "vm1", "--command=true").code == 0
    known_before = (cms_home / "known_hosts").read_text()
    sshd.restart_with_new_host_key()
    result = cms_here("vm", "ssh", "vm1", "--command=true")
    assert_one_line_error(result, 1, "host key of", "has changed", "ssh-keygen -R")
    interactive = cms_here("vm", "ssh", "vm1", stdin="exit 0\n")
    assert_one_line_error(interactive, 1, "has changed")
    assert (cms_home / "known_hosts").read_text() == known_before


def test_unreachable_vm_reported_within_the_timeout(vms: list[str]) -> None:
    # a port that accepts connections and never answers, like a VM still booting
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        silent.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(silent.accept()[0])
            except OSError:
                pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        started = time.monotonic()
        result = cms_here("vm", "ssh", "vm1", f"--port={silent.getsockname()[1]}",
                         "--command=true", "--timeout=1")
        elapsed = time.monotonic() - started
        assert_one_line_error(result, 1, "vm1")
        assert elapsed < 15, elapsed
        closed = socket.socket()
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        closed.close()
        refused = cms_here("vm", "ssh", "vm1", f"--port={port}", "--command=true", "--timeout=2")
        assert_one_line_error(refused, 1, f"127.0.0.1 port {port}", "connection refused")
    finally:
        stop.set()
        thread.join()
        for connection in held:
            connection.close()
        silent.close()


def test_wrong_user_is_a_credential_error(vms: list[str]) -> None:
    result = cms_here("vm", "ssh", "vm1", "--username=nobody-here", "--command=true")
    assert_one_line_error(result, 4, "refused the key")


def test_wait_for_ssh(vms: list[str]) -> None:
    result = cms_here("vm", "wait", "vm[1-2]", "--state=ssh", "--timeout=30", "--interval=0.2")
    assert result.code == 0, result
    assert "vm1: ssh" in result.err and "vm2: ssh" in result.err


def test_ssh_config_blocks_leave_the_rest_alone(vms: list[str], sshd: Sshd) -> None:
    ssh_dir = Path.home() / ".ssh"
    ssh_dir.mkdir(mode=0o700, exist_ok=True)
    config = ssh_dir / "config"
    mine = "# my own settings\nHost github.com\n    User git\n"
    config.write_text(mine)
    assert cms_here("ssh", "config", "add", "vm[1-2]").code == 0
    text = config.read_text()
    assert text.startswith(mine) and "# >>> cms vm1" in text and "# <<< cms vm2" in text
    listed = cms_here("ssh", "config", "list", "--output=json").json()
    assert [(e["host"], e["hostname"], e["port"]) for e in listed] == [
        ("vm1", "127.0.0.1", str(sshd.port)), ("vm2", "127.0.0.1", str(sshd.port))]
    # the block works with plain OpenSSH
    import subprocess

    plain = subprocess.run(["ssh", "-F", str(config), "-o", "BatchMode=yes", "vm1", "echo via-config"],
                           capture_output=True, text=True, timeout=30)
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout == "via-config\n"
    assert cms_here("ssh", "config", "add", "vm1").code == 0  # replaced, not duplicated
    assert config.read_text().count("# >>> cms vm1") == 1
    assert cms_here("ssh", "config", "delete", "vm[1-2]").code == 0
    assert config.read_text().rstrip("\n") == mine.rstrip("\n")
    assert cms_here("ssh", "config", "delete", "vm1").code == 3


@pytest.mark.parametrize("error, words", [
    (socket.timeout("timed out"), "no answer within 3s"),
    (socket.gaierror(socket.EAI_NONAME, "Name or service not known"), "cannot be resolved"),
    (ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"), "nothing listens on that port"),
    (OSError(errno.EHOSTUNREACH, "No route to host"), "no route to the host"),
    (OSError(errno.ETIMEDOUT, "Connection timed out"), "no answer within 3s"),
    (ConnectionResetError(errno.ECONNRESET, "Connection reset by peer"), "the connection was reset"),
    (EOFError(), "not an SSH server"),
    (OSError(errno.EACCES, "Permission denied"), "permission denied"),
    (RuntimeError("odd failure"), "odd failure"),
    (RuntimeError(), "RuntimeError"),
])
def test_a_failed_connection_is_named_in_plain_words(error: BaseException, words: str) -> None:
    """The reason cms gives for an SSH connection that failed, for each way it fails
    (some happen only on real networks: no route, a name that does not resolve)."""
    from cloudmesh.compute.sshclient import _reason

    assert words in _reason(error, 3.0)

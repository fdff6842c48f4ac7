"""The guard that keeps tests on 127.0.0.1 works, in this process and in cms."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from conftest import aws_cloud_spec, run_cms, write_config


def test_guard_refuses_a_public_address_in_process() -> None:
    with pytest.raises(ConnectionRefusedError, match="network guard"):
        socket.create_connection(("192.0.2.10", 443), timeout=1)  # TEST-NET-1, never routed
    with pytest.raises(ConnectionRefusedError, match="network guard"):
        socket.socket().connect(("10.1.2.3", 80))


def test_guard_allows_loopback(moto: str) -> None:
    host, port = moto.removeprefix("http://").split(":")
    socket.create_connection((host, int(port)), timeout=2).close()


def test_guard_is_loaded_in_subprocesses() -> None:
    probe = subprocess.run([sys.executable, "-c", "import socket; socket.socket().connect(('192.0.2.1', 80))"],
                           capture_output=True, text=True, timeout=30)
    assert probe.returncode != 0 and "network guard" in probe.stderr


def test_cms_pointed_off_the_machine_is_stopped_by_the_guard(cms_home) -> None:
    write_config(cms_home, {"far": aws_cloud_spec("https://192.0.2.1")})
    result = run_cms("vm", "list", "--cloud=far", timeout=120)
    assert result.code == 1 and "network guard" in result.err
    assert "Traceback" not in result.err

"""Test guard: refuse any network connection beyond the loopback addresses.

The test suite puts this directory on PYTHONPATH, so every Python process it starts (cms
itself, pip, the fakes) loads it at start-up; conftest.py installs it in the test process
too. A connection anywhere else fails loudly with an error that names the address, so a
test that would reach the internet cannot pass by accident.
"""

from __future__ import annotations

import ipaddress
import socket
import sys

_original_connect = socket.socket.connect
_original_connect_ex = socket.socket.connect_ex
_original_create_connection = socket.create_connection


class NetworkGuardError(ConnectionRefusedError):
    """Raised for a connection the tests must never make."""


def _is_local(address) -> bool:
    if isinstance(address, (str, bytes)):  # AF_UNIX path
        return True
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, bytes):
        host = host.decode()
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False  # a host name: resolving it would already leave the machine


def _check(address) -> None:
    if not _is_local(address):
        message = (f"test network guard: connection to {address!r} refused "
                   "(tests may only reach 127.0.0.1)")
        # said on stderr too: a library may wrap the exception and hide its text
        sys.stderr.write(message + "\n")
        raise NetworkGuardError(message)


def _connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _check(address)
    return _original_connect(self, address)


def _connect_ex(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _check(address)
    return _original_connect_ex(self, address)


def install() -> None:
    socket.socket.connect = _connect
    socket.socket.connect_ex = _connect_ex


install()

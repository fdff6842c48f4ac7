"""Fixtures a provider's tests need, shipped with the conformance suite so that a third
party's tests use the same ones as this project's:

- ``cms_home``: a fresh HOME and CLOUDMESH_CONFIG_DIR, with every vendor's environment
  variables removed (no test reads the machine's ~/.aws, clouds.yaml, ~/.oci or ADC);
- ``write_config(config_dir, clouds, default=None)``: a cloudmesh.yaml with those clouds;
- ``sshd``: a real SSH server on 127.0.0.1 with throwaway keys (OpenSSH's sshd when
  installed, else one built on asyncssh).

Use them with ``pytest_plugins = ["cloudmesh.compute.testing.fixtures"]`` in a conftest.py,
or import them into the test module.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

#: variables through which an SDK would find credentials or endpoints of the machine
VENDOR_ENV_PREFIXES = ("AWS_", "OS_", "AZURE_", "OCI_", "GOOGLE_", "CLOUDSDK_", "GCE_")
VENDOR_ENV_KEEP = {"AWS_EC2_METADATA_DISABLED"}


@pytest.fixture
def cms_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh CLOUDMESH_CONFIG_DIR (returned) inside a fresh HOME."""
    home = tmp_path / "home"
    home.mkdir()
    config_dir = home / ".cloudmesh"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("CLOUDMESH_CONFIG_DIR", str(config_dir))
    monkeypatch.delenv("CMS_DEBUG", raising=False)
    for name in list(os.environ):
        if name.startswith(VENDOR_ENV_PREFIXES) and name not in VENDOR_ENV_KEEP:
            monkeypatch.delenv(name, raising=False)
    return config_dir


def write_config(config_dir: Path, clouds: dict[str, Any], default: str | None = None,
                 user: str = "tester") -> Path:
    """Write ``config_dir/cloudmesh.yaml`` (mode 0600) with these cloud entries."""
    import yaml

    config_dir.mkdir(parents=True, exist_ok=True)
    data: dict[str, Any] = {"cloudmesh": {"profile": {"user": user}, "compute": clouds}}
    if default:
        data["cloudmesh"]["default"] = {"cloud": default}
    path = config_dir / "cloudmesh.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    path.chmod(0o600)
    return path


def require_ssh_server() -> None:
    """Skip (or, with CMS_REQUIRE_SSHD=1, fail) when no SSH server can run here."""
    from cloudmesh.compute.testing.sshd import ssh_server_available

    if not ssh_server_available():
        if os.environ.get("CMS_REQUIRE_SSHD"):
            pytest.fail("no SSH server for the tests: install openssh-server or asyncssh")
        pytest.skip("no SSH server for the tests (openssh-server or asyncssh)")


@pytest.fixture
def sshd(tmp_path: Path):
    """A running SSH server on 127.0.0.1 that trusts its generated ``user_key``."""
    from cloudmesh.compute.testing.sshd import start_ssh_server

    require_ssh_server()
    server = start_ssh_server(tmp_path / "sshd")
    yield server
    server.stop()

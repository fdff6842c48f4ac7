"""The provider conformance suite against the fake ``multipass`` executable: once as
Multipass 1.16 prints, once with the quirks of other versions, once as the zero-config
cloud ``multipass`` with no cloudmesh.yaml at all."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloudmesh.compute.testing import ComputeProviderSuite
from cloudmesh.compute.testing.faults import FaultSetup, FaultSuite

# the shared helpers live beside the fake (tests/ is on sys.path, as for conftest)
from fakes.multipass import harness

QUIRKS = ("MULTIPASS_FAKE_STATE_CASE", "MULTIPASS_FAKE_BLUEPRINTS_KEY",
          "MULTIPASS_FAKE_SNAPSHOT_COUNT", "MULTIPASS_FAKE_ZONES", "MULTIPASS_FAKE_DAEMON",
          "MULTIPASS_FAKE_FAIL", "MULTIPASS_FAKE_VERSION")


def isolate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
            quirks: dict[str, str] | None = None) -> Path:
    """HOME, config dir and fake state of this test only; the fake's path."""
    executable = harness.install_fake(tmp_path / "bin")
    (tmp_path / "home").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CLOUDMESH_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("MULTIPASS_FAKE_STATE", str(tmp_path / "multipass-state.json"))
    monkeypatch.setenv("MULTIPASS_FAKE_SUBNET", "127.0.0")  # where the SSH tests listen
    for variable in QUIRKS:
        monkeypatch.delenv(variable, raising=False)
    for variable, value in (quirks or {}).items():
        monkeypatch.setenv(variable, value)
    return executable


def authorized_keys_of(cloud_init: str | None) -> list[str]:
    """The keys a cloud-init document authorizes (top-level and per user), read the way
    cloud-init reads them, from a #cloud-config or the cloud-config parts of a MIME
    multi-part."""
    import email

    import yaml

    if not cloud_init:
        return []
    if cloud_init.lstrip().startswith("#cloud-config"):
        documents = [cloud_init]
    else:
        message = email.message_from_string(cloud_init)
        documents = [part.get_payload(decode=True).decode() for part in message.walk()
                     if part.get_content_type() == "text/cloud-config"]
    keys: list[str] = []
    for text in documents:
        document = yaml.safe_load(text) or {}
        keys += document.get("ssh_authorized_keys") or []
        for user in document.get("users") or []:
            if isinstance(user, dict):
                keys += user.get("ssh_authorized_keys") or []
    return keys


def stored_cloud_init(name: str) -> str | None:
    """The cloud-init text the fake multipass received for an instance."""
    import json
    import os

    with open(os.environ["MULTIPASS_FAKE_STATE"], encoding="utf-8") as handle:
        return json.load(handle)["instances"][name].get("cloud_init")


class TestMultipassConformance(ComputeProviderSuite):
    """A cloud 'local' of kind multipass whose credentials.executable is the fake."""

    image = "24.04"
    flavor = "small"
    timeout = 30
    interval = 0.05
    quirks: dict[str, str] = {}

    @pytest.fixture
    def cloud(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
        executable = isolate(tmp_path, monkeypatch, self.quirks)
        harness.write_config(tmp_path / "config", {
            "local": {"cm": {"kind": "multipass"},
                      "credentials": {"executable": str(executable)}}})
        yield "local"

    def delivered_keys(self, provider, vm) -> list[str]:
        return authorized_keys_of(stored_cloud_init(vm["name"]))


class TestMultipassConformanceOtherVersions(TestMultipassConformance):
    """The same contract when Multipass prints capitalised states (very old clients),
    the newer blueprints key, no snapshot_count (before snapshots) and zones (unreleased)."""

    quirks = {"MULTIPASS_FAKE_STATE_CASE": "upper", "MULTIPASS_FAKE_BLUEPRINTS_KEY": "blueprints",
              "MULTIPASS_FAKE_SNAPSHOT_COUNT": "absent", "MULTIPASS_FAKE_ZONES": "1"}


class TestMultipassZeroConfig(ComputeProviderSuite):
    """The cloud named 'multipass' with no cloudmesh.yaml: multipass found on PATH."""

    image = "24.04"
    flavor = "tiny"
    timeout = 30
    interval = 0.05

    @pytest.fixture
    def cloud(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
        executable = isolate(tmp_path, monkeypatch)
        monkeypatch.setenv("PATH", f"{executable.parent}:/usr/bin:/bin")
        assert not (tmp_path / "config" / "cloudmesh.yaml").exists()
        yield "multipass"

    def delivered_keys(self, provider, vm) -> list[str]:
        return authorized_keys_of(stored_cloud_init(vm["name"]))


class TestMultipassFaults(FaultSuite):
    """A daemon that restarts, hangs or answers a launch too late (exit 5, the instance
    launched all the same), played by the fake multipass from a faults file."""

    image = "24.04"
    flavor = "tiny"
    bound_seconds = 30

    @pytest.fixture
    def faulty(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
        executable = isolate(tmp_path, monkeypatch)
        faults = harness.MultipassFaults(tmp_path / "faults.json")
        monkeypatch.setenv("MULTIPASS_FAKE_FAULTS", str(faults.path))
        harness.write_config(tmp_path / "config", {
            "local": {"cm": {"kind": "multipass", "retries": 3, "timeout": 10},
                      "credentials": {"executable": str(executable)}}})
        yield FaultSetup(cloud="local", proxy=faults, list_match="list --format json",
                         create_match="launch",
                         transient=lambda: {"status": 2, "body": b"list failed: cannot "
                                            b"connect to the multipass socket"})


def test_boot_with_key_then_ssh_as_ubuntu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole path on Multipass: 'cms vm boot --key' puts the key into the instance's
    cloud-init for the image's user ubuntu; an SSH server at the instance's address that
    trusts exactly what that cloud-init authorizes lets 'cms vm ssh NAME --command' in,
    with nothing set but the port."""
    from cloudmesh.compute.testing.fixtures import require_ssh_server
    from cloudmesh.compute.testing.sshd import start_ssh_server
    from conftest import run_cms

    require_ssh_server()
    executable = isolate(tmp_path, monkeypatch)
    harness.write_config(tmp_path / "config", {
        "local": {"cm": {"kind": "multipass"}, "credentials": {"executable": str(executable)}}})
    assert run_cms("key", "gen", "me").code == 0
    boot = run_cms("vm", "boot", "--cloud=local", "--name=k1", "--key=me", "--image=24.04",
                   "--flavor=tiny", "--output=json")
    assert boot.code == 0, boot
    (vm,) = boot.json()
    public = (tmp_path / "config" / "keys" / "me.pub").read_text().strip()
    cloud_init = stored_cloud_init("k1")
    assert cloud_init.startswith("#cloud-config")
    assert authorized_keys_of(cloud_init) == [public]  # top level: the default user, ubuntu
    server = start_ssh_server(tmp_path / "sshd", host=vm["private_ips"][0],
                              authorized_keys=authorized_keys_of(cloud_init), user="ubuntu")
    try:
        assert run_cms("set", f"local.ssh_port={server.port}").code == 0
        done = run_cms("vm", "ssh", "k1", "--cloud=local", "--command=echo in")
        assert done.code == 0, done
        assert done.out.strip() == "in"
    finally:
        server.stop()

"""The provider conformance suite against the fake ``multipass`` executable: the whole
suite as Multipass 1.16 prints; as the zero-config cloud ``multipass`` with no
cloudmesh.yaml at all, the tests that read what a configuration gives; for the quirks of
other versions, the tests whose outcome depends on what Multipass prints. Each class has
one fake daemon and home (class-scoped), so its read-only tests share one instance."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cloudmesh.compute.testing import ComputeProviderSuite
from cloudmesh.compute.testing.faults import FaultSetup, FaultSuite

# the shared helpers live beside the fake (tests/ is on sys.path, as for conftest)
from fakes.multipass import harness

QUIRKS = ("MULTIPASS_FAKE_STATE_CASE", "MULTIPASS_FAKE_BLUEPRINTS_KEY",
          "MULTIPASS_FAKE_SNAPSHOT_COUNT", "MULTIPASS_FAKE_ZONES", "MULTIPASS_FAKE_DAEMON",
          "MULTIPASS_FAKE_FAIL", "MULTIPASS_FAKE_VERSION")


@pytest.fixture(scope="class")
def class_env(tmp_path_factory: pytest.TempPathFactory):
    """A directory and an environment for one test class (undone after the class)."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        yield tmp_path_factory.mktemp("multipass"), monkeypatch


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


def stored_instance(name: str) -> dict:
    """The fake multipass daemon's record of an instance."""
    import json
    import os

    with open(os.environ["MULTIPASS_FAKE_STATE"], encoding="utf-8") as handle:
        return json.load(handle)["instances"][name]


def stored_cloud_init(name: str) -> str | None:
    """The cloud-init text the fake multipass received for an instance."""
    return stored_instance(name).get("cloud_init")


def unauthenticated_multipass(directory: Path) -> Path:
    """A multipass client the daemon does not accept, as Multipass prints it for a client
    that has not run 'multipass authenticate' (exit 2, CommandFail)."""
    directory.mkdir(parents=True, exist_ok=True)
    executable = directory / "multipass"
    executable.write_text(
        "#!/bin/sh\n"
        "echo \"$1 failed: The client is not authenticated with the Multipass service.\" >&2\n"
        "echo \"Please use 'multipass authenticate' before proceeding.\" >&2\n"
        "exit 2\n")
    executable.chmod(0o755)
    return executable


class MultipassHooks:
    """The suite's hooks, read from the fake daemon's state file."""

    def delivered_keys(self, provider, vm) -> list[str]:
        return authorized_keys_of(stored_cloud_init(vm["name"]))

    def reboot_count(self, cloud_name: str, vm: dict) -> int:
        return int(stored_instance(vm["name"]).get("reboots", 0))

    def bad_credentials(self, spec: dict) -> dict:
        executable = unauthenticated_multipass(
            Path(os.environ["MULTIPASS_FAKE_STATE"]).parent / "unauthenticated")
        spec.setdefault("credentials", {})["executable"] = str(executable)
        return spec


def only(*names: str):
    """A class decorator keeping only these tests of the suite (the others are None, which
    pytest does not collect)."""
    def narrow(cls):
        for attribute in dir(ComputeProviderSuite):
            if attribute.startswith("test_") and attribute not in names:
                setattr(cls, attribute, None)
        missing = [n for n in names if not callable(getattr(cls, n, None))]
        assert not missing, f"the suite has no tests {missing}"
        return cls
    return narrow


class TestMultipassConformance(MultipassHooks, ComputeProviderSuite):
    """A cloud 'local' of kind multipass whose credentials.executable is the fake."""

    image = "24.04"
    flavor = "small"
    timeout = 30
    interval = 0.05
    quirks: dict[str, str] = {}

    @pytest.fixture(scope="class")
    @classmethod
    def cloud(cls, class_env):
        directory, monkeypatch = class_env
        executable = isolate(directory, monkeypatch, cls.quirks)
        harness.write_config(directory / "config", {
            "local": {"cm": {"kind": "multipass"},
                      "credentials": {"executable": str(executable)}}})
        yield "local"


@only("test_boot_list_info_delete", "test_list_filters_by_names", "test_list_updates_cache",
      "test_stop_start", "test_reboot", "test_suspend_resume_or_not_supported",
      "test_wait_times_out", "test_one_failure_does_not_hide_the_others", "test_images",
      "test_resolve_image_takes_the_suite_image")
class TestMultipassConformanceOtherVersions(TestMultipassConformance):
    """What other versions print: capitalised states (very old clients), the newer
    blueprints key, no snapshot_count (before snapshots) and zones (unreleased). Only the
    tests that read those documents (states, list, info, find); the rest of the suite
    runs above with the same fake."""

    quirks = {"MULTIPASS_FAKE_STATE_CASE": "upper", "MULTIPASS_FAKE_BLUEPRINTS_KEY": "blueprints",
              "MULTIPASS_FAKE_SNAPSHOT_COUNT": "absent", "MULTIPASS_FAKE_ZONES": "1"}


@only("test_boot_list_info_delete", "test_images", "test_flavors",
      "test_resolve_image_takes_the_suite_image", "test_features_say_yes_or_why_not",
      "test_check_reports_the_cloud_reachable", "test_check_refuses_bad_credentials",
      "test_key_upload_is_idempotent_and_refuses_another_key",
      "test_ssh_reaches_the_vm_with_the_delivered_key", "test_ssh_command_from_the_cli",
      "test_ssh_refuses_a_changed_host_key")
class TestMultipassZeroConfig(MultipassHooks, ComputeProviderSuite):
    """The cloud named 'multipass' with no cloudmesh.yaml: multipass found on PATH. Only
    the tests that read what a configuration would give (the executable, defaults, the
    check, keys and the SSH user and address); the rest of the suite runs above with the
    same fake and provider, a cloud configuration changing none of its outcomes."""

    image = "24.04"
    flavor = "tiny"
    timeout = 30
    interval = 0.05

    @pytest.fixture(scope="class")
    @classmethod
    def cloud(cls, class_env):
        directory, monkeypatch = class_env
        executable = isolate(directory, monkeypatch)
        monkeypatch.setenv("PATH", f"{executable.parent}:/usr/bin:/bin")
        assert not (directory / "config" / "cloudmesh.yaml").exists()
        yield "multipass"

    def test_no_configuration_file_was_written(self, cloud: str) -> None:
        """The suite ran against the zero-config cloud, not a cloud it configured."""
        import os

        config = Path(os.environ["CLOUDMESH_CONFIG_DIR"]) / "cloudmesh.yaml"
        assert not config.exists() or "multipass" not in config.read_text()


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
    from conftest import cms_here

    require_ssh_server()
    executable = isolate(tmp_path, monkeypatch)
    harness.write_config(tmp_path / "config", {
        "local": {"cm": {"kind": "multipass"}, "credentials": {"executable": str(executable)}}})
    assert cms_here("key", "gen", "me").code == 0
    boot = cms_here("vm", "boot", "--cloud=local", "--name=k1", "--key=me", "--image=24.04",
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
        assert cms_here("set", f"local.ssh_port={server.port}").code == 0
        done = cms_here("vm", "ssh", "k1", "--cloud=local", "--command=echo in")
        assert done.code == 0, done
        assert done.out.strip() == "in"
    finally:
        server.stop()

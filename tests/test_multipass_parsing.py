"""The tolerant parsing of Multipass's output and the provider's calls of the executable:
pure functions, and the argument lists the fake ``multipass`` receives."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cloudmesh.compute.errors import (CloudError, ConfigError, CredentialError, NotFound,
                                      UsageError, WaitTimeout)
from cloudmesh.multipass.compute import Provider, normalise_state
from cloudmesh.multipass.parsing import FLAVORS, check_name, flavor_name, to_bytes, to_int

# the shared helpers live beside the fake (tests/ is on sys.path, as for conftest)
from fakes.multipass import harness

CMS = Path(sys.executable).parent / "cms"
GIB = 2 ** 30


@pytest.mark.parametrize("word, status", [
    ("Running", "running"), ("RUNNING", "running"), ("running", "running"),
    ("Starting", "booting"), ("Restarting", "rebooting"), ("Delayed Shutdown", "stopping"),
    ("DELAYED_SHUTDOWN", "stopping"), ("delayed shutdown", "stopping"),
    ("Suspending", "stopping"), ("Suspended", "suspended"), ("Stopped", "stopped"),
    ("Deleted", "terminated"), ("DELETED", "terminated"), ("Unknown", "unknown"),
    ("", "unknown"), (None, "unknown"), ("Hibernating", "unknown")])
def test_states_in_any_case(word: str, status: str) -> None:
    assert normalise_state(word) == status


@pytest.mark.parametrize("value, size", [
    ("5116440064", 5116440064), (5116440064, 5116440064), ("1G", GIB), ("1.5GiB", GIB * 3 // 2),
    ("512M", 512 * 2 ** 20), ("", None), (None, None), ("N/A", None), (True, None)])
def test_sizes_as_strings_or_integers(value, size) -> None:
    assert to_bytes(value) == size


@pytest.mark.parametrize("value, count", [("2", 2), (2, 2), (" 4 ", 4), ("", None),
                                          (None, None), ("two", None)])
def test_counts_as_strings_or_integers(value, count) -> None:
    assert to_int(value) == count


def test_flavor_is_read_back_from_the_sizes() -> None:
    # allocated sizes (a stopped VM) and what a running VM reports (a little less)
    assert flavor_name(1, GIB, 5 * GIB) == "tiny"
    assert flavor_name(2, int(4 * GIB * 0.955), int(20 * GIB * 0.97)) == "medium"
    assert flavor_name(3, 6 * GIB, 30 * GIB) == "3cpu-6G-30G"
    assert flavor_name(2, int(GIB * 0.955), int(5 * GIB * 0.97)) == "2cpu-1G-5G"
    assert flavor_name(None, None, None) is None
    assert set(FLAVORS) == {"tiny", "small", "medium", "large", "xlarge"}


@pytest.mark.parametrize("name", ["web01", "a", "w-1", "Web-01-x"])
def test_valid_names(name: str) -> None:
    assert check_name(name) == name


@pytest.mark.parametrize("name", ["", "1web", "web-", "-web", "we_b", "web.01", "wéb"])
def test_invalid_names(name: str) -> None:
    with pytest.raises(UsageError):
        check_name(name)


@pytest.mark.parametrize("code, text, error", [
    (2, 'info failed: The following errors occurred:\ninstance "x" does not exist\n', NotFound),
    (2, "start failed: instance(s) missing\nInstance 'x' does not exist.\n", NotFound),
    (3, "list failed: cannot connect to the multipass socket\n", CloudError),
    (2, "list failed: The user is not authenticated with the Multipass service.\n",
     CredentialError),
    (1, "Invalid format type given.\n", UsageError),
    (2, 'launch failed: instance "x" already exists\n', UsageError),
    (2, "stop failed: The following errors occurred:\ninstance \"x\" is deleted\n", UsageError),
    (5, "Timed out waiting for instance launch.\n", WaitTimeout),
    (4, "start failed: try later\n", CloudError)])
def test_multipass_errors_become_one_line(code: int, text: str, error: type) -> None:
    translated = Provider("mp", {"cm": {"kind": "multipass"}}).error_for(
        text.split()[0], code, text)
    assert type(translated) is error
    assert "\n" not in str(translated) and str(translated).startswith("cloud 'mp': multipass ")


def test_the_executable_is_configured_or_found(tmp_path: Path, monkeypatch) -> None:
    fake = harness.install_fake(tmp_path / "bin")
    assert Provider("mp", {"credentials": {"executable": str(fake)}}).executable == str(fake)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    assert Provider("mp", {}).executable == str(fake)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ConfigError, match="not installed"):
        Provider("mp", {}).executable


def test_calls_are_argument_lists_with_json_and_userdata_on_stdin(tmp_path: Path) -> None:
    harness.install_fake(tmp_path / "bin")
    log = tmp_path / "calls.jsonl"
    env = harness.environment(tmp_path, MULTIPASS_FAKE_LOG=str(log),
                              PATH=f"{tmp_path / 'bin'}:{CMS.parent}:/usr/bin:/bin")
    userdata = tmp_path / "user-data"
    userdata.write_text("#cloud-config\nruncmd: [echo 'hi; $(rm -rf /)']\n")

    def cms(*args: str) -> None:
        done = subprocess.run([str(CMS), *args], capture_output=True, text=True, env=env,
                              timeout=120)
        assert done.returncode == 0, done.stderr

    cms("vm", "boot", "--name=web01", "--cloud=multipass", "--flavor=small",
        f"--userdata={userdata}")
    cms("vm", "list", "--cloud=multipass")
    cms("image", "list", "--cloud=multipass")
    cms("multipass", "networks")
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    (launch,) = [c for c in calls if c[0] == "launch"]
    assert launch == ["launch", "--name", "web01", "--cpus", "1", "--memory", "2048M",
                      "--disk", "10G", "--cloud-init", "-", "lts"]
    state = harness.fake_state(tmp_path / "multipass-state.json")
    assert state["instances"]["web01"]["cloud_init"] == userdata.read_text()
    for verb in ("list", "info", "find", "networks"):
        assert all(c[-2:] == ["--format", "json"] for c in calls if c[0] == verb), verb
    assert ["info", "web01", "--format", "json"] in calls

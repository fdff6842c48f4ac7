"""The fake ``multipass`` itself, where it follows a particular place in Multipass's sources
(github.com/canonical/multipass; the file is named in each test). These run the fake
directly, without cms."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cloudmesh.compute.testing import fake_multipass

# the shared helpers live beside the fake (tests/ is on sys.path, as for conftest)
from fakes.multipass import harness


class Fake:
    def __init__(self, tmp: Path) -> None:
        self.executable = harness.install_fake(tmp / "bin")
        self.env = harness.environment(tmp)
        self.state_file = tmp / "multipass-state.json"

    def __call__(self, *args: str, input: str | None = None,
                 **env: str) -> subprocess.CompletedProcess:
        """The fake's ``main`` in this process (what its executable runs), with this
        environment and stdin, its output captured: ~100 calls cost no interpreter starts.
        (Every cms test runs the executable itself.)"""
        saved_env, saved_streams = dict(os.environ), (sys.stdin, sys.stdout, sys.stderr)
        out, err = io.StringIO(), io.StringIO()
        try:
            os.environ.clear()
            os.environ.update({**self.env, **env})
            sys.stdin, sys.stdout, sys.stderr = io.StringIO(input or ""), out, err
            code = fake_multipass.main(list(args))
        finally:
            sys.stdin, sys.stdout, sys.stderr = saved_streams
            os.environ.clear()
            os.environ.update(saved_env)
        return subprocess.CompletedProcess([str(self.executable), *args], code,
                                           out.getvalue(), err.getvalue())

    def ok(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        done = self(*args, **kwargs)
        assert done.returncode == 0, done.stderr
        return done

    def json(self, *args: str, **env: str) -> dict:
        return json.loads(self.ok(*args, "--format", "json", **env).stdout)

    def instances(self) -> dict:
        return harness.fake_state(self.state_file)["instances"]


@pytest.fixture
def fake(tmp_path: Path) -> Fake:
    return Fake(tmp_path)


def test_stopped_instance_has_no_runtime_information(fake: Fake) -> None:
    """daemon.cpp populate_instance_info + runtime_instance_info_helper.cpp; json_formatter.cpp
    prints what is empty as "", {} and []."""
    fake.ok("launch", "--name", "web01", "--cpus", "2")
    running = fake.json("info", "web01")["info"]["web01"]
    assert running["cpu_count"] == "2" and running["release"] and running["load"]
    assert set(running["memory"]) == {"used", "total"} and isinstance(running["memory"]["total"], int)
    assert set(running["disks"]["sda1"]) == {"used", "total"}
    assert isinstance(running["disks"]["sda1"]["total"], str)
    fake.ok("stop", "web01")
    stopped = fake.json("info", "web01")["info"]["web01"]
    assert (stopped["cpu_count"], stopped["memory"], stopped["disks"], stopped["load"],
            stopped["release"], stopped["ipv4"]) == ("", {}, {"sda1": {}}, [], "", [])
    assert stopped["image_release"] == "24.04 LTS" and stopped["snapshot_count"] == "0"
    table = fake.ok("info", "web01").stdout
    assert "CPU(s):         --\n" in table and "Memory usage:   --\n" in table
    fake.ok("start", "web01")
    quiet = fake.json("info", "web01", "--no-runtime-information")["info"]["web01"]
    assert (quiet["cpu_count"], quiet["memory"], quiet["state"]) == ("", {}, "Running")


def test_list_without_addresses(fake: Fake) -> None:
    """list.cpp: --no-ipv4 clears request_ipv4 (Daemon::list)."""
    fake.ok("launch", "--name", "web01")
    assert fake.json("list")["list"][0]["ipv4"]
    assert fake.json("list", "--no-ipv4")["list"][0]["ipv4"] == []


def test_zones_only_on_main_and_as_an_object(fake: Fake) -> None:
    """json_formatter.cpp on main (afeb5d6f6, after 1.16.3): "zone": {"name", "available"};
    launch.cpp --zone and common_cli.cpp normalize_zone_name."""
    fake.ok("launch", "--name", "web01")
    assert "zone" not in fake.json("list")["list"][0]
    assert "zone" not in fake.json("info", "web01")["info"]["web01"]
    refused = fake("launch", "--name", "web02", "--zone", "zone2")
    assert (refused.returncode, refused.stderr) == (1, "Unknown option 'zone'.\n")
    main = {"MULTIPASS_FAKE_ZONES": "1"}
    listed = fake.json("list", **main)["list"][0]["zone"]
    assert listed == {"name": fake.instances()["web01"]["zone"], "available": True}
    assert fake.json("info", "web01", **main)["info"]["web01"]["zone"] == listed
    assert fake.ok("launch", "--name", "web02", "--zone", "2", **main).stdout == \
        "Launched: web02 in zone2\n"
    assert fake.instances()["web02"]["zone"] == "zone2"
    unknown = fake("launch", "--name", "web03", "--zone", "mars", **main)
    assert (unknown.returncode, unknown.stderr) == (2, "No AZ with name: mars\n")
    empty = fake("launch", "--name", "web03", "--zone", " ", **main)
    assert (empty.returncode, empty.stderr) == (1, "Error: Empty zone specified with --zone option\n")
    assert "web03" not in fake.instances()


@pytest.mark.parametrize("version, message", [
    ("1.14.1", 'restart failed: instance "web02" is not running\n'),
    ("1.16.1", "restart failed: Instance 'web02' is already running, but in an unknown "
               "state.\nTry to stop and start it instead.\n"),
    ("1.17.0", "restart failed: Instance 'web02' is not running\n")])
def test_restart_of_a_stopped_instance(fake: Fake, version: str, message: str) -> None:
    """daemon.cpp reboot_vm, per release; cmd_vms reboots in order and stops at the first
    failure."""
    for name in ("web01", "web02"):
        fake.ok("launch", "--name", name)
    fake.ok("stop", "web01", "--time", "5")  # a delayed shutdown: still running
    fake.ok("stop", "web02")
    done = fake("restart", "web01", "web02", MULTIPASS_FAKE_VERSION=version)
    assert (done.returncode, done.stderr) == (2, message)
    assert fake.instances()["web01"]["state"] == "Running"  # rebooted, shutdown cancelled


def test_options_are_parsed_as_qt_does(fake: Fake) -> None:
    """argparser.cpp over QCommandLineParser (qtbase qcommandlineparser.cpp): compacted short
    options, values in the same word, a leading '-' always starts options."""
    fake.ok("launch", "-c2", "-m=1G", "-nweb01", "22.04")
    web01 = fake.instances()["web01"]
    assert (web01["cpus"], web01["memory"], web01["image"]) == (2, 2 ** 30, "22.04")
    fake.ok("launch", "-noble")  # -n oble: the image name read as options
    assert "oble" in fake.instances()
    for args, message in [
            (["-lts"], "Unknown options: l, t, s.\n"),
            (["--lts"], "Unknown option 'lts'.\n"),
            (["--name", "x", "-jammy"], "Unknown options: j, a.\n"),  # -m my
            (["--bridged=yes"], "Unexpected value after '--bridged'.\n"),
            (["--name"], "Missing value after '--name'.\n"),
            (["-vd"], "Missing value after '-vd'.\n")]:
        done = fake("launch", *args)
        assert (done.returncode, done.stderr) == (1, message), args
    after_dashes = fake("launch", "--name", "x", "--", "-lts")
    assert after_dashes.returncode == 2
    assert after_dashes.stderr.startswith('launch failed: Unable to find an image matching "-lts"')
    assert set(fake.instances()) == {"web01", "oble"}


def test_cloud_init_is_kept_from_a_file_or_stdin(fake: Fake, tmp_path: Path) -> None:
    """launch.cpp: --cloud-init PATH (a regular file or FIFO) or '-' for stdin, parsed as
    YAML by the client; the fake keeps the text for the tests."""
    user_data = "#cloud-config\nusers:\n  - name: ubuntu\n    ssh_authorized_keys: [ssh-ed25519 AAAA me]\n"
    path = tmp_path / "user-data.yaml"
    path.write_text(user_data)
    fake.ok("launch", "--name", "web01", "--cloud-init", str(path))
    fake.ok("launch", "--name", "web02", "--cloud-init", "-", input=user_data)
    fake.ok("launch", "--name", "web03")
    instances = fake.instances()
    assert [instances[n]["cloud_init"] for n in ("web01", "web02", "web03")] == \
        [user_data, user_data, None]
    assert [instances[n]["cloud_init_from"] for n in ("web01", "web02", "web03")] == \
        [str(path), "-", None]
    for bad in (tmp_path, tmp_path / "missing"):
        done = fake("launch", "--name", "web04", "--cloud-init", str(bad))
        assert done.returncode == 1
        assert done.stderr == (f"Could not load cloud-init configuration: bad file: {bad}\n"
                               "Please ensure that Multipass can read it.\n")
    broken = fake("launch", "--name", "web04", "--cloud-init", "-", input="users: [\n")
    assert broken.returncode == 1 and broken.stderr.startswith("Could not load cloud-init")
    script = fake("launch", "--name", "web04", "--cloud-init", "-",
                  input="#!/bin/sh\necho hello\n")
    assert script.returncode == 2 and script.stderr.startswith("launch failed: ")
    assert "web04" not in fake.instances()


def test_daemon_down_and_unknown_command(fake: Fake) -> None:
    """command.h dispatch: UNAVAILABLE becomes NOT_FOUND, exit 2; argparser.cpp for an
    unknown command (stdout, exit 1)."""
    down = fake("list", MULTIPASS_FAKE_DAEMON="down")
    assert (down.returncode, down.stderr) == (2, "list failed: cannot connect to the multipass socket\n")
    unknown = fake("frobnicate")
    assert unknown.returncode == 1
    assert unknown.stdout == ("Error: Unknown command or alias 'frobnicate' (try \"multipass "
                              "help\" or \"multipass aliases\")\n")


def test_only_quirks_of_real_releases(fake: Fake) -> None:
    """format_utils.cpp: upper-case words (2018.4 to v0.6) keep their space; no release
    printed lower-case words, so the fake refuses to."""
    fake.ok("launch", "--name", "web01")
    fake.ok("stop", "web01", "--time", "5")
    upper = fake.json("list", MULTIPASS_FAKE_STATE_CASE="upper")["list"][0]
    assert upper["state"] == "DELAYED SHUTDOWN"
    refused = fake("list", MULTIPASS_FAKE_STATE_CASE="lower")
    assert refused.returncode == 99 and "no Multipass release" in refused.stderr
    keys = {key: set(fake.json("find", MULTIPASS_FAKE_BLUEPRINTS_KEY=key)) for key in
            ("blueprints", "blueprints (deprecated)", "none")}
    assert keys == {"blueprints": {"errors", "images", "blueprints"},
                    "blueprints (deprecated)": {"errors", "images", "blueprints (deprecated)"},
                    "none": {"errors", "images"}}


def test_a_client_timeout_leaves_the_daemon_working(fake: Fake) -> None:
    """common_cli.cpp make_timer: "Timed out waiting for instance launch." and exit 5
    (constants.h timeout_exit_code) while the daemon finishes the launch."""
    done = fake("launch", "--name", "web01", "--timeout", "1",
                MULTIPASS_FAKE_FAIL="launch:5:Timed out waiting for instance launch.")
    assert (done.returncode, done.stdout, done.stderr) == (
        5, "", "Timed out waiting for instance launch.\n")
    assert fake.instances()["web01"]["state"] == "Running"
    failed = fake("launch", "--name", "web02", MULTIPASS_FAKE_FAIL="launch:2:boom")
    assert (failed.returncode, failed.stderr) == (2, "launch failed: boom\n")
    assert "web02" not in fake.instances()


@pytest.mark.parametrize("version, state, cpu_count, release, snapshots, blueprints, zone", [
    ("0.6.1", "RUNNING", None, "24.04 LTS", None, None, False),
    ("1.10.1", "Running", None, "24.04 LTS", None, None, False),
    ("1.12.2", "Running", "1", "Ubuntu 24.04 LTS", None, "blueprints", False),
    ("1.15.1", "Running", "1", "Ubuntu 24.04 LTS", "0", "blueprints", False),
    ("1.16.1", "Running", "1", "Ubuntu 24.04 LTS", "0", "blueprints (deprecated)", False),
    ("1.17.0", "Running", "1", "Ubuntu 24.04 LTS", "0", None, True)])
def test_each_version_prints_what_it_printed(fake: Fake, version: str, state: str,
                                             cpu_count, release, snapshots, blueprints,
                                             zone: bool) -> None:
    """json_formatter.cpp and format_utils.cpp at each release's tag; "1.17" is main."""
    fake.ok("launch", "--name", "web01")
    env = {"MULTIPASS_FAKE_VERSION": version}
    listed = fake.json("list", **env)["list"][0]
    info = fake.json("info", "web01", **env)["info"]["web01"]
    found = fake.json("find", **env)
    assert (listed["state"], info["state"], listed["release"]) == (state, state, release)
    assert (info.get("cpu_count"), info.get("snapshot_count")) == (cpu_count, snapshots)
    assert set(found) - {"errors", "images"} == ({blueprints} if blueprints else set())
    assert ("zone" in listed, "zone" in info) == (zone, zone)

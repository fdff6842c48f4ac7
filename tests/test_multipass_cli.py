"""Every ``cms multipass`` verb, ``cms vm``/``image``/``flavor`` on multipass clouds, the
version quirks, the errors and the zero-config cloud, against the fake ``multipass``
executable. cms runs in the test process (cms_here) except where multipass takes over
this process's terminal (exec, shell, a transfer through '-'): those run the real ``cms``
so that what multipass prints reaches the captured stdout."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

# the shared helpers live beside the fake (tests/ is on sys.path, as for conftest)
from cloudmesh.compute.testing.fixtures import CmsResult, run_in_process
from fakes.multipass import harness

CMS = Path(sys.executable).parent / "cms"


class Host:
    """A throwaway host: HOME, config dir, the fake multipass on PATH and its state."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.executable = harness.install_fake(tmp / "bin")
        self.state_file = tmp / "multipass-state.json"
        self.env = harness.environment(
            tmp, PATH=f"{tmp / 'bin'}:{Path(sys.executable).parent}:/usr/bin:/bin")

    def cms(self, *args: str, input: str | None = None, env: dict | None = None,
            check: bool = False) -> subprocess.CompletedProcess | CmsResult:
        if _uses_the_terminal(args):
            done = subprocess.run([str(CMS), *args], capture_output=True, text=True,
                                  input=input, env={**self.env, **(env or {})}, cwd=self.tmp,
                                  timeout=120)
        else:
            done = run_in_process(*args, env={**self.env, **(env or {})}, stdin=input,
                                  cwd=self.tmp)
        if check:
            assert done.returncode == 0, (args, done.returncode, done.stderr)
        return done

    def json(self, *args: str, env: dict | None = None):
        done = self.cms(*args, "--output=json", env=env, check=True)
        return json.loads(done.stdout)

    def instances(self) -> dict:
        return harness.fake_state(self.state_file)["instances"]

    def launch(self, *names: str, options: tuple[str, ...] = ()) -> None:
        for name in names:
            self.cms("multipass", "launch", name, *options, check=True)


def _uses_the_terminal(args: tuple[str, ...]) -> bool:
    """multipass exec/shell and a transfer from or to '-' inherit cms's own stdin and
    stdout (file descriptors, which only a process has)."""
    if args[:2] in (("multipass", "exec"), ("multipass", "shell")):
        return True
    return args[:2] == ("multipass", "transfer") and "-" in args[2:]


@pytest.fixture
def host(tmp_path: Path) -> Host:
    return Host(tmp_path)


def one_error_line(done: subprocess.CompletedProcess, code: int) -> str:
    """The command failed with this exit code and said why in one line, no traceback
    (progress lines such as 'web01: launching ...' may come before it)."""
    assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
    lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr
    return lines[0]


# ---- discovery and help ---------------------------------------------------------------
def test_help_lists_multipass_and_its_usage(host: Host) -> None:
    assert "multipass" in host.cms("help", check=True).stdout
    usage = host.cms("multipass", "--help", check=True).stdout
    for verb in ("images", "launch", "create", "exec", "shell", "mount", "umount",
                 "transfer", "networks", "version", "get", "set", "recover", "purge"):
        assert f"cms multipass {verb}" in usage


# ---- images, flavors ------------------------------------------------------------------
def test_images_from_find_in_every_format(host: Host) -> None:
    table = host.cms("multipass", "images", check=True).stdout
    assert "24.04" in table and "noble,lts" in table and "daily:25.04" in table
    records = host.json("multipass", "images")
    by_name = {r["name"]: r for r in records}
    assert by_name["24.04"]["os"] == "Ubuntu 24.04 LTS"
    assert by_name["24.04"]["native"]["aliases"] == ["noble", "lts"]
    assert by_name["docker"]["status"] == "blueprint"
    assert all(r["kind"] == "multipass" and r["cloud"] == "multipass" for r in records)
    assert "name: '24.04'" in host.cms("multipass", "images", "--output=yaml", check=True).stdout
    csv = host.cms("multipass", "images", "--output=csv", check=True).stdout.splitlines()
    assert csv[0] == "name,aliases,os,version,status"
    # the same through the core commands, and by alias
    assert host.json("image", "show", "jammy", "--cloud=multipass")["name"] == "22.04"


def test_flavors_are_a_fixed_documented_set(host: Host) -> None:
    flavors = {f["name"]: f for f in host.json("flavor", "list", "--cloud=multipass")}
    assert list(flavors) == ["tiny", "small", "medium", "large", "xlarge"]
    assert (flavors["medium"]["vcpus"], flavors["medium"]["ram_mb"],
            flavors["medium"]["disk_gb"]) == (2, 4096, 20)
    custom = host.json("flavor", "show", "3cpu-6G-30G", "--cloud=multipass")
    assert (custom["vcpus"], custom["ram_mb"], custom["disk_gb"]) == (3, 6144, 30)
    one_error_line(host.cms("flavor", "show", "huge", "--cloud=multipass"), 3)


# ---- launch -----------------------------------------------------------------------------
def test_launch_with_cpus_then_list_and_info(host: Host) -> None:
    done = host.cms("multipass", "launch", "web01", "--cpus=2", check=True)
    assert "web01" in done.stdout and "running" in done.stdout
    assert host.instances()["web01"]["cpus"] == 2
    (listed,) = host.json("multipass", "list")
    assert (listed["name"], listed["status"], listed["state"]) == ("web01", "running", "Running")
    assert listed["flavor"] == "2cpu-1G-5G" and listed["image"] == "24.04 LTS"
    assert listed["private_ips"] and listed["kind"] == "multipass"
    info = host.json("multipass", "info", "web01")
    assert isinstance(info, dict) and info["id"] == "web01"
    assert info["native"]["cpu_count"] == "2"
    table = host.cms("multipass", "info", "web01", check=True).stdout
    assert "web01" in table and "GiB" in table


def test_create_is_launch_and_flavors_become_sizes(host: Host) -> None:
    done = host.cms("multipass", "create", "app[1-2]", "--flavor=medium", "--image=jammy",
                    "--output=json", check=True)
    assert sorted(r["name"] for r in json.loads(done.stdout)) == ["app1", "app2"]
    for name in ("app1", "app2"):
        instance = host.instances()[name]
        assert (instance["cpus"], instance["memory"], instance["disk"]) == (
            2, 4096 * 2 ** 20, 20 * 2 ** 30)
        assert instance["image_release"] == "22.04 LTS"
    assert host.json("multipass", "info", "app1")["flavor"] == "medium"
    # explicit sizes win over the flavor's
    host.cms("multipass", "launch", "app3", "--flavor=large", "--memory=2G", check=True)
    instance = host.instances()["app3"]
    assert (instance["cpus"], instance["memory"]) == (4, 2 * 2 ** 30)


def test_launch_passes_cloud_init_networks_mounts_and_timeout(host: Host) -> None:
    user_data = host.tmp / "user-data.yaml"
    user_data.write_text("#cloud-config\npackages: [git]\n")
    shared = host.tmp / "shared"
    shared.mkdir()
    host.cms("multipass", "set", "local.bridged-network=enp3s0", check=True)
    host.cms("multipass", "launch", "net1", f"--cloud-init={user_data}",
             "--network=name=wlp2s0,mode=auto", "--bridged", f"--mount={shared}:/srv/shared",
             "--timeout=300", "--disk=8G", "--memory=1.5G", check=True)
    instance = host.instances()["net1"]
    assert "packages: [git]" in instance["cloud_init"]
    assert [n["name"] for n in instance["networks"]] == ["enp3s0", "wlp2s0"]
    assert instance["mounts"]["/srv/shared"]["source_path"] == str(shared)
    assert (instance["disk"], instance["memory"]) == (8 * 2 ** 30, int(1.5 * 2 ** 30))
    info = host.json("multipass", "info", "net1")
    assert len(info["private_ips"]) == 3  # several IPv4 addresses
    assert "/srv/shared" in info["native"]["mounts"]


def test_launch_dryrun_prints_the_multipass_command(host: Host) -> None:
    done = host.cms("multipass", "launch", "web[1-2]", "--cpus=2", "--image=jammy",
                    "--dryrun", check=True)
    assert "would run: multipass launch --name web1 --cpus 2 jammy" in done.stderr
    assert "web2" in done.stderr
    assert host.instances() == {}


@pytest.mark.parametrize("name", ["1web", "web-", "we_b", "web.01", "web01-x-"])
def test_names_are_validated_before_multipass_runs(host: Host, name: str) -> None:
    line = one_error_line(host.cms("multipass", "launch", name), 2)
    assert "invalid instance name" in line and "start with a letter" in line
    assert not host.state_file.exists()  # multipass was never called
    one_error_line(host.cms("multipass", "stop", name), 2)


def test_launch_errors_from_multipass(host: Host) -> None:
    host.launch("web01")
    line = one_error_line(host.cms("multipass", "launch", "web01"), 2)
    assert 'instance "web01" already exists' in line
    line = one_error_line(host.cms("multipass", "launch", "web02", "--image=nosuch"), 1)
    assert 'Unable to find an image matching "nosuch"' in line
    line = one_error_line(host.cms("multipass", "launch", "web03", "--memory=64M"), 2)
    assert "Invalid arguments supplied" in line and "Invalid memory size" in line
    line = one_error_line(host.cms("multipass", "launch", "web04", "--cpus=zero"), 2)
    assert "--cpus" in line
    line = one_error_line(host.cms("multipass", "launch", "web05", "--network=nosuch0"), 2)
    assert "Invalid network options supplied" in line
    line = one_error_line(host.cms("multipass", "launch", "web06", "--cloud-init=missing.yaml"), 2)
    assert "Could not load cloud-init configuration" in line


# ---- state changes ----------------------------------------------------------------------
def test_stop_start_suspend_restart(host: Host) -> None:
    host.launch("web01", "web02")

    def status(name: str) -> str:
        return host.json("multipass", "info", name)["status"]

    done = host.cms("multipass", "stop", "web[01-02]", check=True)
    assert "web01: stopped (stopped)" in done.stderr and "web02: stopped" in done.stderr
    assert status("web01") == "stopped"
    host.cms("multipass", "start", "web01", check=True)
    assert status("web01") == "running"
    host.cms("multipass", "suspend", "web01", check=True)
    assert status("web01") == "suspended"
    # Multipass 1.15-1.16 words a restart of a VM that is not running so (daemon.cpp)
    line = one_error_line(host.cms("multipass", "restart", "web01"), 1)
    assert "Instance 'web01' is already running, but in an unknown state" in line
    old = one_error_line(host.cms("multipass", "restart", "web01",
                                  env={"MULTIPASS_FAKE_VERSION": "1.14.1"}), 1)
    assert 'instance "web01" is not running' in old
    host.cms("multipass", "start", "web01", check=True)  # resumes
    done = host.cms("multipass", "restart", "web01", check=True)
    assert "web01: restarted (running)" in done.stderr
    assert "would run: multipass stop web01" in host.cms(
        "multipass", "stop", "web01", "--dryrun", check=True).stderr
    assert status("web01") == "running"


def test_one_missing_name_does_not_hide_the_others(host: Host) -> None:
    host.launch("web01")
    done = host.cms("multipass", "stop", "web01,ghost")
    assert done.returncode == 3
    assert "web01: stopped" in done.stderr
    assert 'instance "ghost" does not exist' in done.stderr
    assert host.instances()["web01"]["state"] == "Stopped"


def test_delete_recover_purge(host: Host) -> None:
    host.launch("web01", "web02", "web03")
    done = host.cms("multipass", "delete", "web01", check=True)
    assert "cms multipass recover web01" in done.stderr
    records = {r["name"]: r for r in host.json("multipass", "list")}
    assert (records["web01"]["status"], records["web01"]["state"]) == ("terminated", "Deleted")
    line = one_error_line(host.cms("multipass", "start", "web01"), 2)
    assert "is deleted" in line and "recover" in line
    host.cms("multipass", "recover", "web01", check=True)
    assert host.json("multipass", "info", "web01")["status"] == "stopped"
    host.cms("multipass", "delete", "web01,web02", check=True)
    done = host.cms("multipass", "purge", "--yes", check=True)
    assert "purged: web01, web02" in done.stderr
    assert set(host.instances()) == {"web03"}
    host.cms("multipass", "delete", "web03", "--purge", check=True)
    assert host.instances() == {}
    one_error_line(host.cms("multipass", "delete", "web03"), 3)


# ---- exec, shell, mount, transfer -------------------------------------------------------
def test_exec_streams_output_and_returns_the_exit_status(host: Host) -> None:
    host.launch("web01")
    done = host.cms("multipass", "exec", "web01", "--", "uname", "-a")
    assert done.returncode == 0 and "Linux web01" in done.stdout
    assert host.cms("multipass", "exec", "web01", "--", "sh", "-c", "exit 3").returncode == 3
    done = host.cms("multipass", "exec", "web01", "--", "nosuch")
    assert done.returncode == 127 and "nosuch: command not found" in done.stderr
    host.cms("multipass", "stop", "web01", check=True)
    done = host.cms("multipass", "exec", "web01", "--", "true")
    assert done.returncode == 2 and 'instance "web01" is not running' in done.stderr


def test_shell_is_interactive_on_this_terminal(host: Host) -> None:
    host.launch("web01")
    host.cms("multipass", "stop", "web01", check=True)
    done = host.cms("multipass", "shell", "web01", input="hostname\nwhoami\nexit\n")
    assert done.returncode == 0
    assert "Welcome to Ubuntu" in done.stdout and "web01\nubuntu" in done.stdout
    assert host.instances()["web01"]["state"] == "Running"  # shell started it


def test_mount_and_umount(host: Host) -> None:
    host.launch("web01")
    data = host.tmp / "data"
    data.mkdir()
    done = host.cms("multipass", "mount", str(data), "web01:/data", check=True)
    assert "mounted" in done.stderr
    host.cms("multipass", "mount", str(data), "web01", check=True)  # default mount point
    mounts = host.json("multipass", "info", "web01")["native"]["mounts"]
    assert set(mounts) == {"/data", "/home/ubuntu/data"}
    assert mounts["/data"]["source_path"] == str(data)
    line = one_error_line(host.cms("multipass", "mount", str(data), "web01:/data"), 1)
    assert "already mounted" in line
    line = one_error_line(host.cms("multipass", "mount", str(host.tmp / "nope"), "web01"), 3)
    assert "does not exist" in line
    host.cms("multipass", "umount", "web01:/data", check=True)
    assert set(host.json("multipass", "info", "web01")["native"]["mounts"]) == {
        "/home/ubuntu/data"}
    line = one_error_line(host.cms("multipass", "umount", "web01:/data"), 1)
    assert "is not mounted" in line
    host.cms("multipass", "umount", "web01", check=True)
    assert host.json("multipass", "info", "web01")["native"]["mounts"] == {}


def test_transfer_both_ways_recursive_and_streaming(host: Host) -> None:
    host.launch("web01")
    notes = host.tmp / "notes.txt"
    notes.write_text("hello from the host\n")
    host.cms("multipass", "transfer", str(notes), "web01:notes.txt", check=True)
    done = host.cms("multipass", "exec", "web01", "--", "cat", "notes.txt", check=True)
    assert done.stdout == "hello from the host\n"
    back = host.tmp / "back.txt"
    host.cms("multipass", "transfer", "web01:notes.txt", str(back), check=True)
    assert back.read_text() == "hello from the host\n"
    streamed = host.cms("multipass", "transfer", "web01:/home/ubuntu/notes.txt", "-", check=True)
    assert streamed.stdout == "hello from the host\n"
    host.cms("multipass", "transfer", "-", "web01:piped.txt", input="from stdin\n", check=True)
    assert host.cms("multipass", "exec", "web01", "--", "cat", "piped.txt",
                    check=True).stdout == "from stdin\n"
    tree = host.tmp / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub" / "a.txt").write_text("a")
    host.cms("multipass", "transfer", "--recursive", str(tree), "web01:/srv/", check=True)
    assert host.cms("multipass", "exec", "web01", "--", "cat", "/srv/tree/sub/a.txt",
                    check=True).stdout == "a"
    line = one_error_line(host.cms("multipass", "transfer", str(notes), "other.txt"), 2)
    assert "NAME:PATH" in line
    line = one_error_line(host.cms("multipass", "transfer", str(notes), "ghost:x"), 3)
    assert 'instance "ghost" does not exist' in line


# ---- networks, version, get, set --------------------------------------------------------
def test_networks_and_version(host: Host) -> None:
    networks = host.json("multipass", "networks")
    assert [n["name"] for n in networks] == ["enp3s0", "wlp2s0"]
    assert networks[0] == {"name": "enp3s0", "type": "ethernet",
                           "description": "Ethernet device"}
    assert host.json("multipass", "version") == {"multipass": "1.16.1", "multipassd": "1.16.1"}
    table = host.cms("multipass", "version", check=True).stdout
    assert "multipassd" in table and "1.16.1" in table


def test_get_and_set(host: Host) -> None:
    assert host.cms("multipass", "get", "local.driver", check=True).stdout == "qemu\n"
    assert host.cms("multipass", "get", "local.bridged-network", check=True).stdout == "\n"
    host.cms("multipass", "set", "local.bridged-network=wlp2s0", check=True)
    assert host.cms("multipass", "get", "local.bridged-network", check=True).stdout == "wlp2s0\n"
    line = one_error_line(host.cms("multipass", "get", "no.such.key"), 2)
    assert "Unrecognized settings key: 'no.such.key'" in line
    line = one_error_line(host.cms("multipass", "set", "local.driver=vmware"), 2)
    assert "Invalid setting 'local.driver=vmware'" in line
    line = one_error_line(host.cms("multipass", "set", "local.driver"), 2)
    assert "KEY=VALUE" in line
    host.launch("web01")
    line = one_error_line(host.cms("multipass", "set", "local.web01.cpus=4"), 2)
    assert "must be stopped" in line
    host.cms("multipass", "stop", "web01", check=True)
    host.cms("multipass", "set", "local.web01.cpus=4", check=True)
    assert host.cms("multipass", "get", "local.web01.cpus", check=True).stdout == "4\n"


# ---- version quirks -------------------------------------------------------------------
def test_quirk_capitalised_states(host: Host) -> None:
    host.launch("web01")
    upper = {"MULTIPASS_FAKE_STATE_CASE": "upper"}
    (record,) = host.json("multipass", "list", env=upper)
    assert (record["status"], record["state"]) == ("running", "RUNNING")
    host.cms("multipass", "stop", "web01", env=upper, check=True)
    record = host.json("multipass", "info", "web01", env=upper)
    assert (record["status"], record["state"]) == ("stopped", "STOPPED")


@pytest.mark.parametrize("key", ["blueprints", "blueprints (deprecated)", "none"])
def test_quirk_blueprints_key(host: Host, key: str) -> None:
    records = host.json("multipass", "images", env={"MULTIPASS_FAKE_BLUEPRINTS_KEY": key})
    blueprints = {r["name"] for r in records if r["status"] == "blueprint"}
    assert blueprints == (set() if key == "none" else {"docker", "jellyfin", "minikube",
                                                       "ros2-jazzy"})
    assert "24.04" in {r["name"] for r in records}


def test_quirk_snapshot_count_absent_and_zones(host: Host) -> None:
    host.launch("web01")
    plain = host.json("multipass", "info", "web01")
    assert plain["native"]["snapshot_count"] == "0" and plain["zone"] is None
    quirky = host.json("multipass", "info", "web01", env={
        "MULTIPASS_FAKE_SNAPSHOT_COUNT": "absent", "MULTIPASS_FAKE_ZONES": "1"})
    assert "snapshot_count" not in quirky["native"]
    assert quirky["zone"] == host.instances()["web01"]["zone"]
    (listed,) = host.json("multipass", "list", env={"MULTIPASS_FAKE_ZONES": "1"})
    assert listed["zone"] == quirky["zone"]


def test_every_multipass_state_maps_to_a_status(host: Host) -> None:
    harness.seed_instances(host.state_file, {
        "a-running": {"state": "Running"}, "a-starting": {"state": "Starting"},
        "a-restarting": {"state": "Restarting"},
        "a-delayed": {"state": "Delayed Shutdown"}, "a-suspending": {"state": "Suspending"},
        "a-suspended": {"state": "Suspended"}, "a-stopped": {"state": "Stopped"},
        "a-unknown": {"state": "Unknown"}, "a-deleted": {"state": "Stopped", "deleted": True},
        # a custom image: Multipass knows no release ("Not Available" in list)
        "a-custom": {"image": "file:///tmp/custom.img", "image_release": "",
                     "current_release": "", "extra_ipv4": ["192.168.1.7", "192.168.1.8"]},
    })
    statuses = {r["name"]: r["status"] for r in host.json("vm", "list", "--cloud=multipass")}
    assert statuses == {"a-running": "running", "a-starting": "booting",
                        "a-restarting": "rebooting", "a-delayed": "stopping",
                        "a-suspending": "stopping", "a-suspended": "suspended",
                        "a-stopped": "stopped", "a-unknown": "unknown",
                        "a-deleted": "terminated", "a-custom": "running"}
    upper = {r["name"]: r for r in host.json("vm", "list", "--cloud=multipass",
                                              env={"MULTIPASS_FAKE_STATE_CASE": "upper"})}
    assert upper["a-delayed"]["state"] == "DELAYED SHUTDOWN"  # format_utils.cpp, v0.6
    assert upper["a-delayed"]["status"] == "stopping"
    custom = host.json("multipass", "info", "a-custom")
    assert custom["image"] is None
    assert custom["private_ips"] == ["10.218.69.200", "192.168.1.7", "192.168.1.8"]


# ---- errors -----------------------------------------------------------------------------
def test_daemon_down_is_one_line_with_a_hint(host: Host) -> None:
    line = one_error_line(host.cms("multipass", "list",
                                   env={"MULTIPASS_FAKE_DAEMON": "down"}), 1)
    assert "cannot connect to the multipass socket" in line and "multipassd" in line
    harness.write_config(host.tmp / "config", {"local": {
        "cm": {"kind": "multipass"}, "credentials": {"executable": str(host.executable)}}})
    done = host.cms("check", "local", env={"MULTIPASS_FAKE_DAEMON": "down"})
    assert done.returncode == 1 and "multipassd" in done.stdout + done.stderr
    assert "1.16.1" in host.cms("check", "local", check=True).stdout


@pytest.mark.parametrize("code, exit_code, word", [
    ("1", 2, "help list"), ("2", 1, "boom"), ("3", 1, "multipassd"), ("4", 1, "try again")])
def test_multipass_exit_codes_become_ours(host: Host, code: str, exit_code: int,
                                          word: str) -> None:
    done = host.cms("multipass", "list", env={"MULTIPASS_FAKE_FAIL": f"list:{code}:boom"})
    line = one_error_line(done, exit_code)
    assert "multipass list failed: boom" in line and word in line


def test_unknown_instance_is_not_found(host: Host) -> None:
    line = one_error_line(host.cms("multipass", "info", "ghost"), 3)
    assert 'instance "ghost" does not exist' in line and "cms multipass list" in line


def test_not_installed_says_how_to_install(host: Host) -> None:
    done = host.cms("multipass", "list", env={"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"})
    line = one_error_line(done, 4)
    assert "multipass is not installed" in line
    assert "snap install multipass" in line and "installer" in line
    done = host.cms("vm", "list", "--cloud=multipass",
                    env={"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"})
    assert done.returncode == 4 and "multipass is not installed" in done.stderr
    harness.write_config(host.tmp / "config", {"local": {
        "cm": {"kind": "multipass"}, "credentials": {"executable": str(host.tmp / "nope")}}})
    line = one_error_line(host.cms("multipass", "list", "--cloud=local"), 4)
    assert "does not exist or is not executable" in line and "snap install" in line


# ---- clouds: zero-config and configured -------------------------------------------------
def test_vm_list_on_the_zero_config_cloud(host: Host) -> None:
    assert not (host.tmp / "config" / "cloudmesh.yaml").exists()
    assert host.json("vm", "list", "--cloud=multipass") == []
    host.launch("web01")
    (record,) = host.json("vm", "list", "--cloud=multipass")
    assert (record["name"], record["cloud"], record["kind"]) == ("web01", "multipass",
                                                                 "multipass")
    # cms vm boot uses the cloud's zero-config defaults: the LTS image, the tiny flavor
    done = host.cms("vm", "boot", "--name=web02", "--cloud=multipass", "--output=json",
                    check=True)
    (booted,) = json.loads(done.stdout)
    assert booted["flavor"] == "tiny" and booted["image"] == "24.04 LTS"
    host.cms("vm", "delete", "web02", "--cloud=multipass", check=True)
    assert host.json("vm", "info", "web02", "--cloud=multipass")["status"] == "terminated"


def test_a_configured_cloud_of_kind_multipass(host: Host) -> None:
    harness.write_config(host.tmp / "config", {
        "local": {"cm": {"kind": "multipass"},
                  "credentials": {"executable": str(host.executable)}},
        "elsewhere": {"cm": {"kind": "aws"}, "credentials": {"region": "us-east-1"}}})
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"}  # not on PATH
    host.cms("multipass", "launch", "web01", "--cloud=local", env=env, check=True)
    (record,) = host.json("vm", "list", "--cloud=local", env=env)
    assert (record["name"], record["cloud"]) == ("web01", "local")
    # the yaml exists but has no 'multipass' entry: still zero-config, found on PATH
    assert [r["name"] for r in host.json("multipass", "list")] == ["web01"]
    line = one_error_line(host.cms("multipass", "list", "--cloud=elsewhere"), 2)
    assert "is of kind aws, not multipass" in line


def test_a_broken_yaml_is_reported_not_bypassed(host: Host) -> None:
    (host.tmp / "config").mkdir()
    (host.tmp / "config" / "cloudmesh.yaml").write_text("cloudmesh: [unclosed\n")
    (host.tmp / "config" / "cloudmesh.yaml").chmod(0o600)
    line = one_error_line(host.cms("multipass", "list"), 4)
    assert "invalid YAML" in line

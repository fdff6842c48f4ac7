"""``cms check --deep`` (issue 23) against every kind's test cloud (moto, the OpenStack,
Compute Engine, ARM and OCI fakes, the fake multipass), all at once and with a failure
injected at each step: the rows, the exit code, and that each cloud's state holds nothing
but what the output names.

The VM's SSH server is the test's own on 127.0.0.1 (``ssh_host``/``ssh_port`` set as a
user behind a tunnel would): it trusts exactly the keys the boot delivered, read back from
each cloud's state while the check runs (the throwaway key exists only then)."""

from __future__ import annotations

import functools
import getpass
import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Callable

import pytest

from cloudmesh.compute.testing.faultproxy import FaultProxy, ec2_error
from cloudmesh.compute.testing.fixtures import require_ssh_server, write_config
from conftest import CMS, aws_cloud_spec, cms_here, ec2_client
from fakes.azure import AzureFake
from fakes.google import GoogleFake
from fakes.google.harness import cloud_spec as google_spec
from fakes.multipass import harness
from fakes.oracle import OciFake
from fakes.oracle.harness import cloud_spec as oracle_spec
from fakes.oracle.harness import delivered_keys as oci_delivered_keys
from fakes.oracle.harness import make_api_key
from test_multipass_conformance import authorized_keys_of
from test_openstack import cloud_spec as openstack_spec
from test_openstack import openstack_fake  # noqa: F401  (the fixture)

STEPS = ["credentials", "image", "flavor", "key", "boot", "ssh", "uname", "delete",
         "cleanup", "gone"]


# ---- what each cloud holds -------------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def ec2_of(endpoint: str):
    """One boto3 client per endpoint: VmSshServer reads the delivered keys 20 times a
    second, and a new client costs more CPU than the requests."""
    return ec2_client(endpoint)


def aws_live(endpoint: str) -> dict[str, list[str]]:
    ec2 = ec2_of(endpoint)
    vms = [i["InstanceId"] for r in ec2.describe_instances()["Reservations"]
           for i in r["Instances"] if i["State"]["Name"] != "terminated"]
    return {"vms": vms, "keys": [k["KeyName"] for k in ec2.describe_key_pairs()["KeyPairs"]]}


def aws_delivered(endpoint: str) -> list[str]:
    ec2 = ec2_of(endpoint)
    names = [i.get("KeyName") for r in ec2.describe_instances()["Reservations"]
             for i in r["Instances"]
             if i.get("KeyName") and i["State"]["Name"] not in ("shutting-down", "terminated")]
    if not names:
        return []
    pairs = ec2.describe_key_pairs(KeyNames=names, IncludePublicKey=True)["KeyPairs"]
    return [pair["PublicKey"] for pair in pairs]


def aws_groups(endpoint: str) -> list[str]:
    return sorted(g["GroupName"] for g in
                  ec2_of(endpoint).describe_security_groups()["SecurityGroups"])


def openstack_live(fake) -> dict[str, list[str]]:
    with fake.lock:
        return {"vms": list(fake.servers), "keys": list(fake.keypairs),
                "floating_ips": [f["id"] for f in fake.floatingips.values()]}


def openstack_groups(fake) -> list[str]:
    with fake.lock:
        return sorted(g["name"] for g in fake.security_groups.values())


def openstack_ports(fake) -> list[str]:
    with fake.lock:
        return sorted(fake.ports)


def google_live(fake: GoogleFake) -> dict[str, list[str]]:
    """Instances, disks and firewalls (cms groups are firewalls) the fake holds."""
    state = fake.state
    state.tick()
    with state.lock:
        return {"vms": sorted(n for _, n in state.instances), "disks": fake.disks(),
                "firewalls": sorted(state.firewalls)}


def google_delivered(fake: GoogleFake) -> list[str]:
    with fake.state.lock:
        names = [n for _, n in fake.state.instances]
    return [key for name in names for key in fake.ssh_keys(name)]


def azure_live(fake: AzureFake) -> list[str]:
    """Every resource id (VMs, NICs, public IPs, disks, NSGs, SSH keys, networks) and
    resource group the fake ARM holds."""
    with fake.lock:
        fake._settle()
        return sorted(fake.resources) + [f"group:{g}" for g in sorted(fake.groups)]


def azure_delivered(fake: AzureFake) -> list[str]:
    keys = []
    for vm in fake.of_type("Microsoft.Compute/virtualMachines"):
        profile = vm["properties"].get("osProfile") or {}
        ssh = (profile.get("linuxConfiguration") or {}).get("ssh") or {}
        keys += [k["keyData"] for k in ssh.get("publicKeys") or []]
    return keys


def oracle_live(fake: OciFake) -> dict[str, list[str]]:
    """What an OCI account is billed for or holds: instances, VNICs and boot volumes not
    terminated (OCI lists terminated instances for a while), network security groups."""
    with fake.lock:
        fake._run_events()
        return {"vms": sorted(i for i, v in fake.instances.items()
                              if v["lifecycleState"] not in ("TERMINATED", "TERMINATING")),
                "vnics": sorted(i for i, v in fake.vnics.items()
                                if v["lifecycleState"] != "TERMINATED"),
                "boot_volumes": sorted(fake.boot_volumes),
                "nsgs": sorted(g["displayName"] for g in fake.nsgs.values())}


def oracle_delivered(fake: OciFake) -> list[str]:
    with fake.lock:
        instances = [dict(v) for v in fake.instances.values()
                     if v["lifecycleState"] not in ("TERMINATED", "TERMINATING")]
    return [k for i in instances for found in oci_delivered_keys(i).values() for k in found]


def openstack_delivered(fake) -> list[str]:
    with fake.lock:
        ids = list(fake.servers)
    return [key for server_id in ids for key in fake.delivered_keys(server_id)]


def multipass_live(state_file: Path) -> dict[str, list[str]]:
    return {"vms": sorted(harness.fake_state(state_file).get("instances", {}))}


def multipass_delivered(state_file: Path) -> list[str]:
    instances = harness.fake_state(state_file).get("instances", {})
    return [key for vm in instances.values() for key in authorized_keys_of(vm.get("cloud_init"))]


class VmSshServer:
    """An SSH server playing every VM of the test: it trusts, from the next login on,
    exactly the keys the clouds' states say the boots delivered."""

    def __init__(self, directory: Path, sources: list[Callable[[], list[str]]]) -> None:
        from cloudmesh.compute.testing.sshd import start_ssh_server

        require_ssh_server()
        self.user = getpass.getuser()
        self.server = start_ssh_server(directory, authorized_keys=["# nothing yet"],
                                       user=self.user)
        self.sources, self.stopping = sources, threading.Event()
        self.thread = threading.Thread(target=self._follow, daemon=True)
        self.thread.start()

    def _follow(self) -> None:
        trusted: list[str] = []
        last: dict[int, list[str]] = {}  # each source's keys of its last good read
        while not self.stopping.wait(0.05):
            for number, source in enumerate(self.sources):
                try:
                    last[number] = [k.strip() for k in source()]
                except Exception:  # a state read mid-write: that source's next round
                    pass
            keys = sorted({k for found in last.values() for k in found})
            if keys and keys != trusted:
                self.server.set_authorized_keys(keys)
                trusted = keys

    def point(self, *clouds: str) -> None:
        for cloud in clouds:
            assert cms_here("set", f"{cloud}.ssh_host=127.0.0.1",
                            f"{cloud}.ssh_port={self.server.port}",
                            f"{cloud}.username={self.user}").code == 0

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join()
        self.server.stop()


# ---- fixtures --------------------------------------------------------------------------------
@pytest.fixture
def google_fake():
    fake = GoogleFake(delay=0.1)
    fake.start()
    yield fake
    fake.stop()
    assert not fake.violations, fake.violations


@pytest.fixture
def azure_fake():
    fake = AzureFake(op_seconds=0.05, retry_after="0")
    fake.reserved_usernames.discard(getpass.getuser())  # the SSH login is the local user
    fake.start()
    yield fake
    fake.stop()
    assert not fake.violations, fake.violations


def azure_spec(fake: AzureFake) -> dict:
    return {"cm": {"kind": "azure", "label": "fake ARM"},
            "credentials": {"subscription_id": fake.subscription, "resource_group": "rg-cms",
                            "location": "eastus", "access_token": fake.token,
                            "base_url": fake.url},
            "default": {"image": "ubuntu-24.04", "flavor": "Standard_B1s",
                        "poll_interval": 0.02}}


@pytest.fixture
def oracle_fake(tmp_path: Path):
    fake = OciFake(delay=0.1)
    key_file, fingerprint = make_api_key(tmp_path / "oci")
    fake.api_keys = {fingerprint}
    fake.start()
    fake.cms_entry = oracle_spec(fake.url, key_file, fingerprint)
    yield fake
    fake.stop()
    assert not fake.violations, fake.violations


@pytest.fixture
def multipass_state(cms_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    executable = harness.install_fake(tmp_path / "bin")
    state_file = tmp_path / "multipass-state.json"
    monkeypatch.setenv("MULTIPASS_FAKE_STATE", str(state_file))
    monkeypatch.setenv("MULTIPASS_FAKE_SUBNET", "127.0.0")
    return {"cm": {"kind": "multipass", "timeout": 10},
            "credentials": {"executable": str(executable)},
            "default": {"image": "24.04", "flavor": "tiny"}, "_state": state_file}


def clouds_config(cms_home: Path, **clouds: dict) -> None:
    write_config(cms_home, {name: {k: v for k, v in spec.items() if not k.startswith("_")}
                            for name, spec in clouds.items()})


def rows_of(result) -> dict[str, dict[str, dict]]:
    """{cloud: {step: row}} from --output=json, asserting one row per cloud and step."""
    rows: dict[str, dict[str, dict]] = {}
    for row in result.json():
        rows.setdefault(row["cloud"], {})[row["step"]] = row
    for cloud, steps in rows.items():
        assert list(steps) == STEPS, (cloud, list(steps))
    return rows


def not_ok(result) -> list[str]:
    """The rows that did not pass, one line each (what an assertion should show)."""
    try:
        rows = result.json()
    except ValueError:
        return [result.out[-2000:], result.err[-2000:]]
    return [f"{r['cloud']} {r['step']} {r['status']}: {r['detail']} | left: {r['left']}"
            for r in rows if r["status"] != "ok"]


def statuses(steps: dict[str, dict]) -> list[str]:
    return [steps[step]["status"] for step in STEPS]


def local_keys() -> list[str]:
    listed = cms_here("key", "list", "--output=json")
    return [k["name"] for k in listed.json()] if listed.out.strip() else []


# ---- the whole path, six kinds at once ---------------------------------------------------------
GROUP_KINDS = ("aws", "os", "gce", "az", "oci")  # the kinds with security groups


def define_default_group() -> None:
    """The local group 'default' (SSH in): a boot that names it makes the cms-owned
    'cms-default' on a cloud that lacks it."""
    assert cms_here("secgroup", "add", "default", "--description=ssh in").code == 0
    added = cms_here("secgroup", "rule", "add", "default", "tcp", "22", "0.0.0.0/0")
    assert added.code == 0, added


def test_deep_check_passes_on_all_six_kinds_at_once(
        cms_home: Path, tmp_path: Path, moto: str, openstack_fake, google_fake: GoogleFake,
        azure_fake: AzureFake, oracle_fake: OciFake, multipass_state: dict) -> None:
    with azure_fake.lock:  # an account prepared for a lab: its group and network exist
        azure_fake._ensure_group("rg-cms", "eastus")
        azure_fake._seed_vnet("rg-cms", "eastus")
    specs = {"aws": aws_cloud_spec(moto), "os": openstack_spec(openstack_fake),
             "gce": google_spec(google_fake.url, google_fake.token), "az": azure_spec(azure_fake),
             "oci": oracle_fake.cms_entry, "mp": multipass_state}
    for cloud in GROUP_KINDS:  # boots use the cms-owned group made from the local 'default'
        specs[cloud]["default"]["secgroup"] = "default"
    clouds_config(cms_home, **specs)
    define_default_group()
    state_file = multipass_state["_state"]
    before = {"aws": (aws_live(moto), aws_groups(moto)),
              "os": (openstack_live(openstack_fake), openstack_groups(openstack_fake),
                     openstack_ports(openstack_fake)),
              "gce": google_live(google_fake), "az": azure_live(azure_fake),
              "oci": oracle_live(oracle_fake), "mp": multipass_live(state_file)}
    server = VmSshServer(tmp_path / "sshd", [
        lambda: aws_delivered(moto), lambda: openstack_delivered(openstack_fake),
        lambda: google_delivered(google_fake), lambda: azure_delivered(azure_fake),
        lambda: oracle_delivered(oracle_fake), lambda: multipass_delivered(state_file)])
    try:
        server.point("aws", "os", "gce", "az", "oci", "mp")
        started = time.monotonic()
        result = cms_here("check", "--deep", "aws,os,gce,az,oci,mp", "--yes", "--timeout=90",
                          "--output=json")
        elapsed = time.monotonic() - started
    finally:
        server.stop()
    assert result.code == 0, not_ok(result)
    rows = rows_of(result)
    assert set(rows) == {"aws", "os", "gce", "az", "oci", "mp"}
    kinds = {cloud: steps["boot"]["kind"] for cloud, steps in rows.items()}
    assert kinds == {"aws": "aws", "os": "openstack", "gce": "google", "az": "azure",
                     "oci": "oracle", "mp": "multipass"}
    for cloud, steps in rows.items():
        assert statuses(steps) == ["ok"] * len(STEPS), (cloud, steps)
        assert steps["gone"]["left"] == "nothing"
        assert steps["uname"]["detail"].startswith("Linux"), steps["uname"]
        assert steps["boot"]["detail"].endswith("running")
        # the group the run made for its boot was removed by the run itself
        assert ("group cms-default" in steps["cleanup"]["detail"]) == (cloud in GROUP_KINDS), \
            (cloud, steps["cleanup"])
    # concurrent: the whole run is shorter than the six clouds one after another
    assert elapsed < sum(sum(r["seconds"] for r in s.values()) for s in rows.values())
    # each cloud holds again exactly what it held before the run
    assert (aws_live(moto), aws_groups(moto)) == before["aws"]
    assert (openstack_live(openstack_fake), openstack_groups(openstack_fake),
            openstack_ports(openstack_fake)) == before["os"]
    assert google_live(google_fake) == before["gce"]
    assert azure_live(azure_fake) == before["az"]
    assert oracle_live(oracle_fake) == before["oci"]
    assert multipass_live(state_file) == before["mp"] == {"vms": []}
    assert local_keys() == []  # the temporary registry entries are gone
    known = cms_home / "known_hosts"
    assert not known.exists() or f":{server.server.port}]" not in known.read_text()
    assert not any(v.startswith("cms-deep-check.") for v in
                   cms_here("set", "--output=json").out.split('"'))


# ---- a failure at each step ------------------------------------------------------------------
def test_boot_refused_skips_the_rest_and_cleans_up(cms_home: Path, moto: str) -> None:
    proxy = FaultProxy(target=moto)
    url = proxy.start()
    try:
        spec = aws_cloud_spec(url)
        spec["cm"]["retries"] = 0
        clouds_config(cms_home, aws=spec)
        proxy.add("status", "Action=RunInstances", times=10, status=400,
                  body=ec2_error("InsufficientInstanceCapacity", "no capacity here"))
        result = cms_here("check", "--deep", "aws", "--yes", "--timeout=30", "--output=json")
    finally:
        proxy.stop()
    assert result.code == 1, result
    steps = rows_of(result)["aws"]
    assert statuses(steps) == ["ok"] * 4 + ["failed", "skipped", "skipped"] + ["ok"] * 3
    assert "no capacity here" in steps["boot"]["detail"]
    assert steps["delete"]["detail"] == "no VM was made"
    assert steps["gone"]["left"] == "nothing"
    assert aws_live(moto) == {"vms": [], "keys": []}  # the uploaded key pair went too
    assert local_keys() == []


def test_ssh_that_never_answers_times_out_and_cleans_up(cms_home: Path,
                                                        multipass_state: dict) -> None:
    clouds_config(cms_home, mp=multipass_state)
    result = cms_here("check", "--deep", "mp", "--yes", "--timeout=4", "--output=json")
    assert result.code == 1, result
    steps = rows_of(result)["mp"]
    assert statuses(steps) == ["ok"] * 5 + ["failed", "skipped"] + ["ok"] * 3
    assert "did not answer within 4s" in steps["ssh"]["detail"]
    assert steps["gone"]["left"] == "nothing"
    assert multipass_live(multipass_state["_state"]) == {"vms": []}


def openstack_through_proxy(cms_home: Path, fake, request_seconds: float = 5,
                            **default: str) -> FaultProxy:
    proxy = FaultProxy(target=fake.url)
    url = proxy.start()
    fake.public_url = url  # the catalog sends every service request through the proxy
    spec = openstack_spec(fake, f"{url}/identity/v3", **default)
    spec["cm"].update(retries=0, timeout=request_seconds)
    clouds_config(cms_home, os=spec)
    return proxy


CONFLICT = b'{"conflictingRequest": {"code": 409, "message": "Cannot delete: task_state"}}'


def test_a_delete_that_fails_once_is_tried_again(cms_home: Path, tmp_path: Path,
                                                 openstack_fake) -> None:
    proxy = openstack_through_proxy(cms_home, openstack_fake)
    server = VmSshServer(tmp_path / "sshd", [lambda: openstack_delivered(openstack_fake)])
    try:
        server.point("os")
        proxy.add("status", "DELETE /compute/v2.1/servers/*", times=1, status=409,
                  body=CONFLICT)
        result = cms_here("check", "--deep", "os", "--yes", "--timeout=60", "--output=json")
    finally:
        server.stop()
        proxy.stop()
    assert result.code == 0, result
    steps = rows_of(result)["os"]
    assert statuses(steps) == ["ok"] * len(STEPS)
    assert "after 1 failed attempt" in steps["delete"]["detail"]
    assert openstack_live(openstack_fake) == {"vms": [], "keys": [], "floating_ips": []}


def test_a_delete_that_keeps_failing_names_the_vm_left(cms_home: Path, tmp_path: Path,
                                                       openstack_fake) -> None:
    """The VM and the group the run made for it are left and named; --cleanup later
    removes those two, and not a VM or a cms-owned group that a deep check did not make."""
    proxy = openstack_through_proxy(cms_home, openstack_fake, secgroup="default")
    server = VmSshServer(tmp_path / "sshd", [lambda: openstack_delivered(openstack_fake)])
    try:
        define_default_group()
        assert cms_here("secgroup", "add", "web").code == 0
        assert cms_here("secgroup", "upload", "web", "--cloud=os").code == 0
        groups_before = openstack_groups(openstack_fake)
        server.point("os")
        proxy.add("status", "DELETE /compute/v2.1/servers/*", times=100, status=409,
                  body=CONFLICT)
        result = cms_here("check", "--deep", "os", "--yes", "--timeout=30", "--output=json")
        proxy.clear()
        live = openstack_live(openstack_fake)
        (server_id,) = live["vms"]
        name = openstack_fake.servers[server_id]["name"]
        assert result.code == 1, result
        steps = rows_of(result)["os"]
        assert statuses(steps)[:7] == ["ok"] * 7 and steps["delete"]["status"] == "failed"
        left = steps["gone"]["left"]
        # exactly what the cloud still holds is named, with its command
        assert left == ("group cms-default (remove: cms secgroup delete cms-default "
                        f"--cloud=os); VM {name} ({server_id}) (remove: cms vm delete {name} "
                        "--cloud=os)")
        assert live["keys"] == [] and live["floating_ips"] == []  # the rest was removed
        assert openstack_groups(openstack_fake) == sorted(groups_before + ["cms-default"])
        (made,) = [g for g in openstack_fake.security_groups.values()
                   if g["name"] == "cms-default"]
        assert "(cms-deep-check=" in made["description"]
        # the marked leftovers are found and removed later, and nothing else
        other = cms_here("vm", "boot", "--cloud=os", "--name=keepme", "--secgroup=web")
        assert other.code == 0, other
        swept = cms_here("check", "--deep", "--cleanup", "os", "--yes", "--output=json")
    finally:
        server.stop()
        proxy.stop()
    assert swept.code == 0, swept
    details = [row["detail"] for row in swept.json()]
    assert details[0].startswith(f"VM {name} ({server_id}): deleted"), details
    assert details[1:] == ["group cms-default: deleted"], details
    remaining = [s["name"] for s in openstack_fake.servers.values()]
    assert remaining == ["keepme"] and list(openstack_fake.keypairs) == []
    assert openstack_groups(openstack_fake) == groups_before  # 'web' and the cloud's own


# ---- asking, dry runs, Ctrl-C ------------------------------------------------------------------
def test_without_yes_and_without_a_terminal_it_refuses(cms_home: Path,
                                                       multipass_state: dict) -> None:
    clouds_config(cms_home, mp=multipass_state)
    result = cms_here("check", "--deep", "mp")
    assert result.code == 2, result
    assert "costs money and takes minutes" in result.err and "--yes" in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert not multipass_state["_state"].exists()  # not one multipass call


def test_dryrun_says_what_it_would_do_without_a_request(cms_home: Path,
                                                        multipass_state: dict) -> None:
    clouds_config(cms_home, mp=multipass_state)
    result = cms_here("check", "--deep", "mp", "--dryrun", "--output=json")
    assert result.code == 0, result
    steps = rows_of(result)["mp"]
    assert statuses(steps) == ["dryrun"] * len(STEPS)
    assert "24.04" in steps["image"]["detail"] and "tiny" in steps["flavor"]["detail"]
    assert not multipass_state["_state"].exists()


def test_ctrl_c_mid_run_cleans_up_and_exits_130(cms_home: Path, multipass_state: dict,
                                                sigint_reaches_children: None) -> None:
    """A real process: SIGINT while it waits for SSH (nothing listens), then the cleanup."""
    clouds_config(cms_home, mp=multipass_state)
    process = subprocess.Popen([CMS, "check", "--deep", "mp", "--yes", "--timeout=120",
                                "--output=json"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    lines: list[str] = []
    booted = threading.Event()

    def read_stderr() -> None:
        for line in process.stderr:
            lines.append(line)
            if line.startswith("mp: boot ok"):
                booted.set()

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    try:
        assert booted.wait(60), lines
        time.sleep(0.5)  # inside the SSH wait
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)  # the JSON rows are far below a pipe's buffer
        out = process.stdout.read()
    finally:
        if process.poll() is None:
            process.kill()
    reader.join(5)
    assert process.returncode == 130, (out, lines)
    steps = {row["step"]: row for row in json.loads(out)}
    assert steps["ssh"]["status"] == "interrupted" and steps["uname"]["status"] == "skipped"
    assert [steps[s]["status"] for s in ("delete", "cleanup", "gone")] == ["ok"] * 3
    assert steps["gone"]["left"] == "nothing"
    assert any("interrupted: cleaning up" in line for line in lines)
    assert multipass_live(multipass_state["_state"]) == {"vms": []}


def start_deep_check(*args: str) -> tuple[subprocess.Popen, list[str]]:
    """A real ``cms check --deep`` process; its stderr lines are collected as they come."""
    process = subprocess.Popen([CMS, "check", "--deep", *args], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    lines: list[str] = []

    def read_stderr() -> None:
        for line in process.stderr:
            lines.append(line)

    threading.Thread(target=read_stderr, daemon=True).start()
    return process, lines


def wait_until(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"not within {seconds}s: {what}"
        time.sleep(0.05)


def test_a_second_ctrl_c_stops_a_hanging_cleanup_and_names_what_is_left(
        cms_home: Path, openstack_fake, sigint_reaches_children: None) -> None:
    """SIGINT while SSH is awaited, then a second one while the VM's DELETE hangs: exit 130
    at once, the rows name the VM and its key pair with their commands, and the fake holds
    exactly those; a later --cleanup removes them."""
    proxy = openstack_through_proxy(cms_home, openstack_fake, request_seconds=120)
    deletes = "DELETE /compute/v2.1/servers/*"
    proxy.add("hang", deletes, times=10, seconds=120)
    process, lines = start_deep_check("os", "--yes", "--timeout=120", "--output=json")
    try:
        wait_until(lambda: any(line.startswith("os: boot ok") for line in lines), 60,
                   f"the boot: {lines}")
        time.sleep(0.5)  # inside the SSH wait (nothing listens)
        process.send_signal(signal.SIGINT)
        wait_until(lambda: proxy.requests(deletes), 30, f"the VM's DELETE: {lines}")
        time.sleep(0.3)
        process.send_signal(signal.SIGINT)
        stopped = time.monotonic()
        process.wait(timeout=20)
        seconds = time.monotonic() - stopped
        out = process.stdout.read()
    finally:
        if process.poll() is None:
            process.kill()
        proxy.clear()
    assert process.returncode == 130, (out, lines)
    assert seconds < 10, seconds  # the hanging request was not waited for
    assert any("cleanup stopped" in line for line in lines), lines
    steps = {row["step"]: row for row in json.loads(out)}
    assert list(steps) == STEPS
    assert steps["ssh"]["status"] == "interrupted"
    assert [steps[s]["status"] for s in ("delete", "cleanup", "gone")] == ["interrupted"] * 3
    (server_id,) = openstack_live(openstack_fake)["vms"]
    name = openstack_fake.servers[server_id]["name"]
    left = steps["gone"]["left"]
    # what the cloud holds is named with the command that removes it, and only that
    assert f"VM {name} ({server_id}) (remove: cms vm delete {name} --cloud=os)" in left
    assert f"key pair {name} (remove: cms key delete {name} --cloud=os)" in left
    assert openstack_live(openstack_fake) == {"vms": [server_id], "keys": [name],
                                              "floating_ips": []}
    assert name in local_keys() and f"registry key {name}" in left  # named, and there
    try:
        swept = cms_here("check", "--deep", "--cleanup", "os", "--yes", "--output=json")
    finally:
        proxy.stop()
    assert swept.code == 0, swept
    assert openstack_live(openstack_fake) == {"vms": [], "keys": [], "floating_ips": []}
    assert local_keys() == []

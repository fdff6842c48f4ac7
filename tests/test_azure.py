"""The Azure provider against the fake ARM (tests/fakes/azure) through the real SDKs:
Azure's own behaviour (paging, VMs cms did not make, what delete removes, failed
provisioning, image notations, credentials, error mapping) and a few `cms` runs."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from cloudmesh.compute import Provider
from cloudmesh.compute.errors import (CloudError, ConfigError, CredentialError, NotFound,
                                      UsageError)
from cloudmesh.compute.testing import ComputeProviderSuite
from cloudmesh.compute.testing.faultproxy import FaultProxy
from cloudmesh.compute.testing.faults import FaultSetup, FaultSuite
from conftest import cms_here, write_config
from fakes.azure import AzureFake

RG = "rg-cms"
LOCATION = "eastus"


@pytest.fixture(scope="module")
def fake_server():
    """One fake ARM for the module (started once; ``fake`` resets it for each test)."""
    # operations short and polled often (poll_interval below): waits, not the timings,
    # are what these tests check, and the tests that check timings set their own
    server = AzureFake(op_seconds=0.02, retry_after="0")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def fake(fake_server: AzureFake):
    fake_server.reset()  # nothing of the test before: resources, requests, faults, timings
    yield fake_server
    # every request cms sent must be one the API description allows (tests/fakes/azure/spec.py)
    assert not fake_server.violations, fake_server.violations


def azure_spec(fake: AzureFake, token: str | None = None, **default: Any) -> dict[str, Any]:
    return {"cm": {"kind": "azure", "label": "fake ARM"},
            "credentials": {"subscription_id": fake.subscription, "resource_group": RG,
                            "location": LOCATION, "access_token": token or fake.token,
                            "base_url": fake.url},
            "default": {"image": "ubuntu-24.04", "flavor": "Standard_B1s",
                        "poll_interval": 0.01, **default}}


@pytest.fixture
def azure_cloud(fake: AzureFake, cms_home: Path) -> str:
    write_config(cms_home, {"az": azure_spec(fake)}, default="az")
    return "az"


def register_key(provider: Provider, tmp_path: Path, name: str = "k1") -> str:
    from cloudmesh.compute.keys import fingerprint, generate_ed25519

    public = generate_ed25519(tmp_path / f"{name}-{uuid.uuid4().hex[:6]}", "test")["public_key"]
    provider.state.key_put({"name": name, "type": "ssh-ed25519",
                            "fingerprint": fingerprint(public), "public_key": public})
    return public


def boot(provider: Provider, name: str, **options: Any) -> dict[str, Any]:
    (outcome,) = provider.boot(names=name, **options)
    assert outcome.ok, outcome.error
    return outcome.result


# ---- the conformance suite -------------------------------------------------------------
class TestAzureConformance(ComputeProviderSuite):
    """A cloud 'az' of kind azure whose base_url is the fake ARM on 127.0.0.1."""

    image = "Canonical:ubuntu-24_04-lts:server:24.04.202411030"  # aliases: test_image_notations
    flavor = "Standard_B1s"
    timeout = 30
    interval = 0.05

    @pytest.fixture
    def cloud(self, fake: AzureFake, cms_home: Path, tmp_path: Path):
        import getpass

        # Azure refuses 'root' (and admin, test, ...) as adminUsername, and so does the
        # fake; the suite's SSH tests log in as the local user, which is root in CI
        fake.reserved_usernames.discard(getpass.getuser())
        # Azure Linux VMs need a key (cms turns password login off): the suite's boots
        # take the cloud's default key
        write_config(cms_home, {"az": azure_spec(fake, key="conf-key")}, default="az")
        register_key(Provider("az"), tmp_path, "conf-key")
        yield "az"

    def delivered_keys(self, provider: Provider, vm: dict[str, Any]) -> list[str]:
        """The keys the boot request put into the VM's osProfile, read back from the
        fake's state."""
        fake = self._fake
        body = fake.vm(RG, vm["name"])["properties"]["osProfile"]
        return [k["keyData"] for k in body["linuxConfiguration"]["ssh"]["publicKeys"]]

    def reboot_count(self, cloud_name: str, vm: dict[str, Any]) -> int:
        """Restarts the fake carried out for this VM (VirtualMachines_Restart)."""
        return self._fake.reboots.get(vm["name"].lower(), 0)

    def bad_credentials(self, spec: dict[str, Any]) -> dict[str, Any]:
        """A bearer token the fake does not know: ARM's 401 InvalidAuthenticationToken."""
        spec["credentials"]["access_token"] = f"refused-{uuid.uuid4().hex}"
        return spec

    @pytest.fixture(autouse=True)
    def _keep_fake(self, fake: AzureFake) -> None:
        self._fake = fake


# ---- list, info, VMs cms did not make --------------------------------------------------
def test_list_follows_next_link_pages(fake: AzureFake, azure_cloud: str) -> None:
    fake.page_size = 7
    names = fake.seed_vms(RG, 20)
    records = Provider(azure_cloud).list()
    assert sorted(r["name"] for r in records) == names
    assert len([p for _, p in fake.requests if "$skiptoken" in p]) >= 6  # VMs, NICs, IPs
    assert all(r["status"] == "running" and r["public_ips"][0].startswith("127.0.0.")
               for r in records)
    assert all(r["private_ips"][0].startswith("10.9.") for r in records)


@pytest.mark.parametrize("count", [1, 10, 100])
def test_list_takes_four_requests_whatever_the_number_of_vms(fake: AzureFake, azure_cloud: str,
                                                             count: int) -> None:
    fake.page_size = 200  # one page each: what is counted is requests per kind of list
    fake.seed_vms(RG, count)
    fake.vm(RG, "seed-0000")["_state"]["power"] = "deallocated"
    fake.requests.clear()
    records = Provider(azure_cloud).list()
    paths = sorted(p.split("?")[0].rsplit("/", 1)[-1] for m, p in fake.requests)
    # VMs of the group, the subscription's status-only list, NICs, public IPs
    assert paths == ["networkInterfaces", "publicIPAddresses", "virtualMachines",
                     "virtualMachines"], paths
    assert any("statusOnly=true" in p for _, p in fake.requests)
    assert not any("$expand" in p for _, p in fake.requests)
    status = {r["name"]: r["status"] for r in records}
    assert status.pop("seed-0000") == "stopped"
    assert set(status.values()) <= {"running"} and len(status) == count - 1


def test_list_shows_only_the_groups_vms_with_their_power_states(fake: AzureFake,
                                                                azure_cloud: str) -> None:
    fake.seed_vms("other-group", 3, prefix="theirs")
    fake.seed_vms(RG, 2)
    records = Provider(azure_cloud).list()
    assert sorted(r["name"] for r in records) == ["seed-0000", "seed-0001"]
    assert {r["state"] for r in records} == {"running"}


def test_info_has_the_instance_view_power_state(fake: AzureFake, azure_cloud: str) -> None:
    (name,) = fake.seed_vms(RG, 1)
    fake.vm(RG, name)["_state"]["power"] = "deallocated"
    record = Provider(azure_cloud).info(name)
    assert (record["status"], record["state"]) == ("stopped", "deallocated")
    assert record["metadata"]["username"] == "azureuser"
    assert record["created"].endswith("Z")
    assert record["image"].startswith("Canonical:ubuntu-24_04-lts:server:")


def test_a_missing_group_has_no_vms(fake: AzureFake, azure_cloud: str) -> None:
    assert Provider(azure_cloud).list() == []
    (outcome,) = Provider(azure_cloud).act("stop", "ghost")
    assert isinstance(outcome.error, NotFound)


def test_deleting_a_vm_cms_did_not_make_leaves_its_nic_ip_and_disk(
        fake: AzureFake, azure_cloud: str) -> None:
    (name,) = fake.seed_vms(RG, 1, prefix="theirs")
    (outcome,) = Provider(azure_cloud).act("destroy", name)
    assert outcome.ok, outcome.error
    assert fake.vm(RG, name) is None
    assert fake.get(RG, "Microsoft.Network/networkInterfaces", f"{name}-nic")
    assert fake.get(RG, "Microsoft.Network/publicIPAddresses", f"{name}-ip")
    assert fake.of_type("Microsoft.Compute/disks")


# ---- boot and destroy ------------------------------------------------------------------
def test_boot_makes_what_a_vm_needs_and_delete_removes_it(
        fake: AzureFake, azure_cloud: str, tmp_path: Path) -> None:
    said: list[str] = []
    provider = Provider(azure_cloud, warn=said.append)
    public = register_key(provider, tmp_path)
    vm = boot(provider, "web1", key="k1")
    assert vm["status"] == "running" and vm["public_ips"][0].startswith("127.0.0.")
    assert vm["native"]["resource_group_created"] == RG
    assert [s for s in said if f"created the resource group '{RG}'" in s], said  # said so
    (theirs,) = fake.seed_vms(RG, 1, prefix="theirs", location=LOCATION)
    body = fake.vm(RG, "web1")["properties"]
    linux = body["osProfile"]["linuxConfiguration"]
    assert linux["disablePasswordAuthentication"] is True
    assert [k["keyData"] for k in linux["ssh"]["publicKeys"]] == [public.strip()]
    ip = fake.get(RG, "Microsoft.Network/publicIPAddresses", "web1-ip")
    assert ip["sku"]["name"] == "Standard" and ip["properties"][
        "publicIPAllocationMethod"] == "Static"
    (outcome,) = provider.act("destroy", "web1")
    assert outcome.ok, outcome.error
    left = [r["name"] for r in fake.resources.values() if "web1" in r["name"]]
    assert left == []
    # the other VM and everything of it is untouched
    assert fake.vm(RG, theirs)["properties"]["provisioningState"] == "Succeeded"
    assert fake.get(RG, "Microsoft.Network/networkInterfaces", f"{theirs}-nic")
    assert fake.get(RG, "Microsoft.Network/publicIPAddresses", f"{theirs}-ip")


def test_delete_removes_nic_ip_and_disk_left_by_azure(
        fake: AzureFake, azure_cloud: str, tmp_path: Path) -> None:
    """A VM whose NIC and disk Azure keeps (deleteOption Detach, as the API defaults):
    destroy deletes them itself, in the order Azure allows (VM, NIC, then IP)."""
    provider = Provider(azure_cloud)
    register_key(provider, tmp_path)
    boot(provider, "web2", key="k1")
    props = fake.vm(RG, "web2")["properties"]
    props["storageProfile"]["osDisk"]["deleteOption"] = "Detach"
    props["networkProfile"]["networkInterfaces"][0]["properties"]["deleteOption"] = "Detach"
    (outcome,) = provider.act("destroy", "web2")
    assert outcome.ok, outcome.error
    assert [r["name"] for r in fake.resources.values() if "web2" in r["name"]] == []
    deletes = [p.split("?")[0].rsplit("/", 2)[-2] for m, p in fake.requests if m == "DELETE"]
    assert deletes == ["virtualMachines", "networkInterfaces", "publicIPAddresses", "disks"]


def test_a_second_delete_removes_what_the_first_left(
        fake: AzureFake, azure_cloud: str, tmp_path: Path) -> None:
    provider = Provider(azure_cloud)
    register_key(provider, tmp_path)
    boot(provider, "web3", key="k1")
    nic = fake.vm(RG, "web3")["properties"]["networkProfile"]["networkInterfaces"][0]
    nic["properties"]["deleteOption"] = "Detach"
    # the public IP's DELETE is refused, after the VM and its NIC went
    fake.refuse_delete["web3-ip"] = (409, "AnotherOperationInProgress", "Another operation "
                                     "on this or dependent resource is in progress.")
    (first,) = provider.act("destroy", "web3")
    assert isinstance(first.error, CloudError) and "web3-ip" in str(first.error)
    assert fake.get(RG, "Microsoft.Network/publicIPAddresses", "web3-ip")
    fake.refuse_delete.clear()
    (second,) = provider.act("destroy", "web3")
    assert second.ok, second.error
    assert [r["name"] for r in fake.resources.values() if "web3" in r["name"]] == []
    (third,) = provider.act("destroy", "web3")
    assert isinstance(third.error, NotFound)


# ---- ownership: the kit's marker, and the older tags ----------------------------------
VM_TYPE, NIC_TYPE, IP_TYPE = ("Microsoft.Compute/virtualMachines",
                              "Microsoft.Network/networkInterfaces",
                              "Microsoft.Network/publicIPAddresses")


def test_boot_marks_the_vm_nic_and_ip_with_the_kits_marker_only(
        fake: AzureFake, azure_cloud: str, tmp_path: Path) -> None:
    provider = Provider(azure_cloud)
    register_key(provider, tmp_path)
    vm = boot(provider, "own1", key="k1")
    for type_, name in ((VM_TYPE, "own1"), (NIC_TYPE, "own1-nic"), (IP_TYPE, "own1-ip")):
        tags = fake.get(RG, type_, name)["tags"]
        assert tags["cms-owner"].lower() == vm["id"].lower(), (name, tags)
        assert "cms-vm" not in tags and "cms-created" not in tags, (name, tags)
    assert vm["native"]["cms_created"] is True and "cms-owner" not in vm["metadata"]


def test_destroy_removes_what_the_older_cms_vm_tags_marked(
        fake: AzureFake, azure_cloud: str) -> None:
    """VMs booted before the kit's marker carry ``cms-vm: NAME`` on the VM, its NIC and
    its IP: destroy still recognises them (Detach, as seeded: Azure keeps NIC and IP)."""
    (old,) = fake.seed_vms(RG, 1, prefix="old", tags={"cms-vm": "old-0000"})
    for type_, name in ((NIC_TYPE, f"{old}-nic"), (IP_TYPE, f"{old}-ip")):
        fake.get(RG, type_, name)["tags"] = {"cms-vm": old}
    assert Provider(azure_cloud).provider.info(old)["native"]["cms_created"] is True
    (outcome,) = Provider(azure_cloud).act("destroy", old)
    assert outcome.ok, outcome.error
    assert [r["name"] for r in fake.resources.values() if r["name"].startswith(old)] == []


def test_destroy_removes_only_resources_marked_for_that_vm_and_attached_to_it(
        fake: AzureFake, azure_cloud: str) -> None:
    """Issue 21: a marker naming vm-0 on vm-1's public IP (moved, or written by anyone
    with tag rights) never makes destroy of vm-0 take it; nor is an unmarked NIC on
    vm-0 (someone's own) removed with it."""
    vm0, vm1 = fake.seed_vms(RG, 2, prefix="vm")
    vm0_id = fake.rid(RG, VM_TYPE, vm0)
    fake.get(RG, VM_TYPE, vm0)["tags"] = {"cms-owner": vm0_id}
    fake.get(RG, IP_TYPE, f"{vm0}-ip")["tags"] = {"cms-owner": vm0_id}  # NIC unmarked
    fake.get(RG, IP_TYPE, f"{vm1}-ip")["tags"] = {"cms-owner": vm0_id}
    fake.get(RG, NIC_TYPE, f"{vm1}-nic")["tags"] = {"cms-vm": vm0}
    (outcome,) = Provider(azure_cloud).act("destroy", vm0)
    assert outcome.ok, outcome.error
    assert fake.vm(RG, vm0) is None
    # vm-0's NIC was not marked: it stays, and so does the IP on it
    assert fake.get(RG, NIC_TYPE, f"{vm0}-nic") and fake.get(RG, IP_TYPE, f"{vm0}-ip")
    # vm-1 keeps its NIC and address, whatever their tags say
    assert fake.get(RG, NIC_TYPE, f"{vm1}-nic") and fake.get(RG, IP_TYPE, f"{vm1}-ip")
    # vm-0 is gone: a second destroy finds no leftovers it may take (vm-1's are attached)
    (again,) = Provider(azure_cloud).act("destroy", vm0)
    assert isinstance(again.error, NotFound)
    assert fake.get(RG, IP_TYPE, f"{vm1}-ip") and fake.vm(RG, vm1)


def test_failed_provisioning_is_an_error_with_azures_message(
        fake: AzureFake, azure_cloud: str, tmp_path: Path) -> None:
    provider = Provider(azure_cloud)
    register_key(provider, tmp_path)
    fake.fail_next_provisioning = ("OSProvisioningTimedOut", "OS Provisioning for VM "
                                   "'bad1' did not finish in the allotted time.")
    (outcome,) = provider.boot(names="bad1", key="k1")
    assert isinstance(outcome.error, CloudError)
    assert "OSProvisioningTimedOut" in str(outcome.error)
    assert "did not finish in the allotted time" in str(outcome.error)
    record = provider.provider.info("bad1")
    assert record["status"] == "error" and "allotted time" in record["native"]["error"]
    (removed,) = provider.act("destroy", "bad1")
    assert removed.ok, removed.error
    assert [r["name"] for r in fake.resources.values() if "bad1" in r["name"]] == []


def test_stop_deallocates_or_powers_off(fake: AzureFake, cms_home: Path,
                                        tmp_path: Path) -> None:
    write_config(cms_home, {"az": azure_spec(fake), "az-off": azure_spec(
        fake, stop_mode="poweroff")})
    provider = Provider("az")
    register_key(provider, tmp_path)
    boot(provider, "s1", key="k1")
    (stopped,) = provider.act("stop", "s1")
    assert (stopped.result["status"], stopped.result["state"]) == ("stopped", "deallocated")
    # a deallocated VM cannot restart: Azure's 409 is a plain CloudError
    (refused,) = provider.act("reboot", "s1")
    assert isinstance(refused.error, CloudError) and "OperationNotAllowed" in str(refused.error)
    (started,) = provider.act("start", "s1")
    assert started.result["status"] == "running"
    (off,) = Provider("az-off").act("stop", "s1")
    assert (off.result["status"], off.result["state"]) == ("stopped", "stopped")


def virtual_time(fake: AzureFake, provider: Any) -> list[float]:
    """Put the fake's operations and the provider's polling on one virtual clock that
    only the provider's sleeps advance; return the list of those sleeps."""
    now, slept = [0.0], []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds
    fake.clock = provider.poll_clock = lambda: now[0]
    provider.poll_sleep = sleep
    return slept


def test_long_running_operations_honour_retry_after(fake: AzureFake,
                                                     azure_cloud: str) -> None:
    """ARM's Retry-After, not poll_interval (0.01 here), sets the pause between polls.
    On a virtual clock, so the first poll can never find the operation already done
    (with op_seconds on the wall clock, a loaded machine made that happen under -n 2)."""
    (name,) = fake.seed_vms(RG, 1)
    provider = Provider(azure_cloud).provider
    slept = virtual_time(fake, provider)
    fake.op_seconds, fake.retry_after = 2.5, "1"  # as ARM sends it: integer seconds
    assert provider.stop(name)["status"] == "stopped"
    assert slept == [1.0, 1.0, 1.0]  # polled at 0, 1, 2 (InProgress) and 3 s (done)


def test_a_retry_after_of_a_day_is_capped_and_the_operation_timeout_ends_the_wait(
        fake: AzureFake, cms_home: Path) -> None:
    write_config(cms_home, {"az": azure_spec(fake, operation_timeout=100)})
    (name,) = fake.seed_vms(RG, 1)
    provider = Provider("az").provider
    slept = virtual_time(fake, provider)
    fake.op_seconds, fake.retry_after = 3600, "86400"
    with pytest.raises(CloudError) as late:
        provider.stop(name)
    # 60 s (the kit's cap), then the 40 s left before the deadline; never a day
    assert slept == [60.0, 40.0]
    assert "deallocate did not finish within 100 s" in str(late.value)
    assert late.value.exit_code == 1


def test_boot_refuses_ambiguous_networks_and_lists_them(
        fake: AzureFake, azure_cloud: str, tmp_path: Path) -> None:
    provider = Provider(azure_cloud)
    register_key(provider, tmp_path)
    fake.seed_vms(RG, 1, location=LOCATION)  # makes seed-vnet
    fake._put_now(RG, "Microsoft.Network/virtualNetworks", "other", {
        "location": LOCATION, "properties": {"addressSpace": {"addressPrefixes": ["10.7.0.0/16"]},
                                             "subnets": [{"name": "a", "properties": {
                                                 "addressPrefix": "10.7.0.0/24"}}]}})
    (outcome,) = provider.boot(names="n1", key="k1")
    assert isinstance(outcome.error, UsageError)
    assert "other" in str(outcome.error) and "seed-vnet" in str(outcome.error)
    assert not fake.get(RG, "Microsoft.Network/networkInterfaces", "n1-nic")


def test_a_refused_vm_leaves_no_nic_or_ip(fake: AzureFake, azure_cloud: str,
                                          tmp_path: Path) -> None:
    provider = Provider(azure_cloud)
    register_key(provider, tmp_path)
    (outcome,) = provider.boot(names="r1", key="k1", username="admin")
    assert isinstance(outcome.error, CloudError)
    assert "The Admin Username specified is not allowed" in str(outcome.error)
    assert [r["name"] for r in fake.resources.values() if r["name"].startswith("r1")] == []


def test_parallel_boots_share_one_network_and_the_secgroup(
        fake: AzureFake, azure_cloud: str, tmp_path: Path) -> None:
    provider = Provider(azure_cloud)
    register_key(provider, tmp_path)
    provider.provider.secgroup_create("web", "web servers")
    outcomes = provider.boot(names="p[1-3]", key="k1", secgroups="web", public_ip=False)
    assert all(o.ok for o in outcomes), [o.error for o in outcomes]
    assert [v["name"] for v in fake.of_type("Microsoft.Network/virtualNetworks")] == ["cms-vnet"]
    assert fake.of_type("Microsoft.Network/publicIPAddresses") == []
    records = {r["name"]: r for r in provider.provider.list()}
    assert all(records[n]["secgroups"] == ["web"] and records[n]["public_ips"] == []
               and records[n]["private_ips"] for n in ("p1", "p2", "p3"))
    # the group is in use by the NICs: Azure refuses to delete it, and says so
    with pytest.raises(CloudError) as in_use:
        provider.provider.secgroup_delete("web")
    assert "InUseNetworkSecurityGroupCannotBeDeleted" in str(in_use.value)


def test_a_misspelt_or_mistyped_default_key_is_refused_before_any_request(
        fake: AzureFake, cms_home: Path) -> None:
    write_config(cms_home, {"az": azure_spec(fake, stop_mod="poweroff"),
                            "az2": azure_spec(fake, operation_timeout="soon")})
    with pytest.raises(ConfigError) as misspelt:
        Provider("az").provider.list()
    assert "unknown default key 'stop_mod'" in str(misspelt.value)
    assert "did you mean 'stop_mode'" in str(misspelt.value)
    with pytest.raises(ConfigError) as mistyped:
        Provider("az2").provider.list()
    assert "default.operation_timeout must be a number" in str(mistyped.value)
    assert fake.requests == []


def test_metadata_is_the_vms_tags(fake: AzureFake, azure_cloud: str) -> None:
    (name,) = fake.seed_vms(RG, 1, tags={"team": "a"})
    provider = Provider(azure_cloud).provider
    assert provider.metadata_set(name, {"owner": "bob"}) == {
        "team": "a", "owner": "bob", "username": "azureuser"}
    assert fake.vm(RG, name)["tags"] == {"team": "a", "owner": "bob"}
    with pytest.raises(UsageError):
        provider.metadata_set(name, {"cms-vm": "x"})


def test_check_name_follows_azure(azure_cloud: str) -> None:
    provider = Provider(azure_cloud).provider
    provider.check_name("web-1.example")
    provider.check_name("a" * 64)
    for bad in ("under_score", "a" * 65, "ends-", "ends.", "-starts", "sp ace"):
        with pytest.raises(UsageError):
            provider.check_name(bad)


# ---- images, flavors -------------------------------------------------------------------
def test_image_notations(fake: AzureFake, cms_home: Path) -> None:
    write_config(cms_home, {"az": azure_spec(fake, image_aliases=[
        "jammy=Canonical:0001-com-ubuntu-server-jammy:22_04-lts-gen2:latest"])})
    provider = Provider("az").provider
    latest = provider.resolve_image("ubuntu-24.04")
    assert latest["name"] == "Canonical:ubuntu-24_04-lts:server:24.04.202411030"
    assert provider.resolve_image("Ubuntu2404")["name"] == latest["name"]
    pinned = provider.resolve_image("Canonical:ubuntu-24_04-lts:server:24.04.202409030")
    assert pinned["version"] == "24.04.202409030"
    assert provider.resolve_image("canonical:UBUNTU-24_04-lts:server:latest")["version"] \
        == "24.04.202411030"
    assert provider.resolve_image("jammy")["version"] == "22.04.202410020"
    for missing in ("Canonical:ubuntu-24_04-lts:server:1.2.3", "nonsense",
                    "Nobody:x:y:latest"):
        with pytest.raises(NotFound):
            provider.resolve_image(missing)
    names = {i["name"] for i in provider.images()}
    assert latest["name"] in names and "Debian:debian-12:12-gen2:0.20241004.1872" in names
    assert "Canonical:ubuntu-24_04-lts:server:24.04.202409030" not in names  # newest only


def test_flavors_are_vm_sizes(azure_cloud: str) -> None:
    provider = Provider(azure_cloud).provider
    size = provider.flavor("standard_b2s")
    assert (size["name"], size["vcpus"], size["ram_mb"], size["disk_gb"]) == (
        "Standard_B2s", 2, 4096, 8)
    with pytest.raises(NotFound):
        provider.flavor("Standard_Nope")


# ---- credentials and errors ------------------------------------------------------------
def test_a_rejected_token_is_a_credential_error_without_the_token(
        fake: AzureFake, cms_home: Path) -> None:
    wrong = f"canary-token-{uuid.uuid4().hex}"
    write_config(cms_home, {"az": azure_spec(fake, token=wrong)}, default="az")
    with pytest.raises(CredentialError) as denied:
        Provider("az").list()
    assert "InvalidAuthenticationToken" in str(denied.value)
    result = cms_here("vm", "list", "--cloud=az")
    assert result.code == 4, result
    assert wrong not in result.out + result.err
    assert "InvalidAuthenticationToken" in result.err


def test_a_client_secret_cannot_go_to_a_plain_http_endpoint(fake: AzureFake,
                                                             cms_home: Path) -> None:
    secret = f"canary-secret-{uuid.uuid4().hex}"
    spec = azure_spec(fake)
    del spec["credentials"]["access_token"]
    spec["credentials"].update(tenant_id="t1", client_id="c1", client_secret=secret)
    write_config(cms_home, {"az": spec}, default="az")
    with pytest.raises(ConfigError) as refused:
        Provider("az").list()
    assert secret not in str(refused.value)
    result = cms_here("vm", "list", "--cloud=az")
    assert result.code == 4 and secret not in result.out + result.err, result


def test_without_secrets_the_azure_cli_login_is_used(fake: AzureFake, cms_home: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    spec = azure_spec(fake)
    del spec["credentials"]["access_token"]
    write_config(cms_home, {"az": spec}, default="az")
    monkeypatch.setenv("PATH", str(cms_home))  # no 'az' on PATH
    with pytest.raises(CredentialError) as missing:
        Provider("az").list()
    assert "az login" in str(missing.value)


def test_missing_subscription_is_a_config_error(fake: AzureFake, cms_home: Path) -> None:
    spec = azure_spec(fake)
    del spec["credentials"]["subscription_id"]
    write_config(cms_home, {"az": spec})
    with pytest.raises(ConfigError) as missing:
        Provider("az").list()
    assert "subscription_id" in str(missing.value)


def test_plain_http_off_loopback_is_refused(cms_home: Path) -> None:
    spec = {"cm": {"kind": "azure"}, "credentials": {
        "subscription_id": "s", "resource_group": RG, "location": LOCATION,
        "access_token": "x" * 20, "base_url": "http://management.example.com"}}
    write_config(cms_home, {"az": spec})
    with pytest.raises(ConfigError):
        Provider("az").list()


def test_error_mapping(fake: AzureFake, azure_cloud: str) -> None:
    provider = Provider(azure_cloud).provider
    fake.seed_vms(RG, 1)
    with pytest.raises(NotFound):
        provider.info("ghost")
    fake.vm(RG, "seed-0000")["_state"]["power"] = "deallocated"
    with pytest.raises(CloudError) as conflict:  # 409: not "already exists"
        provider.reboot("seed-0000")
    assert not conflict.value.retryable and not isinstance(conflict.value, NotFound)
    from azure.core.exceptions import HttpResponseError, ServiceRequestError

    class Response:  # the shape HttpResponseError reads
        def __init__(self, status: int) -> None:
            self.status_code, self.reason, self.headers = status, "x", {}
            self.request = None

        def text(self, encoding=None) -> str:
            return '{"error": {"code": "TooManyRequests", "message": "slow down"}}'

    throttled = provider.translate_error(HttpResponseError(response=Response(429)))
    assert isinstance(throttled, CloudError) and throttled.retryable
    unavailable = provider.translate_error(HttpResponseError(response=Response(503)))
    assert unavailable.retryable
    dropped = provider.translate_error(ServiceRequestError("connection reset"))
    assert isinstance(dropped, CloudError) and dropped.retryable


# ---- keys and security groups ----------------------------------------------------------
def test_keys_are_ssh_public_key_resources(fake: AzureFake, azure_cloud: str,
                                           tmp_path: Path) -> None:
    from cloudmesh.compute.keys import fingerprint, generate_ed25519

    provider = Provider(azure_cloud).provider
    public = generate_ed25519(tmp_path / "kk", "test")["public_key"]
    record = provider.key_upload("kk", public)
    assert record["fingerprint"] == fingerprint(public)
    stored = fake.get(RG, "Microsoft.Compute/sshPublicKeys", "kk")
    assert stored["properties"]["publicKey"] == public.strip()
    assert [k["name"] for k in provider.keys()] == ["kk"]
    provider.key_delete("kk")
    with pytest.raises(NotFound):
        provider.key_delete("kk")


def test_rule_priorities_are_assigned_by_cms(fake: AzureFake, azure_cloud: str) -> None:
    provider = Provider(azure_cloud).provider
    provider.secgroup_create("web", "web servers")
    rules = [{"direction": "ingress", "protocol": "tcp", "from_port": p, "to_port": p,
              "cidr": "0.0.0.0/0"} for p in (22, 80)]
    provider.secgroup_add_rules("web", rules)
    provider.secgroup_add_rules("web", [{"direction": "ingress", "protocol": "tcp",
                                         "from_port": 8000, "to_port": 8080,
                                         "cidr": "10.0.0.0/8"}])
    nsg = fake.get(RG, "Microsoft.Network/networkSecurityGroups", "web")
    priorities = [r["properties"]["priority"] for r in nsg["properties"]["securityRules"]]
    assert len(set(priorities)) == 3 and all(100 <= p <= 4096 for p in priorities)
    (group,) = provider.secgroups()
    assert {(r["from_port"], r["to_port"], r["cidr"]) for r in group["rules"]} == {
        (22, 22, "0.0.0.0/0"), (80, 80, "0.0.0.0/0"), (8000, 8080, "10.0.0.0/8")}
    provider.secgroup_remove_rules("web", rules[:1])
    assert len(provider.secgroups()[0]["rules"]) == 2
    provider.secgroup_delete("web")
    assert provider.secgroups() == []


# ---- cms itself ------------------------------------------------------------------------
def test_cms_vm_list_image_and_flavor_list(fake: AzureFake, azure_cloud: str) -> None:
    fake.seed_vms(RG, 3)
    listed = cms_here("vm", "list", "--cloud=az", "--output=json")
    assert listed.code == 0, listed
    assert sorted(r["name"] for r in listed.json()) == ["seed-0000", "seed-0001", "seed-0002"]
    images = cms_here("image", "list", "--cloud=az", "--output=json")
    assert images.code == 0 and any("ubuntu-24_04" in i["name"] for i in images.json()), images
    flavors = cms_here("flavor", "list", "--cloud=az", "--output=json")
    assert flavors.code == 0 and {f["name"] for f in flavors.json()} >= {"Standard_B1s"}


def test_cms_vm_boot_and_delete(fake: AzureFake, azure_cloud: str, tmp_path: Path) -> None:
    register_key(Provider(azure_cloud), tmp_path, "cli-key")
    booted = cms_here("vm", "boot", "--name=cli1", "--cloud=az", "--key=cli-key",
                     "--no-public-ip", "--output=json")
    assert booted.code == 0, booted
    (record,) = booted.json()
    assert record["name"] == "cli1" and record["public_ips"] == []
    assert fake.get(RG, "Microsoft.Network/publicIPAddresses", "cli1-ip") is None
    deleted = cms_here("vm", "delete", "cli1", "--cloud=az", "--yes")
    assert deleted.code == 0, deleted
    assert [r["name"] for r in fake.resources.values() if "cli1" in r["name"]] == []
    again = cms_here("vm", "delete", "cli1", "--cloud=az", "--yes")
    assert again.code == 3, again


# ---- the fault suite -------------------------------------------------------------------
def arm_error(code: str, message: str) -> bytes:
    import json

    return json.dumps({"error": {"code": code, "message": message}}).encode()


class TestAzureFaults(FaultSuite):
    image = "ubuntu-24.04"
    flavor = "Standard_B1s"

    @pytest.fixture
    def faulty(self, fake: AzureFake, cms_home: Path, tmp_path: Path):
        proxy = FaultProxy(target=fake.url)
        url = proxy.start()
        spec = azure_spec(fake, key="k1")
        spec["credentials"]["base_url"] = url
        write_config(cms_home, {"az": spec}, default="az")
        register_key(Provider("az"), tmp_path)
        yield FaultSetup(
            cloud="az", proxy=proxy,
            list_match="/providers/Microsoft.Compute/virtualMachines?",
            create_match=f"PUT /subscriptions/{fake.subscription}/resourceGroups/{RG}/"
                         "providers/Microsoft.Compute/virtualMachines/*",
            transient=lambda: {"status": 503, "body": arm_error(
                "ServerBusy", "The server is currently unable to handle the request.")})
        proxy.stop()


def test_a_hanging_endpoint_is_bounded_by_cm_timeout(fake: AzureFake, cms_home: Path) -> None:
    import time

    proxy = FaultProxy(target=fake.url)
    url = proxy.start()
    try:
        spec = azure_spec(fake)
        spec["credentials"]["base_url"] = url
        spec["cm"].update(timeout=1, retries=1)
        write_config(cms_home, {"az": spec})
        proxy.add("hang", "/providers/Microsoft.Compute/virtualMachines?", times=5, seconds=8)
        started = time.monotonic()
        with pytest.raises(CloudError) as slow:
            Provider("az").list()
        assert slow.value.retryable
        assert time.monotonic() - started < 6
    finally:
        proxy.stop()


def test_list_imports_only_its_own_sdk(azure_cloud: str) -> None:
    from test_laziness import assert_list_imports_only

    assert_list_imports_only(azure_cloud, {"azure"})

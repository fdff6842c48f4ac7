"""The Azure fake driven by the real azure-mgmt-* SDKs, without cms: the paths, shapes,
long-running operations, paging and errors the provider relies on."""

from __future__ import annotations

import time

import pytest

from fakes.azure import AzureFake

RG = "rg-fake"
LOCATION = "eastus"


class StaticToken:
    """A TokenCredential holding one token (what the SDKs call get_token on)."""

    def __init__(self, token: str) -> None:
        self.token = token

    def get_token(self, *scopes, **kwargs):
        from azure.core.credentials import AccessToken

        return AccessToken(self.token, int(time.time()) + 3600)


def _policy(credential):
    from azure.mgmt.core.policies import ARMChallengeAuthenticationPolicy

    class LoopbackPolicy(ARMChallengeAuthenticationPolicy):
        def on_request(self, request):
            request.context["enforce_https"] = False  # the fake is plain http on 127.0.0.1
            return super().on_request(request)

    return LoopbackPolicy(credential, "https://management.azure.com/.default")


def clients(fake: AzureFake, token: str | None = None):
    from azure.mgmt.compute import ComputeManagementClient
    from azure.mgmt.network import NetworkManagementClient
    from azure.mgmt.resource.resources import ResourceManagementClient

    credential = StaticToken(token or fake.token)
    options = dict(base_url=fake.url, authentication_policy=_policy(credential),
                   polling_interval=0.02, retry_total=0)
    return (ComputeManagementClient(credential, fake.subscription, **options),
            NetworkManagementClient(credential, fake.subscription, **options),
            ResourceManagementClient(credential, fake.subscription, **options))


@pytest.fixture(scope="module")
def fake_server():
    """One fake ARM for the module (started once; ``fake`` resets it for each test)."""
    server = AzureFake(op_seconds=0.05, retry_after="0")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def fake(fake_server: AzureFake):
    fake_server.reset()  # nothing of the test before: resources, requests, faults, timings
    yield fake_server
    assert not fake_server.violations, fake_server.violations


def _network(network, name="vm1", public=True):
    vnet = network.virtual_networks.begin_create_or_update(RG, "vnet", {
        "location": LOCATION, "properties": {
            "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
            "subnets": [{"name": "default", "properties": {"addressPrefix": "10.0.0.0/24"}}]}}
    ).result()
    config = {"name": "ipconfig1", "properties": {"subnet": {"id": vnet.properties.subnets[0].id}}}
    ip = None
    if public:
        ip = network.public_ip_addresses.begin_create_or_update(RG, f"{name}-ip", {
            "location": LOCATION, "sku": {"name": "Standard"},
            "properties": {"publicIPAllocationMethod": "Static"}}).result()
        config["properties"]["publicIPAddress"] = {"id": ip.id}
    nic = network.network_interfaces.begin_create_or_update(RG, f"{name}-nic", {
        "location": LOCATION, "properties": {"ipConfigurations": [config]}}).result()
    return nic, ip


def _vm_body(nic_id: str, user: str = "alice", key: str = "ssh-ed25519 AAAAC3Nz alice@x"):
    return {"location": LOCATION, "tags": {"cms": "yes"}, "properties": {
        "hardwareProfile": {"vmSize": "Standard_B1s"},
        "storageProfile": {"imageReference": {"publisher": "Canonical",
                                              "offer": "ubuntu-24_04-lts", "sku": "server",
                                              "version": "latest"},
                           "osDisk": {"createOption": "FromImage", "deleteOption": "Delete"}},
        "osProfile": {"computerName": "vm1", "adminUsername": user, "linuxConfiguration": {
            "disablePasswordAuthentication": True, "ssh": {"publicKeys": [
                {"path": f"/home/{user}/.ssh/authorized_keys", "keyData": key}]}}},
        "networkProfile": {"networkInterfaces": [{"id": nic_id, "properties": {"primary": True}}]}}}


def test_boot_list_actions_delete_through_the_sdk(fake: AzureFake) -> None:
    compute, network, resources = clients(fake)
    resources.resource_groups.create_or_update(RG, {"location": LOCATION})
    nic, ip = _network(network)
    assert ip.properties.ip_address.startswith("127.0.0.")
    vm = compute.virtual_machines.begin_create_or_update(RG, "vm1", _vm_body(nic.id)).result()
    assert vm.properties.provisioning_state == "Succeeded"
    view = compute.virtual_machines.instance_view(RG, "vm1")
    assert [s.code for s in view.statuses][-1] == "PowerState/running"
    compute.virtual_machines.begin_deallocate(RG, "vm1").result()
    got = compute.virtual_machines.get(RG, "vm1", expand="instanceView")
    assert got.properties.instance_view.statuses[-1].code == "PowerState/deallocated"
    from azure.core.exceptions import HttpResponseError, ResourceExistsError

    # restart of a deallocated VM: 409, which the SDK calls ResourceExistsError
    with pytest.raises(ResourceExistsError):
        compute.virtual_machines.begin_restart(RG, "vm1").result()
    compute.virtual_machines.begin_start(RG, "vm1").result()
    # the NIC and IP are refused while in use
    with pytest.raises(HttpResponseError) as refused:
        network.network_interfaces.begin_delete(RG, "vm1-nic").result()
    assert refused.value.status_code == 400 and refused.value.error.code == "NicInUse"
    with pytest.raises(HttpResponseError) as refused:
        network.public_ip_addresses.begin_delete(RG, "vm1-ip").result()
    assert refused.value.error.code == "PublicIPAddressCannotBeDeleted"
    compute.virtual_machines.begin_delete(RG, "vm1").result()
    network.network_interfaces.begin_delete(RG, "vm1-nic").result()
    network.public_ip_addresses.begin_delete(RG, "vm1-ip").result()
    assert not fake.of_type("Microsoft.Compute/virtualMachines")
    assert not fake.of_type("Microsoft.Network/networkInterfaces")
    assert not fake.of_type("Microsoft.Compute/disks")  # deleteOption Delete


def test_lists_page_with_next_link(fake: AzureFake) -> None:
    fake.page_size = 7
    fake.seed_vms(RG, 20)
    compute, network, _ = clients(fake)
    names = [vm.name for vm in compute.virtual_machines.list(RG)]
    assert len(names) == 20 and len(set(names)) == 20
    assert len(list(network.network_interfaces.list(RG))) == 20
    pages = [(m, p) for m, p in fake.requests if "skiptoken" in p]
    assert len(pages) >= 4  # 2 further pages of VMs, 2 of NICs


def test_errors_are_arm_json(fake: AzureFake) -> None:
    from azure.core.exceptions import ClientAuthenticationError, ResourceNotFoundError

    compute, network, resources = clients(fake)
    with pytest.raises(ResourceNotFoundError) as missing:
        resources.resource_groups.get("nope")
    assert missing.value.error.code == "ResourceGroupNotFound"
    resources.resource_groups.create_or_update(RG, {"location": LOCATION})
    with pytest.raises(ResourceNotFoundError) as missing:
        compute.virtual_machines.get(RG, "ghost")
    assert missing.value.error.code == "ResourceNotFound"
    bad, _, _ = clients(fake, token="wrong")
    with pytest.raises(ClientAuthenticationError) as denied:
        bad.virtual_machines.get(RG, "ghost")
    assert denied.value.error.code == "InvalidAuthenticationToken"
    from azure.core.exceptions import HttpResponseError

    with pytest.raises(HttpResponseError) as basic:
        network.public_ip_addresses.begin_create_or_update(
            RG, "basic", {"location": LOCATION}).result()
    assert basic.value.error.code == "IPv4BasicSkuPublicIpCountLimitReached"


def test_failed_provisioning_carries_the_message(fake: AzureFake) -> None:
    from azure.core.exceptions import HttpResponseError

    compute, network, resources = clients(fake)
    resources.resource_groups.create_or_update(RG, {"location": LOCATION})
    nic, _ = _network(network, public=False)
    fake.fail_next_provisioning = ("AllocationFailed", "Allocation failed. We do not have "
                                   "sufficient capacity for the requested VM size.")
    with pytest.raises(HttpResponseError) as failed:
        compute.virtual_machines.begin_create_or_update(RG, "vm1", _vm_body(nic.id)).result()
    assert "sufficient capacity" in str(failed.value)
    assert compute.virtual_machines.get(RG, "vm1").properties.provisioning_state == "Failed"


def test_retry_after_is_honoured(fake: AzureFake) -> None:
    compute, network, resources = clients(fake)
    resources.resource_groups.create_or_update(RG, {"location": LOCATION})
    nic, _ = _network(network, public=False)
    compute.virtual_machines.begin_create_or_update(RG, "vm1", _vm_body(nic.id)).result()
    fake.retry_after = "1"
    started = time.monotonic()
    compute.virtual_machines.begin_power_off(RG, "vm1").result()
    assert time.monotonic() - started >= 1.0


def test_images_and_sizes(fake: AzureFake) -> None:
    compute, _, _ = clients(fake)
    publishers = [p.name for p in compute.virtual_machine_images.list_publishers(LOCATION)]
    assert "Canonical" in publishers
    offers = [o.name for o in compute.virtual_machine_images.list_offers(LOCATION, "Canonical")]
    assert "ubuntu-24_04-lts" in offers
    versions = compute.virtual_machine_images.list(LOCATION, "Canonical", "ubuntu-24_04-lts",
                                                   "server", top=1, orderby="name desc")
    assert [v.name for v in versions] == ["24.04.202411030"]
    image = compute.virtual_machine_images.get(LOCATION, "Canonical", "ubuntu-24_04-lts",
                                               "server", "24.04.202411030")
    assert image.properties.os_disk_image.operating_system == "Linux"
    sizes = {s.name: s for s in compute.virtual_machine_sizes.list(LOCATION)}
    assert sizes["Standard_B1s"].memory_in_mb == 1024


def test_the_fake_refuses_what_the_api_description_forbids(fake: AzureFake) -> None:
    """VirtualMachines_List: "'instanceView' ... can only be specified if a valid $filter
    option is specified" (ComputeRP.json 2026-04-01); Azure answers 400 InvalidParameter."""
    from azure.core.exceptions import HttpResponseError

    fake.seed_vms(RG, 1)
    compute, _, _ = clients(fake)
    with pytest.raises(HttpResponseError) as refused:
        list(compute.virtual_machines.list(RG, expand="instanceView"))
    assert refused.value.status_code == 400
    assert refused.value.error.code == "InvalidParameter"
    assert refused.value.error.target == "$expand"
    with pytest.raises(HttpResponseError) as unknown_value:
        compute.virtual_machines.get(RG, "seed-0000", expand="everything")
    assert unknown_value.value.error.target == "$expand"
    assert len(fake.violations) == 2
    fake.violations.clear()
    # what the description allows is answered
    scale_set = (f"/subscriptions/{fake.subscription}/resourceGroups/{RG}/providers/"
                 "Microsoft.Compute/virtualMachineScaleSets/ss")
    assert list(compute.virtual_machines.list(
        RG, filter=f"'virtualMachineScaleSet/id' eq '{scale_set}'", expand="instanceView")) == []
    statuses = list(compute.virtual_machines.list_all(status_only="true"))
    assert statuses[0]["properties"]["instanceView"]["statuses"]


def test_the_fake_refuses_bodies_outside_the_description(fake: AzureFake) -> None:
    from azure.core.exceptions import HttpResponseError

    _, network, _ = clients(fake)
    fake.seed_vms(RG, 1)
    body = {"location": LOCATION, "properties": {"securityRules": [
        {"name": "r", "properties": {"protocol": "Tcp", "access": "Allow", "direction": "Inbound",
                                     "priority": 50, "sourcePortRange": "*"}}]}}
    with pytest.raises(HttpResponseError) as low:
        network.network_security_groups.begin_create_or_update(RG, "sg", body).result()
    assert low.value.status_code == 400 and low.value.error.target == "priority"
    del body["properties"]["securityRules"][0]["properties"]["direction"]
    with pytest.raises(HttpResponseError) as missing:
        network.network_security_groups.begin_create_or_update(RG, "sg", body).result()
    assert "direction" in missing.value.error.target
    fake.violations.clear()

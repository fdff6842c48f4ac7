"""The OCI fake driven by the real oci SDK (no cms): the calls the oracle provider makes
work end to end, with OCI's paging, states, errors and signed requests."""

from __future__ import annotations

import time

import pytest

from fakes.oracle import ADS, TENANCY, OciFake
from fakes.oracle.harness import make_api_key, sdk_config

oci = pytest.importorskip("oci")


@pytest.fixture
def fake():
    server = OciFake(delay=0.15, page_size=3)
    server.start()
    yield server
    server.stop()
    # a request outside Oracle's API description fails the test that sent it
    assert not server.violations, server.violations


@pytest.fixture(scope="module")
def signed_config(tmp_path_factory):
    """The SDK config of an API key and its one signer for this module: each client made
    from a config alone parses and checks the RSA key again (a tenth of a second)."""
    key_file, fingerprint = make_api_key(tmp_path_factory.mktemp("oci"))
    config = sdk_config(key_file, fingerprint)
    oci.config.validate_config(config)
    signer = oci.signer.Signer(tenancy=config["tenancy"], user=config["user"],
                               fingerprint=fingerprint, private_key_file_location=str(key_file))
    return config, signer


@pytest.fixture
def clients(fake, signed_config):
    import oci.core

    config, signer = signed_config
    fake.api_keys = {config["fingerprint"]}
    return (oci.core.ComputeClient(config, signer=signer, service_endpoint=fake.url),
            oci.core.VirtualNetworkClient(config, signer=signer, service_endpoint=fake.url))


def launch(compute, fake, name="vm1", shape="VM.Standard.E2.1.Micro", token=None, **extra):
    from oci.core import models

    subnet = next(iter(fake.subnets))
    details = models.LaunchInstanceDetails(
        compartment_id=TENANCY, availability_domain=ADS[0], shape=shape, display_name=name,
        source_details=models.InstanceSourceViaImageDetails(
            image_id=fake.image_id("Oracle-Linux-9.4-2024.09.30-0")),
        create_vnic_details=models.CreateVnicDetails(subnet_id=subnet, assign_public_ip=True),
        metadata={"ssh_authorized_keys": "ssh-ed25519 AAAA test"}, **extra)
    kwargs = {"opc_retry_token": token} if token else {}
    return compute.launch_instance(details, **kwargs)


def wait_state(compute, ocid, state, timeout=5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        instance = compute.get_instance(ocid).data
        if instance.lifecycle_state == state:
            return instance
        time.sleep(0.05)
    raise AssertionError(f"{ocid} never reached {state}")


def test_launch_runs_and_gets_a_loopback_address(clients, fake):
    compute, network = clients
    response = launch(compute, fake)
    assert response.data.lifecycle_state == "PROVISIONING"
    assert response.headers["opc-work-request-id"]
    (attachment,) = compute.list_vnic_attachments(TENANCY, instance_id=response.data.id).data
    assert attachment.vnic_id is None  # no VNIC while provisioning
    wait_state(compute, response.data.id, "RUNNING")
    (attachment,) = compute.list_vnic_attachments(TENANCY, instance_id=response.data.id).data
    vnic = network.get_vnic(attachment.vnic_id).data
    assert vnic.public_ip.startswith("127.0.0.") and vnic.private_ip.startswith("10.0.")


def test_list_pages_with_opc_next_page(clients, fake):
    compute, _ = clients
    for n in range(7):
        launch(compute, fake, name=f"p{n}")
    first = compute.list_instances(TENANCY)
    assert len(first.data) == 3 and first.next_page
    everything = oci.pagination.list_call_get_all_results(compute.list_instances, TENANCY).data
    assert sorted(i.display_name for i in everything) == [f"p{n}" for n in range(7)]


def test_retry_token_answers_the_first_launch(clients, fake):
    compute, _ = clients
    first = launch(compute, fake, token="tok-1")
    again = launch(compute, fake, token="tok-1")
    assert first.data.id == again.data.id and len(fake.instances) == 1


def test_actions_and_terminate(clients, fake):
    compute, _ = clients
    ocid = launch(compute, fake).data.id
    wait_state(compute, ocid, "RUNNING")
    assert compute.instance_action(ocid, "STOP").data.lifecycle_state == "STOPPING"
    wait_state(compute, ocid, "STOPPED")
    with pytest.raises(oci.exceptions.ServiceError) as raised:
        compute.instance_action(ocid, "SOFTRESET")
    assert raised.value.status == 409 and raised.value.code == "IncorrectState"
    compute.instance_action(ocid, "START")
    wait_state(compute, ocid, "RUNNING")
    volume = fake.instances[ocid]["_boot_volume"]
    response = compute.terminate_instance(ocid, preserve_boot_volume=False)
    assert response.status == 204 and response.headers["opc-work-request-id"]
    wait_state(compute, ocid, "TERMINATED")
    assert volume not in fake.boot_volumes
    assert [i.id for i in compute.list_instances(TENANCY).data] == [ocid]  # stays listed


def test_failed_launch_ends_terminated_with_work_request_errors(clients, fake, tmp_path):
    from oci.work_requests import WorkRequestClient

    compute, _ = clients
    fake.launch_failures["VM.Standard.E2.1.Micro"] = ("OutOfHostCapacity",
                                                      "Out of host capacity.")
    response = launch(compute, fake)
    wait_state(compute, response.data.id, "TERMINATED")
    key_file, fingerprint = make_api_key(tmp_path / "wr")
    fake.api_keys.add(fingerprint)
    requests = WorkRequestClient(sdk_config(key_file, fingerprint), service_endpoint=fake.url)
    work_request = requests.get_work_request(response.headers["opc-work-request-id"]).data
    assert work_request.status == "FAILED"
    (error,) = requests.list_work_request_errors(work_request.id).data
    assert error.code == "OutOfHostCapacity" and error.message == "Out of host capacity."


def test_errors_carry_oci_codes(clients, fake):
    compute, _ = clients
    with pytest.raises(oci.exceptions.ServiceError) as raised:
        compute.get_instance("ocid1.instance.oc1.phx.nope")
    assert (raised.value.status, raised.value.code) == (404, "NotAuthorizedOrNotFound")
    with pytest.raises(oci.exceptions.ServiceError) as raised:
        launch(compute, fake, shape="VM.Standard.E4.Flex")  # flexible without shapeConfig
    assert (raised.value.status, raised.value.code) == (400, "InvalidParameter")
    with pytest.raises(oci.exceptions.ServiceError) as raised:
        launch(compute, fake, shape="VM.Nope.1")
    assert raised.value.status == 404


def test_unknown_key_is_not_authenticated(fake, tmp_path):
    import oci.core

    key_file, fingerprint = make_api_key(tmp_path)
    fake.api_keys = {"00:" * 15 + "00"}
    compute = oci.core.ComputeClient(sdk_config(key_file, fingerprint), service_endpoint=fake.url)
    with pytest.raises(oci.exceptions.ServiceError) as raised:
        compute.list_instances(TENANCY)
    assert (raised.value.status, raised.value.code) == (401, "NotAuthenticated")


def test_unsigned_request_is_refused(fake):
    import json
    import urllib.error
    import urllib.request

    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(f"{fake.url}/20160918/instances?compartmentId={TENANCY}",
                               timeout=5)
    assert raised.value.code == 401
    assert json.loads(raised.value.read())["code"] == "NotAuthenticated"


def test_network_security_groups_and_rules(clients, fake):
    from oci.core import models

    _, network = clients
    vcn = next(iter(fake.vcns))
    group = network.create_network_security_group(models.CreateNetworkSecurityGroupDetails(
        compartment_id=TENANCY, vcn_id=vcn, display_name="web")).data
    added = network.add_network_security_group_security_rules(
        group.id, models.AddNetworkSecurityGroupSecurityRulesDetails(security_rules=[
            models.AddSecurityRuleDetails(
                direction="INGRESS", protocol="6", source="0.0.0.0/0", source_type="CIDR_BLOCK",
                tcp_options=models.TcpOptions(destination_port_range=models.PortRange(
                    min=22, max=22)))])).data.security_rules
    rules = network.list_network_security_group_security_rules(group.id).data
    assert [r.id for r in rules] == [added[0].id]
    assert rules[0].tcp_options.destination_port_range.min == 22
    network.remove_network_security_group_security_rules(
        group.id, models.RemoveNetworkSecurityGroupSecurityRulesDetails(
            security_rule_ids=[added[0].id]))
    assert network.list_network_security_group_security_rules(group.id).data == []
    network.delete_network_security_group(group.id)
    assert network.list_network_security_groups(compartment_id=TENANCY).data == []


def test_retry_token_on_instance_action_answers_the_first_action(clients, fake):
    """Same token, same request: the first answer again and no second reset; same
    token, another request: 409 as Oracle documents."""
    compute, _ = clients
    ocid = launch(compute, fake).data.id
    wait_state(compute, ocid, "RUNNING")
    first = compute.instance_action(ocid, "SOFTRESET", opc_retry_token="act-1")
    again = compute.instance_action(ocid, "SOFTRESET", opc_retry_token="act-1")
    assert again.data.lifecycle_state == first.data.lifecycle_state == "STOPPING"
    assert fake.reboots[ocid] == 1
    with pytest.raises(oci.exceptions.ServiceError) as raised:
        compute.instance_action(ocid, "STOP", opc_retry_token="act-1")
    assert (raised.value.status, raised.value.code) == (409, "InvalidatedRetryToken")


def test_retry_token_on_create_network_security_group(clients, fake):
    from oci.core import models

    _, network = clients
    vcn = next(iter(fake.vcns))
    details = models.CreateNetworkSecurityGroupDetails(compartment_id=TENANCY, vcn_id=vcn,
                                                       display_name="web")
    first = network.create_network_security_group(details, opc_retry_token="nsg-1").data
    again = network.create_network_security_group(details, opc_retry_token="nsg-1").data
    assert first.id == again.id and len(fake.nsgs) == 1
    details.display_name = "other"
    with pytest.raises(oci.exceptions.ServiceError) as raised:
        network.create_network_security_group(details, opc_retry_token="nsg-1")
    assert raised.value.status == 409 and len(fake.nsgs) == 1


def test_request_outside_the_description_is_refused_and_recorded(clients, fake):
    """An action OCI does not list, and a query parameter ListInstances does not take:
    400 InvalidParameter, and the fake records them (a test fixture fails on any)."""
    compute, _ = clients
    ocid = launch(compute, fake).data.id
    session, signer = compute.base_client.session, compute.base_client.signer
    answer = session.post(f"{fake.url}/20160918/instances/{ocid}?action=HIBERNATE",
                          json={}, auth=signer)
    assert (answer.status_code, answer.json()["code"]) == (400, "InvalidParameter")
    answer = session.get(f"{fake.url}/20160918/instances?compartmentId={TENANCY}&foo=1",
                         auth=signer)
    assert answer.status_code == 400 and "foo" in answer.json()["message"]
    assert len(fake.violations) == 2
    fake.violations.clear()

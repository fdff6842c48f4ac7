"""The fake Compute Engine, driven by the real google-cloud-compute client over REST (no
cms involved): the calls the provider relies on work end to end, and the fake answers as
the API reference says (operations, paging, errors, fingerprints)."""

from __future__ import annotations

import json
import re
import uuid

import pytest

from fakes.google import GoogleFake

pytest.importorskip("google.cloud.compute_v1")


@pytest.fixture(scope="module")
def fake_server():
    """One fake for the module (started once; ``fake`` resets it for each test)."""
    server = GoogleFake(delay=0.1)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def fake(fake_server: GoogleFake):
    fake_server.reset()  # a fresh project: nothing of the test before
    yield fake_server
    # a request outside Compute Engine's API description fails the test that sent it
    assert not fake_server.violations, fake_server.violations


@pytest.fixture
def clients(fake):
    from google.cloud.compute_v1.services.firewalls import FirewallsClient
    from google.cloud.compute_v1.services.global_operations import GlobalOperationsClient
    from google.cloud.compute_v1.services.images import ImagesClient
    from google.cloud.compute_v1.services.instances import InstancesClient
    from google.cloud.compute_v1.services.projects import ProjectsClient
    from google.cloud.compute_v1.services.zone_operations import ZoneOperationsClient
    from google.oauth2.credentials import Credentials

    options = {"credentials": Credentials(fake.token), "transport": "rest",
               "client_options": {"api_endpoint": fake.url}}

    class Clients:
        instances = InstancesClient(**options)
        operations = ZoneOperationsClient(**options)
        global_operations = GlobalOperationsClient(**options)
        images = ImagesClient(**options)
        projects = ProjectsClient(**options)
        firewalls = FirewallsClient(**options)
    return Clients


def compute():
    from google.cloud.compute_v1.types import compute as types

    return types


def instance_body(name: str, zone: str = "us-central1-a", machine: str = "e2-micro"):
    c = compute()
    return c.Instance(
        name=name, machine_type=f"zones/{zone}/machineTypes/{machine}",
        disks=[c.AttachedDisk(boot=True, auto_delete=True, initialize_params=c.
                              AttachedDiskInitializeParams(
                                  source_image="projects/debian-cloud/global/images/family/"
                                               "debian-12"))],
        network_interfaces=[c.NetworkInterface(
            network="global/networks/default",
            access_configs=[c.AccessConfig(name="External NAT", type_="ONE_TO_ONE_NAT")])],
        metadata=c.Metadata(items=[c.Items(key="ssh-keys", value="alice:ssh-ed25519 AAAA a")]))


def insert(clients, name: str, zone: str = "us-central1-a", request_id: str | None = None,
           machine: str = "e2-micro"):
    c = compute()
    return clients.instances.insert_unary(request=c.InsertInstanceRequest(
        project="cms-test", zone=zone, instance_resource=instance_body(name, zone, machine),
        request_id=request_id or str(uuid.uuid4())))


def wait(clients, operation, zone: str = "us-central1-a"):
    c = compute()
    while True:
        found = clients.operations.wait(project="cms-test", zone=zone,
                                        operation=operation.name)
        if found.status == c.Operation.Status.DONE:
            return found


def test_insert_runs_as_an_operation_and_the_instance_gets_a_loopback_address(fake, clients):
    c = compute()
    operation = insert(clients, "web1")
    assert operation.status != c.Operation.Status.DONE
    assert operation.operation_type == "insert"
    done = wait(clients, operation)
    assert not done.error.errors
    instance = clients.instances.get(project="cms-test", zone="us-central1-a",
                                     instance="web1")
    assert instance.status == "RUNNING"
    assert re.fullmatch(r"127\.0\.0\.\d+", instance.network_interfaces[0].access_configs[0]
                        .nat_i_p)
    assert instance.network_interfaces[0].network_i_p.startswith("10.128.")
    assert re.search(r"-0[78]:00$", instance.creation_timestamp)  # US Pacific, as GCE
    assert fake.disks() == ["us-central1-a/web1"]
    assert fake.ssh_keys("web1") == ["ssh-ed25519 AAAA a"]


def test_status_moves_through_provisioning(fake, clients):
    insert(clients, "slow")
    first = clients.instances.get(project="cms-test", zone="us-central1-a", instance="slow")
    assert first.status in ("PROVISIONING", "STAGING")


def test_stop_start_delete(fake, clients):
    wait(clients, insert(clients, "vm1"))
    wait(clients, clients.instances.stop_unary(project="cms-test", zone="us-central1-a",
                                               instance="vm1"))
    stopped = clients.instances.get(project="cms-test", zone="us-central1-a", instance="vm1")
    assert stopped.status == "TERMINATED"
    assert not stopped.network_interfaces[0].access_configs[0].nat_i_p
    wait(clients, clients.instances.start_unary(project="cms-test", zone="us-central1-a",
                                                instance="vm1"))
    started = clients.instances.get(project="cms-test", zone="us-central1-a", instance="vm1")
    assert started.status == "RUNNING" and started.network_interfaces[0].access_configs[0].nat_i_p
    operation = clients.instances.delete_unary(project="cms-test", zone="us-central1-a",
                                               instance="vm1")
    assert clients.instances.get(project="cms-test", zone="us-central1-a",
                                 instance="vm1").status == "STOPPING"
    wait(clients, operation)
    assert fake.instance("vm1") is None and fake.disks() == []


def test_suspend_resume_and_reset(fake, clients):
    wait(clients, insert(clients, "vm2"))
    args = {"project": "cms-test", "zone": "us-central1-a", "instance": "vm2"}
    wait(clients, clients.instances.suspend_unary(**args))
    assert clients.instances.get(**args).status == "SUSPENDED"
    wait(clients, clients.instances.resume_unary(**args))
    assert clients.instances.get(**args).status == "RUNNING"
    assert not wait(clients, clients.instances.reset_unary(**args)).error.errors


def test_request_id_makes_insert_idempotent(fake, clients):
    token = str(uuid.uuid4())
    first = insert(clients, "once", request_id=token)
    again = insert(clients, "once", request_id=token)
    assert first.name == again.name
    wait(clients, first)
    assert fake.instance("once") is not None


def test_aggregated_list_pages(fake, clients):
    c = compute()
    fake.add_instances(7)
    fake.state.max_page = 3
    pager = clients.instances.aggregated_list(
        request=c.AggregatedListInstancesRequest(project="cms-test"))
    names = [i.name for _, scoped in pager for i in scoped.instances]
    assert sorted(names) == [f"bulk-{n:05d}" for n in range(7)]
    pages = [p for _, p in fake.requests if "/aggregated/instances" in p]
    assert len(pages) == 3 and "pageToken=" in pages[-1]


def test_aggregated_list_filter(fake, clients):
    c = compute()
    fake.add_instances(4)
    pager = clients.instances.aggregated_list(request=c.AggregatedListInstancesRequest(
        project="cms-test", filter='name = "bulk-00002"'))
    assert [i.name for _, s in pager for i in s.instances] == ["bulk-00002"]


def test_quota_error_arrives_inside_the_finished_operation(fake, clients):
    fake.state.cpu_quota = 2
    wait(clients, insert(clients, "fits"))
    done = wait(clients, insert(clients, "toomany"))
    assert done.error.errors[0].code == "QUOTA_EXCEEDED"
    assert "Quota 'CPUS' exceeded" in done.error.errors[0].message
    assert done.http_error_status_code == 403
    assert fake.instance("toomany") is None


def test_injected_operation_failure(fake, clients):
    fake.fail_next("insert", "ZONE_RESOURCE_POOL_EXHAUSTED", "The zone does not have enough "
                   "resources available to fulfill the request.", 503)
    done = wait(clients, insert(clients, "unlucky"))
    assert done.error.errors[0].code == "ZONE_RESOURCE_POOL_EXHAUSTED"
    assert fake.instance("unlucky") is None


def test_errors_have_googles_shape(fake, clients):
    from google.api_core import exceptions

    with pytest.raises(exceptions.NotFound, match="was not found"):
        clients.instances.get(project="cms-test", zone="us-central1-a", instance="nope")
    wait(clients, insert(clients, "dup"))
    with pytest.raises(exceptions.Conflict, match="already exists"):
        insert(clients, "dup")
    with pytest.raises(exceptions.BadRequest, match="Invalid value for field 'resource.name'"):
        insert(clients, "Upper")
    assert fake.violations == ["compute.instances.insert: Invalid value for field "
                               "'resource.name': 'Upper'. Must be a match of regex "
                               "'[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?'"]
    fake.violations.clear()  # sent on purpose
    with pytest.raises(exceptions.BadRequest, match="Machine type with name"):
        insert(clients, "odd", machine="m9-huge")


def test_wrong_token_is_refused(fake):
    from google.auth.exceptions import RefreshError
    from google.cloud.compute_v1.services.instances import InstancesClient
    from google.oauth2.credentials import Credentials

    client = InstancesClient(credentials=Credentials("not-the-token"), transport="rest",
                             client_options={"api_endpoint": fake.url})
    with pytest.raises(RefreshError):  # a 401, then the library cannot refresh
        client.get(project="cms-test", zone="us-central1-a", instance="x")
    assert fake.unauthorized


def test_images_families_and_deprecation(fake, clients):
    newest = clients.images.get_from_family(project="debian-cloud", family="debian-12")
    assert newest.name == "debian-12-bookworm-v20251111"
    listed = list(clients.images.list(project="debian-cloud"))
    old = [i for i in listed if i.name == "debian-12-bookworm-v20251014"][0]
    assert old.deprecated.state == "DEPRECATED"


def test_project_metadata_fingerprint(fake, clients):
    from google.api_core import exceptions

    c = compute()
    project = clients.projects.get(project="cms-test")
    stale = project.common_instance_metadata.fingerprint
    items = [c.Items(key="ssh-keys", value="bob:ssh-ed25519 AAAA b")]
    operation = clients.projects.set_common_instance_metadata_unary(
        project="cms-test", metadata_resource=c.Metadata(fingerprint=stale, items=items))
    with pytest.raises(exceptions.PreconditionFailed, match="fingerprint"):
        clients.projects.set_common_instance_metadata_unary(
            project="cms-test", metadata_resource=c.Metadata(fingerprint=stale, items=items))
    clients.global_operations.wait(project="cms-test", operation=operation.name)
    assert fake.project_ssh_keys() == ["bob:ssh-ed25519 AAAA b"]


def test_firewalls(fake, clients):
    c = compute()
    rule = c.Firewall(name="web-tcp-80", network="global/networks/default",
                      direction="INGRESS", source_ranges=["0.0.0.0/0"], target_tags=["web"],
                      allowed=[c.Allowed(I_p_protocol="tcp", ports=["80"])])
    operation = clients.firewalls.insert_unary(project="cms-test", firewall_resource=rule)
    clients.global_operations.wait(project="cms-test", operation=operation.name)
    names = [f.name for f in clients.firewalls.list(project="cms-test")]
    assert "web-tcp-80" in names and "default-allow-ssh" in names
    got = clients.firewalls.get(project="cms-test", firewall="web-tcp-80")
    assert list(got.target_tags) == ["web"] and got.allowed[0].ports == ["80"]
    operation = clients.firewalls.delete_unary(project="cms-test", firewall="web-tcp-80")
    clients.global_operations.wait(project="cms-test", operation=operation.name)
    assert "web-tcp-80" not in [f.name for f in clients.firewalls.list(project="cms-test")]


def test_service_account_file_gets_a_token_from_the_fake(fake, tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from google.cloud.compute_v1.services.instances import InstancesClient
    from google.oauth2 import service_account

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    email = "robot@cms-test.iam.gserviceaccount.com"
    fake.register_service_account(email, key.public_key())
    info = {"type": "service_account", "project_id": "cms-test", "private_key_id": "k1",
            "private_key": key.private_bytes(serialization.Encoding.PEM,
                                             serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption()).decode(),
            "client_email": email, "client_id": "1", "token_uri": f"{fake.url}/token"}
    path = tmp_path / "sa.json"
    path.write_text(json.dumps(info))
    credentials = service_account.Credentials.from_service_account_file(
        str(path), scopes=["https://www.googleapis.com/auth/compute"])
    client = InstancesClient(credentials=credentials, transport="rest",
                             client_options={"api_endpoint": fake.url})
    assert list(client.list(project="cms-test", zone="us-central1-a")) == []
    assert not fake.unauthorized


@pytest.mark.parametrize("query, field", [
    ("maxResults=501", "maxResults"), ("orderBy=zone", "orderBy"),
    ("pageSize=10", "pageSize"), ("maxResults=abc", "maxResults")])
def test_list_parameters_outside_the_description_get_gces_400(fake, query, field):
    """The aggregated list with a parameter or value compute.v1 does not allow."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        f"{fake.url}/compute/v1/projects/cms-test/aggregated/instances?{query}",
        headers={"Authorization": f"Bearer {fake.token}"})
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    assert caught.value.code == 400
    error = json.loads(caught.value.read())["error"]
    assert error["code"] == 400 and error["status"] == "INVALID_ARGUMENT"
    assert field in error["message"] and error["errors"][0]["domain"] == "global"
    assert len(fake.violations) == 1 and "compute.instances.aggregatedList" in fake.violations[0]
    fake.violations.clear()  # sent on purpose


def test_request_id_must_be_a_nonzero_uuid(fake, clients):
    from google.api_core import exceptions

    with pytest.raises(exceptions.BadRequest, match="requestId"):
        insert(clients, "zero", request_id="00000000-0000-0000-0000-000000000000")
    with pytest.raises(exceptions.BadRequest, match="requestId"):
        insert(clients, "notuuid", request_id="cms-token-1")
    assert len(fake.violations) == 2
    fake.violations.clear()  # sent on purpose


def test_instance_is_addressed_by_id_as_gce_allows(fake, clients):
    wait(clients, insert(clients, "byid"))
    instance = clients.instances.get(project="cms-test", zone="us-central1-a",
                                     instance="byid")
    again = clients.instances.get(project="cms-test", zone="us-central1-a",
                                  instance=str(instance.id))
    assert again.name == "byid"
    wait(clients, clients.instances.reset(project="cms-test", zone="us-central1-a",
                                          instance=str(instance.id)))
    assert fake.reboot_count("byid") == 1

"""The OpenStack fake, driven by the real openstacksdk alone (no cms): what the provider
relies on works over the wire as the API reference says."""

from __future__ import annotations

import secrets
import time

import pytest

from fakes.openstack import NO_VALID_HOST, FakeOpenStack

openstack = pytest.importorskip("openstack")
from openstack import exceptions  # noqa: E402


@pytest.fixture
def fake():
    server = FakeOpenStack(secrets.token_urlsafe(12), build_seconds=0.3, delete_seconds=0.3,
                           action_seconds=0.3)
    server.start()
    yield server
    server.stop()


def connect(fake: FakeOpenStack, password: str | None = None):
    return openstack.connection.Connection(
        auth_url=fake.auth_url, username="demo", password=password or fake.password,
        project_name="demo", user_domain_name="Default", project_domain_name="Default",
        region_name="RegionOne")


def boot(conn, fake: FakeOpenStack, name: str, flavor: str = "1"):
    image = next(conn.image.images(name="cirros-0.6.2-x86_64-disk"))
    return conn.compute.create_server(name=name, image_id=image.id, flavor_id=flavor,
                                      networks=[{"uuid": fake.tenant_network["id"]}])


def settle(conn, server_id: str, status: str):
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        server = conn.compute.get_server(server_id)
        if server.status == status and not server.task_state:
            return server
        time.sleep(0.02)
    raise AssertionError(f"{server_id} never reached {status}")


def test_token_catalog_and_version_discovery(fake):
    conn = connect(fake)
    assert [f.name for f in conn.compute.flavors()][:2] == ["m1.tiny", "m1.small"]
    assert conn.current_project_id == fake.project["id"]
    assert ("POST", "/identity/v3/auth/tokens") in fake.calls
    assert ("GET", "/compute/v2.1") in fake.calls  # microversion discovery


def test_wrong_password_is_unauthorized(fake):
    from keystoneauth1 import exceptions as ksa

    with pytest.raises(ksa.Unauthorized):
        list(connect(fake, password="not-the-password").compute.flavors())


def test_application_credential(fake):
    fake.app_credentials["ac-id"] = secret = secrets.token_urlsafe(12)
    conn = openstack.connection.Connection(
        auth_type="v3applicationcredential", region_name="RegionOne",
        auth={"auth_url": fake.auth_url, "application_credential_id": "ac-id",
              "application_credential_secret": secret})
    assert len(list(conn.network.networks())) == 2


def test_server_lifecycle_and_addresses(fake):
    conn = connect(fake)
    server = boot(conn, fake, "a")
    assert conn.compute.get_server(server.id).status == "BUILD"
    server = settle(conn, server.id, "ACTIVE")
    (address,) = server.addresses["private"]
    assert address["addr"].startswith("127.0.1.") and address["OS-EXT-IPS:type"] == "fixed"
    assert server.flavor.original_name == "m1.tiny"  # embedded from microversion 2.47
    conn.compute.stop_server(server)
    assert conn.compute.get_server(server.id).task_state == "powering-off"
    settle(conn, server.id, "SHUTOFF")
    with pytest.raises(exceptions.ConflictException, match="vm_state stopped"):
        conn.compute.stop_server(server)
    # no task state is read in between: these actions need no time to be caught in
    fake.action_seconds = 0.05
    conn.compute.start_server(server)
    settle(conn, server.id, "ACTIVE")
    conn.compute.suspend_server(server)
    settle(conn, server.id, "SUSPENDED")
    conn.compute.resume_server(server)
    settle(conn, server.id, "ACTIVE")
    fake.action_seconds = 0.3  # REBOOT is read before it ends
    conn.compute.reboot_server(server, "SOFT")
    assert conn.compute.get_server(server.id).status == "REBOOT"
    settle(conn, server.id, "ACTIVE")
    conn.compute.set_server_metadata(server, owner="me")
    assert conn.compute.get_server(server.id).metadata == {"owner": "me"}
    conn.compute.delete_server(server)
    assert conn.compute.get_server(server.id).task_state == "deleting"
    conn.compute.wait_for_delete(server, interval=0.02, wait=10)
    with pytest.raises(exceptions.NotFoundException):
        conn.compute.get_server(server.id)
    assert list(conn.network.ports(device_id=server.id)) == []


def test_no_valid_host_ends_in_error_with_a_fault(fake):
    conn = connect(fake)
    server = settle(conn, boot(conn, fake, "big", flavor="5").id, "ERROR")
    assert server.fault["message"] == NO_VALID_HOST


def test_create_needs_networks_and_refuses_external_ones(fake):
    conn = connect(fake)
    image = next(conn.image.images())
    with pytest.raises(exceptions.BadRequestException, match="networks"):
        conn.compute.create_server(name="x", image_id=image.id, flavor_id="1")
    with pytest.raises(exceptions.ForbiddenException, match="external network"):
        conn.compute.create_server(name="x", image_id=image.id, flavor_id="1",
                                   networks=[{"uuid": fake.external_network_id}])


def test_servers_page_with_limit_and_marker(fake):
    fake.max_limit = 3
    conn = connect(fake)
    ids = {boot(conn, fake, f"p{i}").id for i in range(7)}
    assert {s.id for s in conn.compute.servers()} == ids
    pages = [c for c in fake.calls if c[1].startswith("/compute/v2.1/servers/detail")]
    assert len(pages) >= 3 and any("marker=" in c[1] for c in pages)


def test_images_page_with_next(fake):
    fake.image_page = 2
    for i in range(4):
        fake.add_image(f"extra-{i}")
    conn = connect(fake)
    assert len(list(conn.image.images())) == 7
    assert sum(1 for c in fake.calls if c[1].startswith("/image/v2/images")) >= 4
    with pytest.raises(exceptions.NotFoundException):
        conn.image.get_image("00000000-0000-0000-0000-000000000000")


def test_microversion_beyond_the_maximum_is_refused(fake):
    conn = connect(fake)
    response = conn.compute.get("/servers", microversion="2.200")
    assert response.status_code == 406
    response = conn.compute.get("/flavors/detail", microversion="2.60")
    assert response.headers["OpenStack-API-Version"] == "compute 2.60"


def test_floating_ip_allocate_associate_release(fake):
    conn = connect(fake)
    server = settle(conn, boot(conn, fake, "f").id, "ACTIVE")
    (port,) = conn.network.ports(device_id=server.id)
    ip = conn.network.create_ip(floating_network_id=fake.external_network_id, port_id=port.id,
                                description="mine")
    assert ip.floating_ip_address.startswith("127.0.2.") and ip.status == "ACTIVE"
    types = {a["OS-EXT-IPS:type"] for a in conn.compute.get_server(server.id)
             .addresses["private"]}
    assert types == {"fixed", "floating"}
    with pytest.raises(exceptions.BadRequestException, match="not a valid external"):
        conn.network.create_ip(floating_network_id=fake.tenant_network["id"])
    conn.network.delete_ip(ip)
    assert list(conn.network.ips()) == []


def test_keypairs_and_security_group_rules(fake, tmp_path):
    from cloudmesh.compute.keys import generate_ed25519

    public = generate_ed25519(tmp_path / "k", "test")["public_key"]
    conn = connect(fake)
    pair = conn.compute.create_keypair(name="k", public_key=public)
    assert pair.fingerprint.count(":") == 15
    with pytest.raises(exceptions.ConflictException):
        conn.compute.create_keypair(name="k", public_key=public)
    group = conn.network.create_security_group(name="web", description="w")
    assert {r["direction"] for r in group.security_group_rules} == {"egress"}
    rule = dict(security_group_id=group.id, direction="ingress", ether_type="IPv4",
                protocol="tcp", port_range_min=22, port_range_max=22,
                remote_ip_prefix="0.0.0.0/0")
    conn.network.create_security_group_rule(**rule)
    with pytest.raises(exceptions.ConflictException, match="already exists"):
        conn.network.create_security_group_rule(**rule)
    conn.compute.delete_keypair("k")
    with pytest.raises(exceptions.NotFoundException):
        conn.compute.get_keypair("k")

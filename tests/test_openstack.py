"""The OpenStack provider through a real openstacksdk ``Connection`` against the fake in
tests/fakes/openstack: the conformance and fault suites, and what issue 11 lists
(paging, ERROR servers, credentials, clouds.yaml, networks, floating IPs, the CLI)."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import pytest
import yaml

from cloudmesh.compute.errors import CloudError, ConfigError, CredentialError, UsageError
from cloudmesh.compute.provider import Provider
from cloudmesh.compute.testing import ComputeProviderSuite
from cloudmesh.compute.testing.faultproxy import FaultProxy
from cloudmesh.compute.testing.faults import FaultSetup, FaultSuite
from cloudmesh.compute.testing.fixtures import cms_home_class, write_config  # noqa: F401
from conftest import cms_here
from test_cli import assert_one_line_error
from fakes.openstack import NO_VALID_HOST, FakeOpenStack

pytest.importorskip("openstack")

IMAGE, FLAVOR = "ubuntu-24.04", "m1.small"


@pytest.fixture
def openstack_fake():
    """A fresh fake cloud per test; its password is made at run time. Servers list four
    to a page, so any test with five servers pages."""
    fake = FakeOpenStack(secrets.token_urlsafe(16), build_seconds=0.2, delete_seconds=0.1,
                         action_seconds=0.1, max_limit=4)
    fake.start()
    yield fake
    fake.stop()
    # every request cms sent is one the OpenStack API reference allows
    assert not fake.spec_violations, fake.spec_violations


def cloud_spec(fake: FakeOpenStack, auth_url: str | None = None, **default: Any) -> dict:
    return {"cm": {"kind": "openstack", "label": "fake OpenStack", "timeout": 10},
            "credentials": {"auth_url": auth_url or fake.auth_url, "username": "demo",
                            "password": fake.password, "project_name": "demo",
                            "user_domain_name": "Default", "project_domain_name": "Default",
                            "region_name": "RegionOne"},
            # the fake builds in 0.2 s: poll at its pace, not a real cloud's
            "default": {"image": IMAGE, "flavor": FLAVOR, "poll_interval": 0.1, **default}}


@pytest.fixture
def os_cloud(cms_home: Path, openstack_fake: FakeOpenStack) -> str:
    write_config(cms_home, {"os": cloud_spec(openstack_fake)}, default="os")
    return "os"


def boot(provider: Provider, names: str, **options: Any) -> list:
    outcomes = provider.boot(names=names, image=IMAGE, flavor=FLAVOR, **options)
    for outcome in outcomes:
        assert outcome.ok, outcome.error
    return [o.result for o in outcomes]


# ---- the shared suites --------------------------------------------------------------------
@pytest.fixture(scope="class")
def class_fake():
    """One fake cloud for a test class: the conformance suite's read-only tests share a VM
    in it."""
    fake = FakeOpenStack(secrets.token_urlsafe(16), build_seconds=0.2, delete_seconds=0.1,
                         action_seconds=0.1, max_limit=4)
    fake.start()
    yield fake
    fake.stop()


class TestOpenStack(ComputeProviderSuite):
    image = IMAGE
    flavor = FLAVOR
    timeout = 30
    interval = 0.05

    @pytest.fixture(scope="class")
    @classmethod
    def cloud(cls, cms_home_class: Path, class_fake: FakeOpenStack) -> str:
        """The cloud 'os' on the class's fake, in the class's home."""
        write_config(cms_home_class, {"os": cloud_spec(class_fake)}, default="os")
        return "os"

    @pytest.fixture(autouse=True)
    def _fake_of_the_test(self, class_fake: FakeOpenStack):
        self.fake = class_fake  # delivered_keys and reboot_count read the fake's state
        yield
        # every request cms sent is one the OpenStack API reference allows
        violations, class_fake.spec_violations[:] = list(class_fake.spec_violations), []
        assert not violations, violations

    def delivered_keys(self, provider, vm: dict) -> list[str]:
        # the key pair the boot request named, as Nova's metadata service hands it out
        return self.fake.delivered_keys(vm["id"])

    def reboot_count(self, cloud_name: str, vm: dict) -> int:
        return self.fake.reboots.get(vm["id"], 0)

    def bad_credentials(self, spec: dict) -> dict:
        # Keystone answers 401 to a password it does not hold
        return {**spec, "credentials": {**spec["credentials"],
                                        "password": "wrong-" + secrets.token_urlsafe(8)}}


class TestOpenStackFaults(FaultSuite):
    image = IMAGE
    flavor = FLAVOR

    @pytest.fixture
    def faulty(self, cms_home: Path, openstack_fake: FakeOpenStack) -> FaultSetup:
        proxy = FaultProxy(target=openstack_fake.url)
        url = proxy.start()
        # the catalog sends every service request through the proxy too
        openstack_fake.public_url = url
        spec = cloud_spec(openstack_fake, f"{url}/identity/v3")
        spec["cm"].update(retries=2, timeout=5)
        write_config(cms_home, {"osf": spec})
        body = json.dumps({"computeFault": {"code": 503, "message": "Service Unavailable"}})
        yield FaultSetup(cloud="osf", proxy=proxy,
                         list_match="GET /compute/v2.1/servers/detail",
                         create_match="POST /compute/v2.1/servers ",
                         transient=lambda: {"status": 503, "body": body.encode()})
        proxy.stop()


# ---- what issue 11 lists --------------------------------------------------------------------
def test_list_follows_more_than_one_page(os_cloud: str, openstack_fake: FakeOpenStack):
    provider = Provider(os_cloud)
    boot(provider, "page[1-9]", public_ip=False)
    openstack_fake.calls.clear()
    names = sorted(r["name"] for r in provider.list())
    assert names == [f"page{i}" for i in range(1, 10)]
    pages = [path for method, path in openstack_fake.calls if "/servers/detail" in path]
    assert len(pages) >= 3 and all("marker=" in p for p in pages[1:])


def test_a_server_in_error_reports_the_fault(os_cloud: str, openstack_fake: FakeOpenStack):
    provider = Provider(os_cloud)
    (outcome,) = provider.boot(names="big", image=IMAGE, flavor="m1.huge")
    assert isinstance(outcome.error, CloudError)
    assert NO_VALID_HOST in str(outcome.error) and "ERROR" in str(outcome.error)
    (server,) = openstack_fake.server_by_name("big")
    assert provider.info("big")["status"] == "error"
    assert provider.info("big")["state"] == "ERROR"
    assert not openstack_fake.floatingips  # nothing allocated for a server that failed
    assert server["status"] == "ERROR"


def test_wrong_password_is_a_credential_error_without_the_password(
        cms_home: Path, openstack_fake: FakeOpenStack):
    wrong = "Wr0ng-" + secrets.token_urlsafe(12)
    spec = cloud_spec(openstack_fake)
    spec["credentials"]["password"] = wrong
    write_config(cms_home, {"os": spec}, default="os")
    for args in (("vm", "list", "--cloud=os"), ("--debug", "vm", "list", "--cloud=os")):
        result = cms_here(*args)
        assert result.code == 4, result
        assert "Keystone refused the credentials" in result.err
        assert wrong not in result.out + result.err
    assert openstack_fake.password not in result.out + result.err


def test_application_credential(cms_home: Path, openstack_fake: FakeOpenStack):
    secret = secrets.token_urlsafe(16)
    openstack_fake.app_credentials["ac-1"] = secret
    spec = {"cm": {"kind": "openstack"},
            "credentials": {"auth_url": openstack_fake.auth_url, "region_name": "RegionOne",
                            "application_credential_id": "ac-1",
                            "application_credential_secret": secret}}
    write_config(cms_home, {"ac": spec, "bad": {**spec, "credentials": {
        **spec["credentials"], "application_credential_secret": "x" + secret}}})
    assert [f["name"] for f in Provider("ac").flavors()][0] == "m1.tiny"
    with pytest.raises(CredentialError):
        Provider("bad").flavors()


def test_clouds_yaml_entry(cms_home: Path, openstack_fake: FakeOpenStack, tmp_path: Path,
                           monkeypatch: pytest.MonkeyPatch):
    clouds = tmp_path / "clouds.yaml"
    auth = {"auth_url": openstack_fake.auth_url, "username": "demo",
            "password": openstack_fake.password, "project_name": "demo",
            "user_domain_name": "Default", "project_domain_name": "Default"}
    wrong = dict(auth, password="Wr0ng-" + secrets.token_urlsafe(12))
    far = dict(auth, auth_url="http://192.0.2.10:5000/v3")
    clouds.write_text(yaml.safe_dump({"clouds": {
        "lab": {"auth": auth, "region_name": "RegionOne"},
        "lab-wrong": {"auth": wrong, "region_name": "RegionOne"},
        "lab-far": {"auth": far, "region_name": "RegionOne"}}}))
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(clouds))
    write_config(cms_home, {name: {"cm": {"kind": "openstack"},
                                   "credentials": {"cloud": name},
                                   "default": {"image": IMAGE, "flavor": FLAVOR}}
                            for name in ("lab", "lab-wrong", "lab-far", "lab-none")})
    (vm,) = boot(Provider("lab"), "from-yaml")
    assert vm["public_ips"][0].startswith("127.0.2.")
    with pytest.raises(ConfigError, match="plain http"):
        Provider("lab-far").flavors()
    with pytest.raises(ConfigError, match="lab-none"):
        Provider("lab-none").flavors()
    for args in (("flavor", "list", "--cloud=lab-wrong"),
                 ("--debug", "flavor", "list", "--cloud=lab-wrong")):
        result = cms_here(*args)
        assert result.code == 4 and "Keystone refused" in result.err, result
        assert wrong["password"] not in result.out + result.err


def test_destroy_releases_only_the_floating_ip_cms_allocated(
        os_cloud: str, openstack_fake: FakeOpenStack):
    held = openstack_fake.add_floating_ip(description="the project's own")
    provider = Provider(os_cloud)
    (vm,) = boot(provider, "fip", wait=True, timeout=30)
    assert vm["public_ips"] and held["floating_ip_address"] not in vm["public_ips"]
    assert len(openstack_fake.floatingips) == 2
    (outcome,) = provider.act("destroy", "fip")
    assert outcome.ok and outcome.result["status"] == "terminated"
    assert list(openstack_fake.floatingips) == [held["id"]]
    assert not openstack_fake.server_by_name("fip")


def test_no_public_ip_allocates_none(os_cloud: str, openstack_fake: FakeOpenStack):
    (vm,) = boot(Provider(os_cloud), "private-only", public_ip=False)
    assert vm["public_ips"] == [] and vm["private_ips"][0].startswith("127.0.1.")
    assert not openstack_fake.floatingips


def test_network_choice(os_cloud: str, openstack_fake: FakeOpenStack):
    openstack_fake.add_network("lab", "127.0.3.0/24")
    provider = Provider(os_cloud)
    (outcome,) = provider.boot(names="n1", image=IMAGE, flavor=FLAVOR)
    assert isinstance(outcome.error, UsageError)
    assert "lab, private" in str(outcome.error) and "public" not in str(outcome.error)
    (vm,) = boot(provider, "n2", network="lab")
    assert vm["private_ips"][0].startswith("127.0.3.")
    (outcome,) = provider.boot(names="n3", image=IMAGE, flavor=FLAVOR, network="public")
    assert isinstance(outcome.error, UsageError) and "external" in str(outcome.error)
    assert not openstack_fake.server_by_name("n1") and not openstack_fake.server_by_name("n3")


def test_a_network_without_a_router_gets_no_floating_ip(os_cloud: str,
                                                        openstack_fake: FakeOpenStack):
    openstack_fake.add_network("isolated", "127.0.4.0/24", routed=False)
    provider = Provider(os_cloud)
    (outcome,) = provider.boot(names="iso", image=IMAGE, flavor=FLAVOR, network="isolated")
    assert isinstance(outcome.error, CloudError)
    assert "got no floating IP" in str(outcome.error) and "not reachable" in str(outcome.error)
    assert not openstack_fake.floatingips
    (vm,) = boot(provider, "iso2", network="isolated", public_ip=False)
    assert vm["private_ips"][0].startswith("127.0.4.")


def test_an_older_nova_negotiates_its_microversion(os_cloud: str,
                                                   openstack_fake: FakeOpenStack):
    openstack_fake.max_microversion = (2, 38)   # Newton: no embedded flavor before 2.47
    provider = Provider(os_cloud)
    (vm,) = boot(provider, "old", public_ip=False, wait=True, timeout=30)
    assert vm["flavor"] == FLAVOR and "flavor_id" not in vm["native"]
    assert provider.list()[0]["flavor"] == FLAVOR
    versions = {h for _, h in openstack_fake.seen_microversions}
    assert versions and max(versions, key=lambda v: tuple(map(int, v.split(".")))) == "2.38"


def test_images_by_name_or_id(os_cloud: str, openstack_fake: FakeOpenStack):
    openstack_fake.image_page = 2  # Glance pages with its "next" link
    provider = Provider(os_cloud)
    images = provider.images()
    assert {i["name"] for i in images} == {"cirros-0.6.2-x86_64-disk", "ubuntu-24.04",
                                           "debian-12"}
    ubuntu = provider.image("ubuntu-24.04")
    assert ubuntu["os"] == "ubuntu" and ubuntu["version"] == "24.04"
    assert provider.provider.resolve_image(ubuntu["id"])["name"] == "ubuntu-24.04"
    newer = openstack_fake.add_image("ubuntu-24.04", os_distro="ubuntu", os_version="24.04.1")
    assert provider.image("ubuntu-24.04")["id"] == newer["id"]  # the newest of one name


def test_errors_carry_novas_message(os_cloud: str, openstack_fake: FakeOpenStack):
    provider = Provider(os_cloud)
    boot(provider, "busy", public_ip=False, wait=True, timeout=30)
    assert provider.act("stop", "busy")[0].ok
    provider.wait("busy", "stopped", timeout=10, interval=0.05)
    (outcome,) = provider.act("stop", "busy")
    assert isinstance(outcome.error, CloudError) and not outcome.error.retryable
    assert "Cannot 'stop' instance" in str(outcome.error)
    assert "vm_state stopped" in str(outcome.error)


def test_duplicate_names_need_the_id(os_cloud: str, openstack_fake: FakeOpenStack):
    import openstack

    provider = Provider(os_cloud)
    (vm,) = boot(provider, "twin", public_ip=False)
    conn = openstack.connection.Connection(
        auth_url=openstack_fake.auth_url, username="demo", password=openstack_fake.password,
        project_name="demo", user_domain_name="Default", project_domain_name="Default",
        region_name="RegionOne")
    conn.compute.create_server(name="twin", image_id=vm["image"], flavor_id="1",
                               networks=[{"uuid": openstack_fake.tenant_network["id"]}])
    with pytest.raises(UsageError, match="use the id"):
        provider.info("twin")
    assert provider.info(vm["id"])["id"] == vm["id"]


def test_metadata_userdata_and_zone(os_cloud: str, openstack_fake: FakeOpenStack):
    import base64

    provider = Provider(os_cloud)
    (vm,) = boot(provider, "meta", public_ip=False, metadata={"project": "x"},
                 userdata="#cloud-config\npackages: [htop]\n", zone="az-2")
    assert vm["zone"] == "az-2"
    provider.provider.metadata_set("meta", {"owner": "alice"})
    assert provider.info("meta")["metadata"] == {"project": "x", "owner": "alice"}
    (server,) = openstack_fake.server_by_name("meta")
    # the login the key is for is kept on the server (the record's username)
    assert server["metadata"] == {"project": "x", "owner": "alice", "cms-user": "ubuntu"}
    assert provider.info("meta")["username"] == "ubuntu"
    assert base64.b64decode(server["_user_data"]).decode() == "#cloud-config\npackages: [htop]\n"


def test_http_auth_url_to_another_host_is_refused(cms_home: Path,
                                                  openstack_fake: FakeOpenStack):
    write_config(cms_home, {"far": cloud_spec(openstack_fake, "http://192.0.2.10/v3")})
    with pytest.raises(ConfigError):
        Provider("far").flavors()
    assert not openstack_fake.calls


def test_wrong_region_and_unreachable_keystone(cms_home: Path, openstack_fake: FakeOpenStack):
    nowhere = cloud_spec(openstack_fake)
    nowhere["credentials"]["region_name"] = "Nowhere"
    down = cloud_spec(openstack_fake, "http://127.0.0.1:9/identity/v3")
    down["cm"].update(timeout=2, retries=1)
    write_config(cms_home, {"nowhere": nowhere, "down": down})
    assert_one_line_error(cms_here("vm", "list", "--cloud=nowhere"), 4, "Nowhere",
                          "credentials.region_name")
    assert_one_line_error(cms_here("vm", "list", "--cloud=down"), 1, "cannot reach OpenStack",
                          "http://127.0.0.1:9/identity/v3/auth/tokens")


def test_plain_http_catalog_to_another_host_is_refused(os_cloud: str,
                                                       openstack_fake: FakeOpenStack):
    openstack_fake.catalog_base = "http://192.0.2.10:8774"
    with pytest.raises(ConfigError, match="compute endpoint in the Keystone catalog"):
        Provider(os_cloud).list()
    assert [c for c in openstack_fake.calls if c[1].startswith("/identity")] == [
        ("POST", "/identity/v3/auth/tokens")]  # /v3 in auth_url: no discovery


def test_cli_tour(os_cloud: str, openstack_fake: FakeOpenStack, tmp_path: Path):
    """cms vm boot/list/delete, image list, flavor list, key upload and secgroup upload as
    a user runs them."""
    from cloudmesh.compute.keys import generate_ed25519

    public = generate_ed25519(tmp_path / "tour", "tour")["public_key"]
    (tmp_path / "tour.pub").write_text(public + "\n")
    assert cms_here("key", "add", "tour", f"--source={tmp_path / 'tour.pub'}").code == 0
    upload = cms_here("key", "upload", "tour", "--cloud=os")
    assert upload.code == 0, upload
    assert openstack_fake.keypairs["tour"]["public_key"] == public
    assert cms_here("secgroup", "add", "web").code == 0
    assert cms_here("secgroup", "rule", "add", "web", "tcp", "80", "0.0.0.0/0").code == 0
    uploaded = cms_here("secgroup", "upload", "web", "--cloud=os")
    assert uploaded.code == 0, uploaded
    (group,) = [g for g in openstack_fake.security_groups.values() if g["name"] == "web"]
    assert [(r["protocol"], r["port_range_min"]) for r in openstack_fake.rules.values()
            if r["security_group_id"] == group["id"] and r["direction"] == "ingress"] == [
        ("tcp", 80)]
    booted = cms_here("vm", "boot", "--name=tour1", "--key=tour", "--secgroup=web", "--wait",
                     "--output=json")
    assert booted.code == 0, booted
    (server,) = openstack_fake.server_by_name("tour1")
    assert server["key_name"] == "tour" and server["_secgroup_names"] == ["web"]
    listed = cms_here("vm", "list", "--output=json")
    assert listed.code == 0, listed
    (record,) = listed.json()
    assert record["status"] == "running" and record["public_ips"][0].startswith("127.0.2.")
    info = cms_here("vm", "info", "tour1", "--output=json")
    assert info.code == 0, info
    # booted with --key and no --username: the record names the image's login
    assert (info.json()["key"], info.json()["username"]) == ("tour", "ubuntu")
    images = cms_here("image", "list", "--output=json")
    assert IMAGE in {i["name"] for i in images.json()}, images
    flavors = cms_here("flavor", "list", "--output=json")
    assert FLAVOR in {f["name"] for f in flavors.json()}, flavors
    deleted = cms_here("vm", "delete", "tour1", "--yes", "--wait")
    assert deleted.code == 0, deleted
    assert not openstack_fake.server_by_name("tour1") and not openstack_fake.floatingips


def test_failure_after_the_server_exists_is_not_retried_into_success(
        cms_home: Path, openstack_fake: FakeOpenStack):
    """Nova has no idempotency token, so the facade looks for a VM before it boots again.
    A server that was created but could not be followed through BUILD must be reported,
    not found by that look and called booted."""
    import threading
    import time

    proxy = FaultProxy(target=openstack_fake.url)
    url = proxy.start()
    openstack_fake.public_url = url
    openstack_fake.build_seconds = 0.5  # time for the watcher to break the polls
    spec = cloud_spec(openstack_fake, f"{url}/identity/v3")
    spec["cm"].update(retries=1, timeout=5)
    write_config(cms_home, {"osf": spec})
    body = json.dumps({"computeFault": {"code": 503, "message": "Service Unavailable"}})

    def break_polling() -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not openstack_fake.server_by_name("half"):
            time.sleep(0.005)
        for server in openstack_fake.server_by_name("half"):
            proxy.add("status", f"/servers/{server['id']} ", times=1000, status=503,
                      body=body.encode())

    watcher = threading.Thread(target=break_polling)
    watcher.start()
    try:
        (outcome,) = Provider("osf").boot(names="half", image=IMAGE, flavor=FLAVOR)
    finally:
        watcher.join()
        proxy.stop()
    assert isinstance(outcome.error, CloudError) and not outcome.error.retryable
    assert "was created" in str(outcome.error)
    assert len(openstack_fake.server_by_name("half")) == 1
    assert len(proxy.requests("POST /compute/v2.1/servers ")) == 1


def test_destroy_names_what_it_could_not_remove(cms_home: Path, openstack_fake: FakeOpenStack):
    proxy = FaultProxy(target=openstack_fake.url)
    url = proxy.start()
    openstack_fake.public_url = url
    spec = cloud_spec(openstack_fake, f"{url}/identity/v3")
    spec["cm"].update(retries=1, timeout=5)
    write_config(cms_home, {"osf": spec})
    provider = Provider("osf")
    (vm,) = boot(provider, "stuck")
    body = json.dumps({"NeutronError": {"type": "HTTPInternalServerError", "detail": "",
                                        "message": "Request Failed: internal server error"}})
    proxy.add("status", "DELETE /network/v2.0/floatingips/*", times=100, status=500,
              body=body.encode())
    try:
        (outcome,) = provider.act("destroy", "stuck")
    finally:
        proxy.stop()
    assert isinstance(outcome.error, CloudError)
    assert f"floating IP {vm['public_ips'][0]}" in str(outcome.error)
    assert "internal server error" in str(outcome.error)
    assert not openstack_fake.server_by_name("stuck")  # the server itself is gone
    assert len(openstack_fake.floatingips) == 1


def test_list_imports_only_its_own_sdk(os_cloud: str) -> None:
    from test_laziness import assert_list_imports_only

    assert_list_imports_only(os_cloud, {"openstack", "keystoneauth1"})


def test_a_vm_named_in_the_web_console_is_found_by_its_exact_name(
        os_cloud: str, openstack_fake: FakeOpenStack):
    """Nova allows spaces and regex characters in names; cms finds "Test Server (2)" by
    exactly that name, in every verb, and its login from the image (os_distro)."""
    provider = Provider(os_cloud)
    (vm,) = boot(provider, "plain", public_ip=False)
    server = openstack_fake.servers[vm["id"]]
    server["name"] = "Test Server (2)"
    server["metadata"].pop("cms-user")  # as if made in Horizon
    assert provider.info("Test Server (2)")["id"] == vm["id"]
    assert provider.info("Test Server (2)")["username"] == "ubuntu"  # ubuntu-24.04
    provider.provider.reboot("Test Server (2)")
    assert openstack_fake.reboots[vm["id"]] == 1


def test_image_list_all_builds_adds_the_hidden_ones(os_cloud: str,
                                                    openstack_fake: FakeOpenStack):
    openstack_fake.add_image("ubuntu-24.04-20240101", os_hidden=True, os_distro="ubuntu",
                             architecture="aarch64")
    provider = Provider(os_cloud).provider
    assert "ubuntu-24.04-20240101" not in {i["name"] for i in provider.images()}
    every = {i["name"]: i for i in provider.images(all_builds=True)}
    assert every["ubuntu-24.04-20240101"]["arch"] == "aarch64"
    assert IMAGE in every


def test_poll_interval_is_a_declared_setting(cms_home: Path, openstack_fake: FakeOpenStack):
    """default.poll_interval (the longest pause between two polls of a server) is a number
    the kind declares: the tests' clouds set it, and text that is no number is refused."""
    write_config(cms_home, {"os": cloud_spec(openstack_fake, poll_interval=0.05),
                            "soon": cloud_spec(openstack_fake, poll_interval="soon")})
    assert Provider("os").provider.poll_interval == 0.05
    with pytest.raises(ConfigError, match="default.poll_interval must be a number"):
        Provider("soon").flavors()

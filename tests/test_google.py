"""The google provider against the fake Compute Engine (tests/fakes/google) through the
real google-cloud-compute client: the conformance suite, the fault suite, and GCE's own
ways (paging, operations that fail, image notations, firewall groups, ssh-keys,
credentials, UTC times, the endpoint every request goes to)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cloudmesh.compute import Provider
from cloudmesh.compute.errors import (CloudError, ConfigError, CredentialError, NotFound,
                                      UsageError)
from cloudmesh.compute.testing import ComputeProviderSuite, assert_vm_record
from cloudmesh.compute.testing.faults import FaultSetup, FaultSuite
from cloudmesh.compute.testing.faultproxy import FaultProxy
from cloudmesh.compute.testing.fixtures import write_config
from conftest import cms_here
from fakes.google import GoogleFake
from fakes.google.harness import FLAVOR, IMAGE, cloud_spec



def google_spec(endpoint: str, token: str, **default: Any) -> dict[str, Any]:
    """The fake's cloud entry, polling operations at most 0.05 s apart (the fake's take
    0.05 s; the default pause grows to 2 s, as fits GCE's operations of seconds)."""
    return cloud_spec(endpoint, token, **{"poll_interval": 0.05, **default})


@pytest.fixture(scope="module")
def fake_server():
    """One fake for the module (started once; each test gets it reset by ``fake``)."""
    server = GoogleFake(delay=0.05)
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
def gce(cms_home: Path, fake: GoogleFake) -> str:
    """A configured cloud 'gce' of kind google on the fake, the default cloud."""
    write_config(cms_home, {"gce": google_spec(fake.url, fake.token)}, default="gce")
    return "gce"


class TestGoogleConformance(ComputeProviderSuite):
    image = "debian-12-bookworm-v20251111"  # the suite looks it up by name or id
    flavor = FLAVOR
    timeout = 30
    interval = 0.05

    @pytest.fixture
    def cloud(self, gce: str, fake: GoogleFake) -> str:
        self.fake = fake
        return gce

    def delivered_keys(self, provider: Provider, vm: dict[str, Any]) -> list[str]:
        """The public keys the boot request put into the instance's ssh-keys metadata,
        read back from the fake."""
        return self.fake.ssh_keys(vm["name"])

    def reboot_count(self, cloud_name: str, vm: dict) -> int:
        """instances.reset calls the fake accepted for this VM."""
        return self.fake.reboot_count(vm.get("id") or vm["name"])

    def bad_credentials(self, spec: dict) -> dict:
        """The entry with an access token the fake refuses with GCE's 401."""
        return {**spec, "credentials": {**spec["credentials"],
                                        "access_token": "ya29.refused-" + "x" * 20}}


class TestGoogleFaults(FaultSuite):
    image = IMAGE
    flavor = FLAVOR
    bound_seconds = 30

    @pytest.fixture
    def faulty(self, cms_home: Path, fake: GoogleFake) -> FaultSetup:
        proxy = FaultProxy(target=fake.url)
        url = proxy.start()
        write_config(cms_home, {"gce": google_spec(url, fake.token)}, default="gce")
        body = json.dumps({"error": {"code": 503, "message": "The service is currently "
                                     "unavailable.", "errors": [{
                                         "message": "The service is currently unavailable.",
                                         "domain": "global", "reason": "backendError"}]}})
        yield FaultSetup(cloud="gce", proxy=proxy, list_match="/aggregated/instances",
                         create_match="POST /compute/v1/projects/cms-test/zones/us-central1-a/instances?",
                         transient=lambda: {"status": 503, "body": body.encode()})
        proxy.stop()


def boot(provider: Provider, name: str, **options: Any) -> dict[str, Any]:
    (outcome,) = provider.boot(names=name, image=IMAGE, flavor=FLAVOR, **options)
    assert outcome.ok, outcome.error
    return outcome.result


# ---- lists ----------------------------------------------------------------------------
def test_list_pages_across_zones(gce: str, fake: GoogleFake) -> None:
    fake.add_instances(23)
    fake.state.max_page = 5
    records = Provider(gce).list()
    assert sorted(r["name"] for r in records) == [f"bulk-{n:05d}" for n in range(23)]
    assert {r["zone"] for r in records} == set(fake.state.zones)
    pages = [p for _, p in fake.requests if "/aggregated/instances" in p]
    assert len(pages) == 5 and all("pageToken=" in p for p in pages[1:])
    for record in records:
        assert_vm_record(record, gce, "google")


def test_record_fields(gce: str, fake: GoogleFake) -> None:
    vm = boot(Provider(gce), "rec1", metadata={"team": "blue"})
    assert vm["flavor"] == "e2-micro" and vm["zone"] == "us-central1-a"
    assert vm["region"] == "us-central1"
    assert vm["image"] == "debian-12-bookworm-v20251111"
    assert vm["public_ips"][0].startswith("127.") and vm["private_ips"][0].startswith("10.")
    assert vm["metadata"]["team"] == "blue"
    assert "ssh-keys" not in vm["metadata"] and "cms-image" not in vm["metadata"]
    raw = fake.instance("rec1")
    assert raw["creationTimestamp"][-6:] in ("-08:00", "-07:00")  # GCE answers in Pacific
    assert vm["created"].endswith("Z")  # cms in UTC
    from datetime import datetime

    pacific = datetime.fromisoformat(raw["creationTimestamp"]).replace(microsecond=0)
    assert pacific == datetime.fromisoformat(vm["created"].replace("Z", "+00:00"))


def test_stopped_vm_has_no_public_address(gce: str, fake: GoogleFake) -> None:
    provider = Provider(gce)
    boot(provider, "stop1")
    (outcome,) = provider.act("stop", "stop1")
    assert outcome.ok, outcome.error
    assert outcome.result["status"] == "stopped" and outcome.result["state"] == "TERMINATED"
    assert outcome.result["public_ips"] == [] and outcome.result["private_ips"]
    assert fake.instance("stop1")["networkInterfaces"][0]["accessConfigs"]


def test_no_public_ip(cms_home: Path, fake: GoogleFake) -> None:
    write_config(cms_home, {"gce": google_spec(fake.url, fake.token, public_ip=False)},
                 default="gce")
    vm = boot(Provider("gce"), "private1")
    assert vm["public_ips"] == []
    assert "accessConfigs" not in fake.instance("private1")["networkInterfaces"][0]


# ---- boot -----------------------------------------------------------------------------
def test_boot_request_is_what_gce_expects(gce: str, fake: GoogleFake, tmp_path: Path) -> None:
    from cloudmesh.compute.keys import generate_ed25519

    provider = Provider(gce)
    key = generate_ed25519(tmp_path / "k1", "test")
    provider.state.key_put({**key, "name": "k1"})
    vm = boot(provider, "req1", key="k1")
    raw = fake.instance("req1")
    assert raw["machineType"].endswith("/zones/us-central1-a/machineTypes/e2-micro")
    disk = raw["disks"][0]
    assert disk["boot"] and disk["autoDelete"]
    assert fake.state.disks[("us-central1-a", "req1")]["sourceImage"].endswith(
        "/projects/debian-cloud/global/images/debian-12-bookworm-v20251111")
    inserts = [p for m, p in fake.requests if m == "POST" and p.startswith(
        "/compute/v1/projects/cms-test/zones/us-central1-a/instances?")]
    assert len(inserts) == 1 and "requestId=" in inserts[0]
    items = {i["key"]: i["value"] for i in raw["metadata"]["items"]}
    login = provider.provider.default_username
    assert items["ssh-keys"] == f"{login}:{key['public_key']}"
    assert fake.ssh_keys("req1") == [key["public_key"]]
    assert vm["key"] == "k1" and vm["username"] == login and "username" not in vm["metadata"]
    assert vm["status"] in ("running", "booting")


def test_secgroups_become_network_tags(gce: str, fake: GoogleFake) -> None:
    provider = Provider(gce)
    provider.provider.secgroup_create("web", "web servers")
    vm = boot(provider, "tagged1", secgroups="web")
    assert fake.instance("tagged1")["tags"]["items"] == ["web"]
    assert vm["secgroups"] == ["web"]


def test_upper_case_name_is_refused_before_any_request(gce: str, fake: GoogleFake) -> None:
    provider = Provider(gce)
    before = len(fake.requests)
    with pytest.raises(UsageError, match="not a valid Compute Engine instance name"):
        provider.boot(names="Web1", image=IMAGE, flavor=FLAVOR)
    for bad in ("1abc", "a" * 64, "ends-", "under_score"):
        with pytest.raises(UsageError):
            provider.provider.check_name(bad)
    provider.provider.check_name("a" * 63)
    assert len(fake.requests) == before


def test_failed_operation_carries_gces_message(gce: str, fake: GoogleFake) -> None:
    fake.state.cpu_quota = 2  # one e2-micro fits
    provider = Provider(gce)
    boot(provider, "fits1")
    (outcome,) = provider.boot(names="toomany1", image=IMAGE, flavor=FLAVOR)
    assert isinstance(outcome.error, CloudError)
    assert "QUOTA_EXCEEDED" in str(outcome.error)
    assert "Quota 'CPUS' exceeded" in str(outcome.error)
    assert fake.instance("toomany1") is None


def test_failed_stop_operation(gce: str, fake: GoogleFake) -> None:
    provider = Provider(gce)
    boot(provider, "stuck1")
    fake.fail_next("stop", "RESOURCE_OPERATION_RATE_EXCEEDED",
                   "Operation rate exceeded for resource 'stuck1'.", 403)
    (outcome,) = provider.act("stop", "stuck1")
    assert isinstance(outcome.error, CloudError)
    assert "Operation rate exceeded" in str(outcome.error)


def test_operations_are_polled_through_the_configured_endpoint(gce: str,
                                                               fake: GoogleFake) -> None:
    provider = Provider(gce)
    boot(provider, "poll1")
    provider.act("stop", "poll1")
    polls = [p for _, p in fake.requests if "/operations/" in p]
    assert polls, "the operations were not polled through the fake"
    assert not fake.unauthorized


def test_destroy_removes_the_boot_disk(gce: str, fake: GoogleFake) -> None:
    provider = Provider(gce)
    boot(provider, "gone1")
    assert "us-central1-a/gone1" in fake.disks()
    (outcome,) = provider.act("destroy", "gone1")
    assert outcome.ok, outcome.error
    assert outcome.result["status"] == "terminated"
    assert fake.instance("gone1") is None and "us-central1-a/gone1" not in fake.disks()


def test_destroy_removes_a_boot_disk_gce_left(gce: str, fake: GoogleFake) -> None:
    provider = Provider(gce)
    boot(provider, "left1")
    fake.state.keep_disks = True  # GCE did not auto-delete it
    (outcome,) = provider.act("destroy", "left1")
    assert outcome.ok, outcome.error
    assert "us-central1-a/left1" not in fake.disks()


def test_destroy_names_a_disk_it_could_not_remove(gce: str, fake: GoogleFake) -> None:
    provider = Provider(gce)
    boot(provider, "sticky1")
    fake.state.keep_disks = True
    fake.fail_next("delete disks", "RESOURCE_IN_USE_BY_ANOTHER_RESOURCE",
                   "The disk is in use by a snapshot schedule.", 400)
    (outcome,) = provider.act("destroy", "sticky1")
    assert isinstance(outcome.error, CloudError)
    assert "disk sticky1" in str(outcome.error) and "in use" in str(outcome.error)
    assert fake.instance("sticky1") is None and "us-central1-a/sticky1" in fake.disks()


def test_destroy_keeps_disks_create_did_not_make(gce: str, fake: GoogleFake) -> None:
    provider = Provider(gce)
    boot(provider, "own1")
    with fake.state.lock:  # a disk the user set to outlive the instance
        fake.state.instances[("us-central1-a", "own1")]["disks"][0]["autoDelete"] = False
    (outcome,) = provider.act("destroy", "own1")
    assert outcome.ok and "us-central1-a/own1" in fake.disks()


def test_vm_in_another_zone_is_found(gce: str, fake: GoogleFake) -> None:
    fake.add_instances(1, zone="europe-west1-b", prefix="far")
    provider = Provider(gce)
    vm = provider.info("far-00000")
    assert vm["zone"] == "europe-west1-b"
    (outcome,) = provider.act("stop", "far-00000")
    assert outcome.ok, outcome.error
    assert fake.instance("far-00000")["status"] == "TERMINATED"
    assert provider.info(vm["id"])["name"] == "far-00000"  # by numeric id too


def test_suspend_and_start_resumes(gce: str, fake: GoogleFake) -> None:
    provider = Provider(gce)
    boot(provider, "nap1")
    (outcome,) = provider.act("suspend", "nap1")
    assert outcome.result["status"] == "suspended"
    (outcome,) = provider.act("start", "nap1")  # GCE wants resume for a suspended VM
    assert outcome.ok, outcome.error
    assert outcome.result["status"] == "running"


# ---- images and flavors ---------------------------------------------------------------
def test_images_newest_of_each_family(gce: str) -> None:
    images = Provider(gce).provider.images()
    names = {i["name"] for i in images}
    assert "debian-12-bookworm-v20251111" in names
    assert "debian-12-bookworm-v20251014" not in names  # deprecated, older
    assert {i["native"]["project"] for i in images} == {"ubuntu-os-cloud", "debian-cloud",
                                                        "rocky-linux-cloud"}
    for image in images:
        assert image["created"].endswith("Z")


def test_image_projects_come_from_the_default_block(cms_home: Path, fake: GoogleFake) -> None:
    write_config(cms_home, {"gce": google_spec(fake.url, fake.token,
                                               image_projects=["debian-cloud"])})
    images = Provider("gce").provider.images()
    assert {i["native"]["project"] for i in images} == {"debian-cloud"}


@pytest.mark.parametrize("ref, expected", [
    ("debian-12-bookworm-v20251014", "debian-12-bookworm-v20251014"),
    ("family/debian-12", "debian-12-bookworm-v20251111"),
    ("ubuntu-2404-lts-amd64", "ubuntu-2404-noble-amd64-v20251101"),
    ("projects/rocky-linux-cloud/global/images/rocky-linux-9-v20251105",
     "rocky-linux-9-v20251105"),
    ("projects/debian-cloud/global/images/family/debian-11", "debian-11-bullseye-v20251111"),
    ("https://www.googleapis.com/compute/v1/projects/ubuntu-os-cloud/global/images/"
     "ubuntu-2204-jammy-v20251015", "ubuntu-2204-jammy-v20251015"),
])
def test_image_notations(gce: str, ref: str, expected: str) -> None:
    image = Provider(gce).provider.resolve_image(ref)
    assert image["name"] == expected
    assert image["id"].startswith("projects/") and image["id"].endswith(expected)


def test_unknown_image_notations(gce: str) -> None:
    provider = Provider(gce).provider
    for ref in ("family/nothing", "projects/debian-cloud/global/images/nope", "No Such"):
        with pytest.raises(NotFound):
            provider.resolve_image(ref)


def test_flavors_are_the_zones_machine_types(gce: str) -> None:
    flavors = {f["name"]: f for f in Provider(gce).provider.flavors()}
    assert flavors["e2-medium"]["vcpus"] == 2 and flavors["e2-medium"]["ram_mb"] == 4096
    assert Provider(gce).provider.flavor("zones/us-central1-a/machineTypes/n1-standard-1")[
        "ram_mb"] == 3840


# ---- keys and security groups ---------------------------------------------------------
def test_keys_are_project_ssh_keys(gce: str, fake: GoogleFake, tmp_path: Path) -> None:
    from cloudmesh.compute.keys import fingerprint, generate_ed25519

    provider = Provider(gce).provider
    public = generate_ed25519(tmp_path / "alice", "alice@test")["public_key"]
    record = provider.key_upload("alice", public)
    assert record["fingerprint"] == fingerprint(public)
    assert fake.project_ssh_keys() == [f"alice:{public.strip()}"]
    assert [k["name"] for k in provider.keys()] == ["alice"]
    writes = sum("setCommonInstanceMetadata" in p for _, p in fake.requests)
    provider.key_upload("alice", public)  # the same key again: nothing changes
    assert len(fake.project_ssh_keys()) == 1
    assert sum("setCommonInstanceMetadata" in p for _, p in fake.requests) == writes
    other = generate_ed25519(tmp_path / "other", "x")["public_key"]
    with pytest.raises(CloudError, match="already has a key .alice. .SHA256:"):
        provider.key_upload("alice", other)
    provider.key_delete("alice")
    assert fake.project_ssh_keys() == []
    with pytest.raises(NotFound):
        provider.key_delete("alice")


def test_stale_metadata_fingerprint_is_read_again(gce: str, fake: GoogleFake,
                                                  tmp_path: Path) -> None:
    from cloudmesh.compute.keys import generate_ed25519

    provider = Provider(gce).provider
    real_get = provider._project_metadata
    calls = []

    def racing():  # another writer changes the metadata between our read and write
        answer = real_get()
        if not calls:
            with fake.state.lock:
                fake.state.common_metadata["fingerprint"] = "changed-by-someone-else"
        calls.append(answer)
        return answer

    provider._project_metadata = racing
    public = generate_ed25519(tmp_path / "bob", "bob")["public_key"]
    provider.key_upload("bob", public)
    assert len(calls) >= 2
    assert any(r[0] == "POST" and "setCommonInstanceMetadata" in r[1] for r in fake.requests)


def test_secgroups_are_firewall_rules_by_target_tag(gce: str, fake: GoogleFake) -> None:
    provider = Provider(gce).provider
    provider.secgroup_create("web", "web servers")
    rules = [{"direction": "ingress", "protocol": "tcp", "from_port": 80, "to_port": 80,
              "cidr": "0.0.0.0/0"},
             {"direction": "ingress", "protocol": "tcp", "from_port": 8000, "to_port": 8080,
              "cidr": "10.0.0.0/8"},
             {"direction": "ingress", "protocol": "icmp", "from_port": None, "to_port": None,
              "cidr": "0.0.0.0/0"}]
    provider.secgroup_add_rules("web", rules)
    (web,) = [g for g in provider.secgroups() if g["name"] == "web"]
    assert web["description"] == "web servers"
    assert sorted(web["rules"], key=str) == sorted(rules, key=str)
    tagged = [f for f in fake.state.firewalls.values() if f.get("targetTags") == ["web"]]
    assert len(tagged) == 4 and sum(f["disabled"] for f in tagged) == 1
    assert any(f.get("allowed") == [{"IPProtocol": "tcp", "ports": ["8000-8080"]}]
               for f in tagged)
    egress = {"direction": "egress", "protocol": "tcp", "from_port": 443, "to_port": 443,
              "cidr": "10.1.0.0/16"}
    provider.secgroup_add_rules("web", [egress])
    provider.secgroup_remove_rules("web", rules[:1])
    (web,) = [g for g in provider.secgroups() if g["name"] == "web"]
    assert sorted(web["rules"], key=str) == sorted(rules[1:] + [egress], key=str)
    provider.secgroup_delete("web")
    assert "web" not in {g["name"] for g in provider.secgroups()}
    assert "default-allow-ssh" in fake.state.firewalls  # the network's own rules stay


# ---- credentials and endpoints --------------------------------------------------------
def test_wrong_token_is_a_credential_error_without_the_secret(cms_home: Path,
                                                              fake: GoogleFake) -> None:
    secret = "ya29.wrong-" + "s3cr3t" * 4
    write_config(cms_home, {"gce": google_spec(fake.url, secret)}, default="gce")
    with pytest.raises(CredentialError):
        Provider("gce").list()
    result = cms_here("vm", "list", "--cloud=gce")
    assert result.code == 4, result
    assert secret not in result.out + result.err
    assert "credential" in result.err.lower() or "refused" in result.err.lower()


def test_plain_http_to_another_host_is_refused(cms_home: Path, fake: GoogleFake) -> None:
    write_config(cms_home, {"gce": google_spec("http://compute.example.com", fake.token)})
    with pytest.raises(ConfigError, match="plain http"):
        Provider("gce").list()
    assert fake.requests == []


def service_account_file(fake: GoogleFake, path: Path, token_uri: str | None = None) -> Path:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    email = "robot@cms-test.iam.gserviceaccount.com"
    fake.register_service_account(email, key.public_key())
    path.write_text(json.dumps({
        "type": "service_account", "project_id": "cms-test", "private_key_id": "k1",
        "private_key": key.private_bytes(serialization.Encoding.PEM,
                                         serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption()).decode(),
        "client_email": email, "client_id": "1",
        "token_uri": token_uri or f"{fake.url}/token"}))
    path.chmod(0o600)
    return path


def test_service_account_file(cms_home: Path, fake: GoogleFake, tmp_path: Path) -> None:
    path = service_account_file(fake, tmp_path / "sa.json")
    spec = google_spec(fake.url, "unused")
    del spec["credentials"]["access_token"], spec["credentials"]["project"]
    spec["credentials"]["service_account_file"] = str(path)  # the project comes from it
    write_config(cms_home, {"gce": spec}, default="gce")
    fake.add_instances(2)
    assert len(Provider("gce").list()) == 2
    assert not fake.unauthorized


def test_service_account_token_uri_is_checked(cms_home: Path, fake: GoogleFake,
                                              tmp_path: Path) -> None:
    path = service_account_file(fake, tmp_path / "sa.json",
                                token_uri="http://oauth.example.com/token")
    spec = google_spec(fake.url, "unused")
    del spec["credentials"]["access_token"]
    spec["credentials"]["service_account_file"] = str(path)
    write_config(cms_home, {"gce": spec}, default="gce")
    with pytest.raises(ConfigError, match="token_uri"):
        Provider("gce").list()


def test_no_credentials_at_all(cms_home: Path, fake: GoogleFake, monkeypatch) -> None:
    spec = google_spec(fake.url, "unused")
    del spec["credentials"]["access_token"]
    write_config(cms_home, {"gce": spec}, default="gce")
    # no metadata server probe: google-auth reads NO_GCE_CHECK (only the exact "true")
    # once, at import, so the test process's already imported module is told too
    # (else it pings 169.254.169.254 with backoff: seconds of retries)
    from google.auth.compute_engine import _metadata

    monkeypatch.setenv("NO_GCE_CHECK", "true")
    monkeypatch.setattr(_metadata, "_NO_GCE_CHECK", True)
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(cms_home / "no-gcloud"))
    with pytest.raises(CredentialError, match="no Google credentials"):
        Provider("gce").list()


def test_poll_interval_is_a_declared_number(cms_home: Path, fake: GoogleFake) -> None:
    write_config(cms_home, {"gce": google_spec(fake.url, fake.token, poll_interval=0.5)})
    assert Provider("gce").provider.poll_interval == 0.5
    write_config(cms_home, {"gce": google_spec(fake.url, fake.token, poll_interval="soon")})
    with pytest.raises(ConfigError, match="poll_interval"):
        Provider("gce").list()
    assert fake.requests == []


def test_misspelt_credentials_key(cms_home: Path, fake: GoogleFake) -> None:
    spec = google_spec(fake.url, fake.token)
    spec["credentials"]["zones"] = "us-central1-b"
    write_config(cms_home, {"gce": spec})
    with pytest.raises(ConfigError, match="did you mean 'zone'"):
        Provider("gce").list()


# ---- the cms command ------------------------------------------------------------------
def test_cms_vm_boot_list_delete(gce: str, fake: GoogleFake) -> None:
    result = cms_here("vm", "boot", "--name=cli1", "--cloud=gce")
    assert result.code == 0, result
    result = cms_here("vm", "list", "--cloud=gce", "--output=json")
    assert result.code == 0, result
    (vm,) = result.json()
    assert vm["name"] == "cli1" and vm["kind"] == "google"
    assert vm["created"].endswith("Z")
    result = cms_here("vm", "delete", "cli1", "--cloud=gce")
    assert result.code == 0, result
    assert fake.instance("cli1") is None


def test_cms_unknown_vm_exit_code(gce: str) -> None:
    result = cms_here("vm", "info", "nothere", "--cloud=gce")
    assert result.code == 3, result


def test_cms_image_and_flavor_list(gce: str) -> None:
    result = cms_here("image", "list", "--cloud=gce", "--output=json")
    assert result.code == 0, result
    assert "debian-12-bookworm-v20251111" in {i["name"] for i in result.json()}
    result = cms_here("flavor", "list", "--cloud=gce", "--output=json")
    assert result.code == 0, result
    assert "e2-micro" in {f["name"] for f in result.json()}


def test_no_request_leaves_the_machine(gce: str, fake: GoogleFake) -> None:
    """Every request of a whole VM life went to the fake; the network guard (which
    refuses anything beyond 127.0.0.1, installed in this process by conftest) saw
    nothing else, through the library or through the cms command line."""
    provider = Provider(gce)
    boot(provider, "local1")
    for verb in ("stop", "start", "reboot", "destroy"):
        (outcome,) = provider.act(verb, "local1")
        assert outcome.ok, (verb, outcome.error)
    assert fake.requests and not fake.unauthorized
    result = cms_here("vm", "list", "--cloud=gce")
    assert result.code == 0 and "network guard" not in result.err, result


#: the compute_v1 services each verb may import (a service's client module imports the
#: operations service of its own polling)
SERVICES_OF_VERB = {"list": ["instances", "zone_operations"],
                    "images": ["global_operations", "images"],
                    "flavors": ["machine_types"]}


def test_a_verb_imports_only_the_services_it_needs(gce: str, fake: GoogleFake) -> None:
    """Each verb in a fresh process imports only its services. One interpreter starts
    (cms imported, no SDK yet), loads compute_v1's message types and the generic Google
    libraries every client uses (no service: what is checked is which service modules a
    verb adds; those take about two seconds to load) and forks a child per verb, so each
    verb begins from the same state, without paying three times for all that."""
    code = """if True:
        import json, os, sys
        from cloudmesh.compute import Provider
        assert not [m for m in sys.modules if m.startswith('google.cloud')], 'SDK at start'
        from cloudmesh.google import sdk
        sdk.types()
        import google.api_core.gapic_v1, google.api_core.rest_helpers
        import google.api_core.extended_operation, google.auth.transport.requests
        assert not [m for m in sys.modules if '.services.' in m], 'a service preloaded'
        found = {}
        for verb in sys.argv[1:]:
            read, write = os.pipe()
            sys.stdout.flush()
            child = os.fork()
            if child == 0:  # a fresh cms as far as imports go: nothing of the verb before
                try:
                    os.close(read)
                    getattr(Provider('gce').provider, verb)()
                    names = sorted(m.rsplit('.', 1)[1] for m in sys.modules if m.startswith(
                        'google.cloud.compute_v1.services.') and m.count('.') == 4)
                    os.write(write, json.dumps(names).encode())
                except BaseException:
                    import traceback
                    traceback.print_exc()
                    sys.stderr.flush()
                    os._exit(1)
                os._exit(0)
            os.close(write)
            with os.fdopen(read) as answer:
                found[verb] = json.loads(answer.read() or 'null')
            _, status = os.waitpid(child, 0)
            assert status == 0, (verb, status)
        print(json.dumps(found))
    """
    completed = subprocess.run([sys.executable, "-c", code, *SERVICES_OF_VERB],
                               capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout) == SERVICES_OF_VERB


# ---- error mapping and metadata -------------------------------------------------------
def google_error(status: int, reason: str, message: str) -> bytes:
    return json.dumps({"error": {"code": status, "message": message, "errors": [
        {"message": message, "domain": "global", "reason": reason}]}}).encode()


@pytest.mark.parametrize("status, reason, expected, retryable", [
    (403, "forbidden", CredentialError, False),
    (403, "rateLimitExceeded", CloudError, True),
    (403, "quotaExceeded", CloudError, False),
    (404, "notFound", NotFound, False),
    (429, "rateLimitExceeded", CloudError, True),
    (500, "backendError", CloudError, True),
    (400, "invalid", CloudError, False),
])
def test_error_mapping(cms_home: Path, fake: GoogleFake, status: int, reason: str,
                       expected: type, retryable: bool) -> None:
    proxy = FaultProxy(target=fake.url)
    url = proxy.start()
    try:
        spec = google_spec(url, fake.token)
        spec["cm"].update(retries=1, timeout=5)
        write_config(cms_home, {"gce": spec})
        zone_get = "GET /compute/v1/projects/cms-test/zones/us-central1-a "
        proxy.add("status", zone_get, times=10, status=status,
                  body=google_error(status, reason, f"the cloud says {reason}"))
        provider = Provider("gce").provider
        with pytest.raises(expected) as caught:
            provider.check()  # one zones.get
        assert type(caught.value) is expected
        assert caught.value.retryable is retryable
        assert f"the cloud says {reason}" in str(caught.value)
        tries = len(proxy.requests(zone_get))
        assert tries == (2 if retryable else 1)
    finally:
        proxy.stop()


def test_metadata_set(gce: str, fake: GoogleFake) -> None:
    provider = Provider(gce).provider
    boot(Provider(gce), "meta1")
    assert provider.metadata_set("meta1", {"owner": "alice"})["owner"] == "alice"
    items = {i["key"]: i["value"] for i in fake.instance("meta1")["metadata"]["items"]}
    assert items["owner"] == "alice" and "cms-image" in items  # the others are kept
    with pytest.raises(UsageError):
        provider.metadata_set("meta1", {"ssh-keys": "root:ssh-rsa AAAA"})
    with pytest.raises(UsageError):
        provider.metadata_set("meta1", {"bad key": "x"})


# ---- the mapper over untrusted answers ------------------------------------------------
_text = st.text(max_size=40)
_instances = st.fixed_dictionaries({}, optional={
    "name": _text, "id": st.integers(0, 2 ** 64 - 1), "status": _text, "zone": _text,
    "machine_type": _text, "creation_timestamp": _text,
    "network_interfaces": st.lists(st.fixed_dictionaries({}, optional={
        "network_i_p": _text, "access_configs": st.lists(st.fixed_dictionaries(
            {}, optional={"nat_i_p": _text}), max_size=2)}), max_size=2),
    "metadata": st.fixed_dictionaries({}, optional={"items": st.lists(
        st.fixed_dictionaries({"key": st.sampled_from(["ssh-keys", "cms-key", "cms-image",
                                                       "user-data", "a", "username"]),
                               "value": _text}), max_size=4)}),
    "tags": st.fixed_dictionaries({}, optional={"items": st.lists(_text, max_size=3)}),
})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_instances)
def test_any_instance_maps_to_a_record_or_a_cloud_error(fields: dict) -> None:
    from google.cloud.compute_v1.types import compute

    from cloudmesh.google.compute import Provider as GoogleProvider

    provider = GoogleProvider("gce", {"credentials": {"project": "p", "access_token": "t"}})
    try:
        record = provider._to_vm(compute.Instance(**fields))
    except CloudError:
        assert not fields.get("name")  # only a nameless instance is refused
        return
    assert_vm_record(record, "gce", "google")
    assert record["name"] == fields["name"]
    assert not {"ssh-keys", "cms-key", "cms-image", "user-data"} & set(record["metadata"])


# ---- boot options ---------------------------------------------------------------------
def test_boot_options_reach_the_insert(gce: str, fake: GoogleFake) -> None:
    vm = boot(Provider(gce), "opts1", zone="us-central1-b", disk_gb=30,
              userdata="#cloud-config\npackages: [nginx]\n", network="default",
              subnet="default")
    assert vm["zone"] == "us-central1-b"
    raw = fake.instance("opts1")
    assert raw["disks"][0]["diskSizeGb"] == "30"
    assert raw["networkInterfaces"][0]["network"].endswith("/global/networks/default")
    items = {i["key"]: i["value"] for i in raw["metadata"]["items"]}
    assert items["user-data"].startswith("#cloud-config")
    assert "user-data" not in vm["metadata"]
    (outcome,) = Provider(gce).act("stop", "opts1")  # found outside the configured zone
    assert outcome.ok, outcome.error


def test_network_choice(gce: str, fake: GoogleFake) -> None:
    with fake.state.lock:
        fake.state.networks = {"lab": fake.state._network("lab")}
    boot(Provider(gce), "only1")  # the only network, though not named 'default'
    assert fake.instance("only1")["networkInterfaces"][0]["network"].endswith("/lab")
    with fake.state.lock:
        fake.state.networks["prod"] = fake.state._network("prod")
    (outcome,) = Provider(gce).boot(names="which1", image=IMAGE, flavor=FLAVOR)
    assert isinstance(outcome.error, UsageError)
    assert "lab, prod" in str(outcome.error)
    assert fake.instance("which1") is None


def test_unknown_zone_or_flavor_is_not_found(gce: str, fake: GoogleFake) -> None:
    (outcome,) = Provider(gce).boot(names="nozone1", image=IMAGE, flavor=FLAVOR,
                                    zone="mars-central1-a")
    assert isinstance(outcome.error, NotFound)
    (outcome,) = Provider(gce).boot(names="noflavor1", image=IMAGE, flavor="m9-huge")
    assert isinstance(outcome.error, NotFound) and "m9-huge" in str(outcome.error)


def test_unknown_subnet_is_gces_not_found(gce: str, fake: GoogleFake) -> None:
    (outcome,) = Provider(gce).boot(names="nosub1", image=IMAGE, flavor=FLAVOR,
                                    subnet="nowhere")
    assert isinstance(outcome.error, NotFound)
    assert "subnetworks/nowhere" in str(outcome.error)

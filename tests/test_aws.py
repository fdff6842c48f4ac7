"""The AWS provider against moto's EC2 server over HTTP: the conformance suite plus EC2
specifics (pagination, terminated VMs, VMs without a public address, credentials)."""

from __future__ import annotations

import secrets
import urllib.request
from pathlib import Path

import pytest

from cloudmesh.compute import Provider
from cloudmesh.compute.errors import CredentialError, NotFound, UsageError
from cloudmesh.compute.testing import ComputeProviderSuite, assert_vm_record
from conftest import MOTO_UBUNTU_AMI, aws_cloud_spec, ec2_client, moto_requests, write_config


def moto_authentication(endpoint: str, unchecked_requests: str) -> None:
    """Switch moto's IAM authentication on ("0": no request goes unchecked) or off ("inf")."""
    urllib.request.urlopen(urllib.request.Request(
        f"{endpoint}/moto-api/reset-auth", data=unchecked_requests.encode(), method="POST",
        headers={"Content-Type": "text/plain"}), timeout=10).read()


class TestAWSConformance(ComputeProviderSuite):
    """The suite on moto, in a VPC whose subnet is on loopback (127.0.0.0/24) and without
    public addresses, so that the SSH tests reach the VM at the address EC2 gave it."""

    image = MOTO_UBUNTU_AMI
    flavor = "t3.micro"

    @pytest.fixture
    def cloud(self, moto: str, cms_home: Path) -> str:
        ec2 = ec2_client(moto)
        vpc = ec2.create_vpc(CidrBlock="127.0.0.0/16")["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="127.0.0.0/24")["Subnet"]["SubnetId"]
        write_config(cms_home, {"moto": aws_cloud_spec(moto, subnet=subnet,
                                                       public_ip=False)}, default="moto")
        self.endpoint = moto
        return "moto"

    def delivered_keys(self, provider: Provider, vm: dict) -> list[str]:
        ec2 = ec2_client(self.endpoint)
        (instance,) = [i for r in ec2.describe_instances(InstanceIds=[vm["id"]])["Reservations"]
                       for i in r["Instances"]]
        pairs = ec2.describe_key_pairs(KeyNames=[instance["KeyName"]],
                                       IncludePublicKey=True)["KeyPairs"]
        return [pair["PublicKey"] for pair in pairs]

    def reboot_count(self, cloud_name: str, vm: dict) -> int:
        # moto keeps no trace of a reboot in its state: the RebootInstances requests it got
        return sum(vm["id"] in values for request in moto_requests(self.endpoint,
                                                                   "RebootInstances")
                   for name, values in request.items() if name.startswith("InstanceId."))

    def bad_credentials(self, spec: dict) -> dict:
        # moto checks signatures against its IAM users once its IAM authentication is on
        # (its own switch, POST /moto-api/reset-auth with the number of requests let
        # through first): no user has this access key, so EC2 answers AuthFailure
        moto_authentication(self.endpoint, "0")
        spec["credentials"]["access_key_id"] = "AKIA" + secrets.token_hex(8).upper()  # throwaway
        return spec

    @pytest.fixture(autouse=True)
    def _moto_authentication_off(self, moto: str):
        yield  # whatever bad_credentials switched on ends with the test
        moto_authentication(moto, "inf")


def test_list_pages_past_100_reservations(aws_cloud: str, moto: str) -> None:
    ec2 = ec2_client(moto)
    for number in range(105):  # one reservation each; EC2 pages at 100 reservations
        ec2.run_instances(ImageId=MOTO_UBUNTU_AMI, InstanceType="t3.micro", MinCount=1,
                          MaxCount=1, TagSpecifications=[{"ResourceType": "instance", "Tags": [
                              {"Key": "Name", "Value": f"page{number:03d}"}]}])
    first_page = ec2.describe_instances()
    assert "NextToken" in first_page  # the server really pages
    records = Provider(aws_cloud).list()
    assert len(records) == 105
    assert {r["name"] for r in records} == {f"page{n:03d}" for n in range(105)}


def test_terminated_vm_is_listed_as_terminated(aws_cloud: str, moto: str) -> None:
    ec2 = ec2_client(moto)
    instance = ec2.run_instances(ImageId=MOTO_UBUNTU_AMI, InstanceType="t3.micro",
                                 MinCount=1, MaxCount=1)["Instances"][0]
    ec2.terminate_instances(InstanceIds=[instance["InstanceId"]])
    ec2.describe_instances()  # moto moves shutting-down on to terminated on a read
    provider = Provider(aws_cloud)
    (record,) = [r for r in provider.list() if r["id"] == instance["InstanceId"]]
    assert record["status"] == "terminated" and record["state"] == "terminated"
    assert record["name"] == instance["InstanceId"]  # no Name tag: the id stands in
    (outcome,) = provider.act("stop", instance["InstanceId"])
    assert isinstance(outcome.error, NotFound)


def test_vm_without_public_ip(aws_cloud: str, moto: str) -> None:
    ec2 = ec2_client(moto)
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24")["Subnet"]["SubnetId"]
    ec2.run_instances(ImageId=MOTO_UBUNTU_AMI, InstanceType="t3.micro", MinCount=1, MaxCount=1,
                      NetworkInterfaces=[{"DeviceIndex": 0, "SubnetId": subnet,
                                          "AssociatePublicIpAddress": False}],
                      TagSpecifications=[{"ResourceType": "instance",
                                          "Tags": [{"Key": "Name", "Value": "private1"}]}])
    record = Provider(aws_cloud).info("private1")
    assert_vm_record(record, aws_cloud, "aws")
    assert record["public_ips"] == []
    assert record["private_ips"] and record["private_ips"][0].startswith("10.9.1.")
    # ssh falls back to the private address when there is no public one
    assert Provider(aws_cloud).provider.ssh_address(record) == (record["private_ips"][0], 22)


def test_vm_record_maps_ec2_fields(aws_cloud: str, moto: str) -> None:
    provider = Provider(aws_cloud)
    (outcome,) = provider.boot(names="mapped", metadata={"owner": "tests"})
    assert outcome.ok, outcome.error
    record = provider.info("mapped")
    native = ec2_client(moto).describe_instances(InstanceIds=[record["id"]])[
        "Reservations"][0]["Instances"][0]
    assert record["image"] == native["ImageId"] == MOTO_UBUNTU_AMI
    assert record["flavor"] == native["InstanceType"] == "t3.micro"
    assert record["zone"] == native["Placement"]["AvailabilityZone"]
    assert record["region"] == "us-east-1"
    assert record["metadata"] == {"owner": "tests"}
    assert record["created"].endswith("Z")


def test_two_vms_with_one_name_are_refused(aws_cloud: str, moto: str) -> None:
    ec2 = ec2_client(moto)
    for _ in range(2):
        ec2.run_instances(ImageId=MOTO_UBUNTU_AMI, InstanceType="t3.micro", MinCount=1,
                          MaxCount=1, TagSpecifications=[{"ResourceType": "instance", "Tags": [
                              {"Key": "Name", "Value": "twin"}]}])
    with pytest.raises(UsageError, match="use the id"):
        Provider(aws_cloud).info("twin")


def test_image_by_name_and_unknown_instance_type(aws_cloud: str) -> None:
    provider = Provider(aws_cloud)
    image = provider.image(MOTO_UBUNTU_AMI)
    assert provider.image(image["name"])["id"] == MOTO_UBUNTU_AMI
    (outcome,) = provider.boot(names="badtype", flavor="t9.nonexistent")
    assert outcome.error is not None and "t9.nonexistent" in str(outcome.error)
    assert [r for r in provider.list() if r["name"] == "badtype"] == []


def test_missing_credentials_is_a_credential_error(moto: str, cms_home: Path) -> None:
    spec = aws_cloud_spec(moto)
    del spec["credentials"]["access_key_id"], spec["credentials"]["secret_access_key"]
    write_config(cms_home, {"bare": spec})
    with pytest.raises(CredentialError, match="no AWS credentials"):
        Provider("bare").list()


def test_unknown_profile_is_a_credential_error(moto: str, cms_home: Path) -> None:
    spec = aws_cloud_spec(moto)
    spec["credentials"] = {"region": "us-east-1", "endpoint_url": moto, "profile": "nosuch"}
    write_config(cms_home, {"prof": spec})
    with pytest.raises(CredentialError, match="nosuch"):
        Provider("prof").list()


def test_shared_config_profile_chain(moto: str, cms_home: Path) -> None:
    aws_dir = Path.home() / ".aws"
    aws_dir.mkdir()
    (aws_dir / "credentials").write_text(
        "[lab]\naws_access_key_id = profile-id\naws_secret_access_key = profile-not-secret\n")
    (aws_dir / "config").write_text("[profile lab]\nregion = eu-west-1\n")
    write_config(cms_home, {"lab": {"cm": {"kind": "aws"},
                                    "credentials": {"profile": "lab", "endpoint_url": moto}}})
    provider = Provider("lab")
    assert provider.list() == []
    assert "eu-west-1" in provider.check()


def test_plain_http_endpoint_refused_off_loopback(cms_home: Path) -> None:
    spec = aws_cloud_spec("http://ec2.example.org")
    write_config(cms_home, {"insecure": spec})
    from cloudmesh.compute.errors import ConfigError

    with pytest.raises(ConfigError, match="plain http"):
        Provider("insecure")


def test_boot_options_reach_run_instances(aws_cloud: str, moto: str) -> None:
    """--network picks the VPC's only subnet, --no-public-ip keeps the VM private, --disk
    sizes the root volume; a VPC with two subnets is a usage error listing them."""
    ec2 = ec2_client(moto)
    vpc = ec2.create_vpc(CidrBlock="10.7.0.0/16")["Vpc"]["VpcId"]
    ec2.create_tags(Resources=[vpc], Tags=[{"Key": "Name", "Value": "lab"}])
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.7.1.0/24")["Subnet"]["SubnetId"]
    provider = Provider(aws_cloud)
    (outcome,) = provider.boot(names="opt1", network="lab", public_ip=False, disk_gb="12")
    assert outcome.ok, outcome.error
    (instance,) = [i for r in ec2.describe_instances(InstanceIds=[outcome.result["id"]])[
        "Reservations"] for i in r["Instances"]]
    assert instance["SubnetId"] == subnet and not instance.get("PublicIpAddress")
    volume_id = instance["BlockDeviceMappings"][0]["Ebs"]["VolumeId"]
    assert ec2.describe_volumes(VolumeIds=[volume_id])["Volumes"][0]["Size"] == 12
    (public,) = provider.boot(names="opt2")  # the default VPC: a public address
    assert public.ok and public.result["public_ips"], public.result
    second = ec2.create_subnet(VpcId=vpc, CidrBlock="10.7.2.0/24")["Subnet"]["SubnetId"]
    (ambiguous,) = provider.boot(names="opt3", network="lab")
    assert isinstance(ambiguous.error, UsageError)
    assert subnet in str(ambiguous.error) and second in str(ambiguous.error)
    with pytest.raises(UsageError):
        provider.boot(names="opt4", disk_gb="huge")

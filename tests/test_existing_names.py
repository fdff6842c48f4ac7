"""Existing VMs are addressed by their exact name, whatever characters the cloud allowed
(a VM made in a web console: ``Test Server 2``), or by id, in every verb; cms's name rule
applies only to names cms creates (issue 26). The VMs live on moto's EC2 through the AWS
provider; their names are set with boto3, as another tool would."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cloudmesh.compute.names import check_new_name, expand
from cloudmesh.compute.testing.sshd import Sshd, sshd_available, start_sshd
from conftest import MOTO_UBUNTU_AMI, aws_cloud_spec, cms_here, ec2_client, write_config
from cloudmesh.compute.errors import UsageError
from moto_catalog import small_moto_catalog  # noqa: F401  (a fixture)

SPACED = "Test Server 2"


def console_vm(endpoint: str, name: str) -> str:
    """A VM made outside cms (as in a web console), named ``name``; its id."""
    answer = ec2_client(endpoint).run_instances(
        ImageId=MOTO_UBUNTU_AMI, InstanceType="t3.micro", MinCount=1, MaxCount=1,
        TagSpecifications=[{"ResourceType": "instance",
                            "Tags": [{"Key": "Name", "Value": name}]}])
    return answer["Instances"][0]["InstanceId"]


def rename(endpoint: str, instance_id: str, name: str) -> None:
    ec2_client(endpoint).create_tags(Resources=[instance_id],
                                     Tags=[{"Key": "Name", "Value": name}])


@pytest.fixture
def cloud(cms_home: Path, moto: str) -> str:
    write_config(cms_home, {"m": aws_cloud_spec(moto)}, default="m")
    return moto


# ---- the expander: syntax only where it is written -------------------------------------------
@pytest.mark.parametrize("expression,names", [
    (SPACED, [SPACED]),
    ("my vm (old)", ["my vm (old)"]),
    ("Ünïcode-VM", ["Ünïcode-VM"]),
    ("a/b:c", ["a/b:c"]),
    (r"my\,vm", ["my,vm"]),
    (r"node\[1\]", ["node[1]"]),
    (r"back\\slash", ["back\\slash"]),
    (r"c:\dir", [r"c:\dir"]),              # a backslash before anything else is itself
    (r"a\,b,c[1-2]", ["a,b", "c1", "c2"]),
    ("  padded name  ", ["padded name"]),
])
def test_a_name_without_expansion_syntax_is_kept_exactly(expression: str,
                                                         names: list[str]) -> None:
    assert expand(expression) == names


@pytest.mark.parametrize("expression,fragment", [
    ("vm[a]", r"\\\["),        # the hint says how a literal bracket is written
    ("vm]", r"\\\]"),
    ("a,,b", r"\\,"),
    ("tab\there", "control character"),
])
def test_malformed_expressions_say_how_to_write_the_literal(expression: str,
                                                            fragment: str) -> None:
    with pytest.raises(UsageError, match=fragment):
        expand(expression)


def test_names_cms_creates_keep_the_strict_rule() -> None:
    assert check_new_name("web-01.a_b") == "web-01.a_b"
    for bad in (SPACED, "-x", "a/b", "", "x" * 256, "my,vm"):
        with pytest.raises(UsageError, match="use letters, digits"):
            check_new_name(bad, "VM name")


# ---- every verb, through the CLI --------------------------------------------------------------
def test_info_status_and_list_by_an_exact_name_with_spaces(cloud: str) -> None:
    instance_id = console_vm(cloud, SPACED)
    listed = cms_here("vm", "list", "--output=json")
    assert listed.code == 0 and [r["name"] for r in listed.json()] == [SPACED]
    info = cms_here("vm", "info", SPACED, "--output=json")
    assert info.code == 0, info
    assert info.json()["name"] == SPACED and info.json()["id"] == instance_id
    by_id = cms_here("vm", "info", instance_id, "--output=json")
    assert by_id.code == 0 and by_id.json()["name"] == SPACED
    status = cms_here("vm", "status", SPACED, "--output=json")
    assert status.code == 0 and status.json()["status"] == "running"
    only = cms_here("vm", "list", SPACED, "--output=json")
    assert only.code == 0 and [r["id"] for r in only.json()] == [instance_id]


def test_actions_wait_and_delete_by_an_exact_name_with_spaces(cloud: str) -> None:
    instance_id = console_vm(cloud, SPACED)
    for verb, state in (("stop", "stopped"), ("start", "running"), ("reboot", "running")):
        done = cms_here("vm", verb, SPACED, "--wait", "--timeout=30")
        assert done.code == 0, (verb, done)
        assert f"{SPACED}: {verb} requested" in done.err
        now = cms_here("vm", "info", SPACED, "--output=json").json()
        assert now["status"] == state, (verb, now)
    waited = cms_here("vm", "wait", SPACED, "--state=running", "--timeout=10")
    assert waited.code == 0, waited
    gone = cms_here("vm", "delete", SPACED, "--yes", "--wait", "--timeout=30")
    assert gone.code == 0, gone
    described = ec2_client(cloud).describe_instances(InstanceIds=[instance_id])
    assert described["Reservations"][0]["Instances"][0]["State"]["Name"] == "terminated"


def test_a_literal_comma_is_escaped_and_an_unescaped_one_splits(cloud: str) -> None:
    console_vm(cloud, "my,vm")
    escaped = cms_here("vm", "info", r"my\,vm", "--output=json")
    assert escaped.code == 0 and escaped.json()["name"] == "my,vm", escaped
    split = cms_here("vm", "info", "my,vm", "--output=json")
    assert split.code == 3, split  # 'my' and 'vm': neither exists
    assert "'my'" in split.err and "'vm'" in split.err


def test_a_name_cms_would_create_with_spaces_is_refused_before_any_request(
        cloud: str) -> None:
    boot = cms_here("vm", "boot", f"--name={SPACED}")
    assert boot.code == 2, boot
    assert "not a valid VM name" in boot.err and boot.err.count("\n") == 1
    assert ec2_client(cloud).describe_instances()["Reservations"] == []


def test_a_missing_name_with_spaces_is_not_found_not_invalid(cloud: str) -> None:
    missing = cms_here("vm", "info", "No Such Server")
    assert missing.code == 3, missing
    assert "invalid" not in missing.err and "No Such Server" in missing.err


@pytest.fixture
def sshd(tmp_path: Path) -> Sshd:
    if not sshd_available():
        if os.environ.get("CMS_REQUIRE_SSHD"):
            pytest.fail("no OpenSSH sshd at /usr/sbin/sshd (install openssh-server)")
        pytest.skip("no OpenSSH sshd installed")
    server = start_sshd(tmp_path / "sshd")
    yield server
    server.stop()


def test_ssh_by_an_exact_name_with_spaces(cms_home: Path, moto: str, sshd: Sshd) -> None:
    """A VM cms booted and someone renamed in the console: ssh finds it by the new name
    (address overridden to the test's sshd, as through a tunnel)."""
    write_config(cms_home, {"m": aws_cloud_spec(moto, key="sshkey")}, default="m")
    assert cms_here("key", "add", "sshkey", f"--source={sshd.user_key}.pub").code == 0
    assert cms_here("set", "m.ssh_host=127.0.0.1", f"m.ssh_port={sshd.port}",
                    f"m.username={sshd.user}").code == 0
    boot = cms_here("vm", "boot", "--name=plain", "--wait", "--timeout=60", "--output=json")
    assert boot.code == 0, boot
    rename(moto, boot.json()[0]["id"], SPACED)
    result = cms_here("vm", "ssh", SPACED, "--command=echo reached")
    assert result.code == 0, result
    assert result.out == "reached\n"


# ---- records: the boot's login, image builds and their architecture ---------------------------
def test_the_facade_fills_the_boots_login_the_provider_left_empty(tmp_path: Path) -> None:
    """Multipass's records carry no login; the facade adds the one the boot used (this
    machine's boot record) to info, status and list."""
    import sys

    from fakes.multipass import harness

    harness.install_fake(tmp_path / "bin")
    env = harness.environment(
        tmp_path, PATH=f"{tmp_path / 'bin'}:{Path(sys.executable).parent}:/usr/bin:/bin")
    assert cms_here("key", "gen", "lab", env=env).code == 0
    booted = cms_here("vm", "boot", "--name=web01", "--cloud=multipass", "--key=lab",
                      "--username=alice", "--output=json", env=env)
    assert booted.code == 0, booted
    info = cms_here("vm", "info", "web01", "--cloud=multipass", "--output=json", env=env)
    assert info.code == 0 and info.json()["username"] == "alice", info
    listed = cms_here("vm", "list", "--cloud=multipass", "--output=json", env=env)
    assert [r["username"] for r in listed.json()] == ["alice"]
    table = cms_here("vm", "info", "web01", "--cloud=multipass", env=env)
    assert any(line.split()[:2] == ["username", "alice"] for line in table.out.splitlines())


def test_image_list_all_shows_every_build_with_its_arch(cms_home: Path) -> None:
    import secrets

    from fakes.openstack import FakeOpenStack
    from test_openstack import cloud_spec

    fake = FakeOpenStack(secrets.token_urlsafe(16), build_seconds=0.2)
    fake.start()
    try:
        fake.add_image("ubuntu-24.04-20240101", os_hidden=True, os_distro="ubuntu",
                       architecture="aarch64")
        write_config(cms_home, {"os": cloud_spec(fake)}, default="os")
        default = cms_here("image", "list", "--output=json")
        assert default.code == 0, default
        assert "ubuntu-24.04-20240101" not in {r["name"] for r in default.json()}
        every = cms_here("image", "list", "--all", "--output=json")
        assert every.code == 0, every
        builds = {r["name"]: r for r in every.json()}
        assert builds["ubuntu-24.04-20240101"]["arch"] == "aarch64"
        assert set(builds) > {r["name"] for r in default.json()}
        table = cms_here("image", "list", "--all")
        header = table.out.splitlines()[0].split()
        assert header[:4] == ["name", "id", "os", "arch"], table.out
        refused = cms_here("image", "list", "--all", "--cached")
        assert refused.code == 2, refused
    finally:
        fake.stop()


def test_image_list_all_on_a_kind_that_lists_everything_already(small_moto_catalog: str,
                                                                  cloud: str) -> None:
    """AWS lists every available image of its owners: --all gives the same list."""
    plain = cms_here("image", "list", "--output=json")
    every = cms_here("image", "list", "--all", "--output=json")
    assert plain.code == every.code == 0, every
    assert [r["id"] for r in every.json()] == [r["id"] for r in plain.json()]
    assert all("arch" in r for r in every.json())

"""Trust boundaries that belong to the provider contract: the one endpoint check (every
endpoint, from cloudmesh.yaml and from the vendor's own files), the cms-owned security
group instead of the cloud's own 'default', and no option injection into multipass."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cloudmesh.compute.endpoints import check_endpoint
from cloudmesh.compute.errors import ConfigError
from conftest import aws_cloud_spec, cms_here, ec2_client, snapshot, write_config
from test_cli import assert_one_line_error


@pytest.mark.parametrize("url", [
    "https://ec2.us-east-1.amazonaws.com", "http://127.0.0.1:5000", "http://127.9.8.7/",
    "HTTP://127.0.0.1:1", "http://localhost:8080/v1", "http://[::1]:9000",
    "https://user-free.example.org:8443/path"])
def test_endpoints_that_pass(url: str) -> None:
    assert check_endpoint(url, "test") == url


@pytest.mark.parametrize("url, problem", [
    ("HTTP://10.0.0.1", "plain http"),
    ("http://10.0.0.1", "plain http"),
    ("http://127.0.0.1@10.0.0.1/", "user information"),
    ("https://user:pw@example.org/", "user information"),
    ("http://localhost.example.com/", "plain http"),
    ("http://127.0.0.1.nip.io/", "plain http"),
    ("http://0x7f000001/", "plain http"),
    (" http://127.0.0.1:1", "spaces or control"),
    ("http://127.0.0.1:1\n", "spaces or control"),
    ("http://127.0.0.1:1\x1b[2J", "spaces or control"),
    ("ftp://127.0.0.1/", "not an http(s) URL"),
    ("127.0.0.1:8080", "not an http(s) URL"),
    ("http://127.0.0.1:port/", "not a valid URL"),
    ("", "must be a URL"),
    (8080, "must be a URL"),
])
def test_endpoints_that_are_refused(url: object, problem: str) -> None:
    with pytest.raises(ConfigError, match="test") as raised:
        check_endpoint(url, "test")
    assert problem in str(raised.value)


def test_an_endpoint_in_the_aws_config_file_is_checked(cms_home: Path, moto: str) -> None:
    """~/.aws/config may name an endpoint_url for a profile; cms checks it the same way
    before the first request."""
    home = cms_home.parent
    (home / ".aws").mkdir()
    (home / ".aws" / "config").write_text(
        "[profile lab]\nregion = us-east-1\nendpoint_url = http://169.254.169.254/\n")
    (home / ".aws" / "credentials").write_text(
        "[lab]\naws_access_key_id = testing-key-id\naws_secret_access_key = testing\n")
    write_config(cms_home, {"lab": {"cm": {"kind": "aws"},
                                    "credentials": {"profile": "lab"}}})
    before = snapshot(cms_home)
    result = cms_here("vm", "list", "--cloud=lab")
    assert_one_line_error(result, 4, "~/.aws/config", "plain http")
    assert snapshot(cms_home) == before


@pytest.mark.parametrize("endpoint", ["HTTP://10.0.0.1", "http://127.0.0.1@10.0.0.1/",
                                      " http://127.0.0.1:1"])
def test_a_bad_endpoint_in_cloudmesh_yaml_sends_nothing(cms_home: Path, endpoint: str) -> None:
    write_config(cms_home, {"x": aws_cloud_spec(endpoint)})
    assert_one_line_error(cms_here("vm", "list", "--cloud=x"), 4, "credentials.endpoint_url")


def test_the_local_default_group_is_cms_default_on_the_cloud(cms_home: Path, moto: str) -> None:
    """After 'cms init' a plain boot creates the cms-owned group cms-default with the local
    rules; the account's own default group keeps exactly the rules it had."""
    ec2 = ec2_client(moto)

    def rules(name: str) -> list:
        (group,) = ec2.describe_security_groups(
            Filters=[{"Name": "group-name", "Values": [name]}])["SecurityGroups"]
        return sorted(json.dumps(p, sort_keys=True) for p in group["IpPermissions"])

    own_default = rules("default")
    assert cms_here("init").code == 0
    write_config(cms_home, {"m": aws_cloud_spec(moto, secgroup="default")}, default="m")
    boot = cms_here("vm", "boot", "--name=g1", "--output=json")
    assert boot.code == 0, boot
    assert boot.json()[0]["secgroups"] == ["cms-default"]
    assert rules("default") == own_default
    assert any('"FromPort": 22' in rule for rule in rules("cms-default"))
    # a group that already exists on the cloud is used as it is by a boot, never edited
    ec2.revoke_security_group_ingress(GroupName="cms-default", IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
         "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    changed = rules("cms-default")
    assert cms_here("vm", "boot", "--name=g2").code == 0
    assert rules("cms-default") == changed
    # only naming it reconciles it
    assert cms_here("secgroup", "upload", "default", "--cloud=m").code == 0
    assert any('"FromPort": 22' in rule for rule in rules("cms-default"))


@pytest.mark.parametrize("image", ["--mount=/:/host", "-lts", "--cloud-init=/etc/shadow",
                                   "lts --bridged"])
def test_an_image_cannot_become_a_multipass_option(tmp_path: Path, image: str) -> None:
    from fakes.multipass import harness

    executable = harness.install_fake(tmp_path / "bin")
    log = tmp_path / "calls.jsonl"
    env = harness.environment(tmp_path, MULTIPASS_FAKE_LOG=str(log))
    harness.write_config(tmp_path / "config", {
        "local": {"cm": {"kind": "multipass"}, "credentials": {"executable": str(executable)}}})
    result = cms_here("vm", "boot", "--cloud=local", "--name=x1", f"--image={image}",
                     "--flavor=tiny", env=env)
    assert_one_line_error(result, 2, "invalid image")
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    assert not [c for c in calls if c and c[0] == "launch"], calls

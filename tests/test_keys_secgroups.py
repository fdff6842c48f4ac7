"""cms key and cms secgroup, against moto's EC2 server: what the cloud holds afterwards is
read back through boto3."""

from __future__ import annotations

import base64
import hashlib
import subprocess
from pathlib import Path

import pytest

from conftest import ec2_client, cms_here, snapshot
from test_cli import assert_one_line_error


def make_key(directory: Path, name: str) -> Path:
    """A throwaway ed25519 pair made at run time; returns the public key's path."""
    directory.mkdir(parents=True, exist_ok=True)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f",
                    str(directory / name)], check=True)
    return directory / f"{name}.pub"


def ssh_keygen_fingerprint(public: Path) -> str:
    return subprocess.run(["ssh-keygen", "-lf", str(public)], capture_output=True, text=True,
                          check=True).stdout.split()[1]


def sha256_of(public_key_text: str) -> str:
    blob = base64.b64decode(public_key_text.split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


# ---- the local key registry ------------------------------------------------------------------
def test_key_add_defaults_and_validation(cms_home: Path, tmp_path: Path) -> None:
    assert_one_line_error(cms_here("key", "add", "mine"), 4, "no public key found")
    public = make_key(Path.home() / ".ssh", "id_ed25519")
    added = cms_here("key", "add", "mine")
    assert added.code == 0, added
    listed = cms_here("key", "list", "--output=json").json()
    assert listed[0]["name"] == "mine" and listed[0]["type"] == "ssh-ed25519"
    assert listed[0]["fingerprint"] == ssh_keygen_fingerprint(public)
    assert listed[0]["path"] == str(public)
    assert cms_here("key", "add", "mine").code == 0  # the same key again: no change
    other = make_key(tmp_path / "k", "other")
    assert_one_line_error(cms_here("key", "add", "mine", f"--source={other}"), 2,
                          "already registered with another key")
    damaged = tmp_path / "damaged.pub"
    damaged.write_text("ssh-ed25519 AAAAnot-base64!!! x\n")
    assert_one_line_error(cms_here("key", "add", "bad", f"--source={damaged}"), 2, "damaged")
    wrong = tmp_path / "wrong.pub"
    wrong.write_text("ssh-rsa " + public.read_text().split()[1] + "\n")
    assert_one_line_error(cms_here("key", "add", "bad", f"--source={wrong}"), 2,
                          "says ssh-rsa but holds a ssh-ed25519 key")
    assert_one_line_error(cms_here("key", "add", "bad", f"--source={other.with_suffix('')}"),
                          2, "is a private key")
    assert_one_line_error(cms_here("key", "add", "bad", f"--source={tmp_path}/none.pub"), 4,
                          "no such key file")
    assert [k["name"] for k in cms_here("key", "list", "--output=json").json()] == ["mine"]


def test_key_gen_writes_a_private_pair_and_prints_no_secret(cms_home: Path) -> None:
    result = cms_here("key", "gen", "fresh")
    assert result.code == 0, result
    private = cms_home / "keys" / "fresh"
    assert private.stat().st_mode & 0o777 == 0o600
    body = private.read_text()
    assert "OPENSSH PRIVATE KEY" in body
    secret_lines = [line for line in body.splitlines() if not line.startswith("-----")]
    for line in secret_lines:
        assert line not in result.out + result.err
    entry = cms_here("key", "list", "--output=json").json()[0]
    assert entry["fingerprint"] == ssh_keygen_fingerprint(Path(entry["path"]))
    assert_one_line_error(cms_here("key", "gen", "fresh"), 2, "already registered")
    assert cms_here("key", "delete", "fresh").code == 0
    assert private.exists()  # forgetting a key keeps its files
    assert_one_line_error(cms_here("key", "delete", "fresh"), 3, "not in the local registry")


# ---- keys on the cloud ----------------------------------------------------------------------------
def test_key_upload_read_back_through_boto3(aws_cloud: str, moto: str, tmp_path: Path) -> None:
    public = make_key(tmp_path, "up")
    assert cms_here("key", "add", "up", f"--source={public}").code == 0
    upload = cms_here("key", "upload", "up", "--cloud=moto")
    assert upload.code == 0 and "uploaded" in upload.err, upload
    (pair,) = ec2_client(moto).describe_key_pairs(KeyNames=["up"], IncludePublicKey=True)[
        "KeyPairs"]
    assert sha256_of(pair["PublicKey"]) == ssh_keygen_fingerprint(public)
    again = cms_here("key", "upload", "up", "--cloud=moto")
    assert again.code == 0 and "unchanged" in again.err
    cloud_keys = cms_here("key", "list", "--cloud=moto", "--output=json").json()
    assert cloud_keys == [{"name": "up", "fingerprint": ssh_keygen_fingerprint(public),
                           "cloud": "moto", "kind": "aws",
                           "native": cloud_keys[0]["native"]}]


def test_key_upload_refuses_a_different_key_under_the_same_name(aws_cloud: str, moto: str,
                                                                 tmp_path: Path,
                                                                 cms_home: Path) -> None:
    theirs = make_key(tmp_path / "a", "shared")
    ec2_client(moto).import_key_pair(KeyName="shared",
                                     PublicKeyMaterial=theirs.read_bytes())
    ours = make_key(tmp_path / "b", "shared")
    cms_here("key", "add", "shared", f"--source={ours}")
    before = snapshot(cms_home)
    result = cms_here("key", "upload", "shared", "--cloud=moto")
    assert_one_line_error(result, 1, ssh_keygen_fingerprint(theirs),
                          ssh_keygen_fingerprint(ours))
    assert snapshot(cms_home) == before
    (pair,) = ec2_client(moto).describe_key_pairs(KeyNames=["shared"], IncludePublicKey=True)[
        "KeyPairs"]
    assert sha256_of(pair["PublicKey"]) == ssh_keygen_fingerprint(theirs)  # left alone


def test_key_delete_on_the_cloud(aws_cloud: str, moto: str, tmp_path: Path) -> None:
    cms_here("key", "add", "gone", f"--source={make_key(tmp_path, 'gone')}")
    cms_here("key", "upload", "gone", "--cloud=moto")
    assert cms_here("key", "delete", "gone", "--cloud=moto").code == 0
    assert ec2_client(moto).describe_key_pairs()["KeyPairs"] == []
    assert_one_line_error(cms_here("key", "delete", "gone", "--cloud=moto"), 3, "no key 'gone'")
    assert cms_here("key", "list", "--output=json").json()[0]["name"] == "gone"  # still local
    assert_one_line_error(cms_here("key", "upload", "nokey", "--cloud=moto"), 3,
                          "not in the local registry")


# ---- security groups --------------------------------------------------------------------------------
def cloud_rules(moto: str, name: str) -> set[tuple]:
    (group,) = ec2_client(moto).describe_security_groups(
        Filters=[{"Name": "group-name", "Values": [name]}])["SecurityGroups"]
    return {(p["IpProtocol"], p.get("FromPort"), p.get("ToPort"), r["CidrIp"])
            for p in group["IpPermissions"] for r in p["IpRanges"]}


def test_init_seeds_the_default_group(cms_home: Path) -> None:
    cms_here("init")
    groups = cms_here("secgroup", "list", "--output=json").json()
    (default,) = [g for g in groups if g["name"] == "default"]
    assert {(r["protocol"], r["from_port"]) for r in default["rules"]} == {("tcp", 22),
                                                                          ("icmp", None)}


def test_secgroup_upload_and_reconcile_drift(aws_cloud: str, moto: str, cms_home: Path) -> None:
    assert cms_here("secgroup", "add", "web", "--description=web servers").code == 0
    for rule in (["tcp", "22", "0.0.0.0/0"], ["tcp", "80:443", "0.0.0.0/0"],
                 ["icmp", "all", "10.0.0.0/8"]):
        assert cms_here("secgroup", "rule", "add", "web", *rule).code == 0
    dry = cms_here("secgroup", "upload", "web", "--cloud=moto", "--dryrun")
    assert dry.code == 0 and "would create" in dry.err
    assert not ec2_client(moto).describe_security_groups(
        Filters=[{"Name": "group-name", "Values": ["web"]}])["SecurityGroups"]
    assert cms_here("secgroup", "upload", "web", "--cloud=moto").code == 0
    assert cloud_rules(moto, "web") == {("tcp", 22, 22, "0.0.0.0/0"),
                                        ("tcp", 80, 443, "0.0.0.0/0"),
                                        ("icmp", -1, -1, "10.0.0.0/8")}
    # drift on the cloud: one rule removed, one added by hand
    ec2 = ec2_client(moto)
    (group,) = ec2.describe_security_groups(
        Filters=[{"Name": "group-name", "Values": ["web"]}])["SecurityGroups"]
    ec2.revoke_security_group_ingress(GroupId=group["GroupId"], IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    ec2.authorize_security_group_ingress(GroupId=group["GroupId"], IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 3306, "ToPort": 3306,
         "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    again = cms_here("secgroup", "upload", "web", "--cloud=moto")
    assert again.code == 0
    assert "add ingress tcp 80:443 0.0.0.0/0" in again.err
    assert "extra rule on moto, left as it is" in again.err and "3306" in again.err
    assert ("tcp", 3306, 3306, "0.0.0.0/0") in cloud_rules(moto, "web")
    assert ("tcp", 80, 443, "0.0.0.0/0") in cloud_rules(moto, "web")
    pruned = cms_here("secgroup", "upload", "web", "--cloud=moto", "--prune")
    assert pruned.code == 0 and "remove ingress tcp 3306" in pruned.err
    assert cloud_rules(moto, "web") == {("tcp", 22, 22, "0.0.0.0/0"),
                                        ("tcp", 80, 443, "0.0.0.0/0"),
                                        ("icmp", -1, -1, "10.0.0.0/8")}
    listed = cms_here("secgroup", "list", "--cloud=moto", "--output=json").json()
    assert "web" in {g["name"] for g in listed}
    assert cms_here("secgroup", "delete", "web", "--cloud=moto").code == 0
    assert "web" not in {g["name"] for g in cms_here("secgroup", "list", "--cloud=moto",
                                                    "--output=json").json()}


def test_secgroup_rule_errors_change_nothing(cms_home: Path) -> None:
    cms_here("secgroup", "add", "g")
    before = snapshot(cms_home)
    for rule, fragment in ((["tcp", "70000", "0.0.0.0/0"], "65535"),
                           (["tcp", "22", "not-a-cidr"], "invalid CIDR"),
                           (["sctp", "22", "0.0.0.0/0"], "unknown protocol"),
                           (["tcp", "x:y", "0.0.0.0/0"], "invalid ports"),
                           (["icmp", "22", "0.0.0.0/0"], "take no ports")):
        assert_one_line_error(cms_here("secgroup", "rule", "add", "g", *rule), 2, fragment)
    assert_one_line_error(cms_here("secgroup", "rule", "add", "nog", "tcp", "22", "0.0.0.0/0"),
                          3, "not defined locally")
    assert_one_line_error(cms_here("secgroup", "rule", "delete", "g", "tcp", "22", "0.0.0.0/0"),
                          3, "has no rule")
    assert snapshot(cms_home) == before


# ---- boot uses the cloud's default key and groups -------------------------------------------
def test_boot_uploads_default_key_and_groups_first(cms_home: Path, moto: str,
                                                   tmp_path: Path) -> None:
    from conftest import aws_cloud_spec, write_config

    write_config(cms_home, {"m": aws_cloud_spec(moto, key="deploy", secgroup="web")},
                 default="m")
    cms_here("key", "add", "deploy", f"--source={make_key(tmp_path, 'deploy')}")
    cms_here("secgroup", "add", "web")
    cms_here("secgroup", "rule", "add", "web", "tcp", "443", "0.0.0.0/0")
    boot = cms_here("vm", "boot", "--name=app1", "--output=json")
    assert boot.code == 0, boot
    vm = boot.json()[0]
    assert vm["key"] == "deploy" and vm["secgroups"] == ["web"]
    ec2 = ec2_client(moto)
    assert [k["KeyName"] for k in ec2.describe_key_pairs()["KeyPairs"]] == ["deploy"]
    assert cloud_rules(moto, "web") == {("tcp", 443, 443, "0.0.0.0/0")}
    second = cms_here("vm", "boot", "--name=app2", "--output=json")  # both exist now: no-ops
    assert second.code == 0 and second.json()[0]["key"] == "deploy"


@pytest.mark.parametrize("verb", ["keys", "secgroups"])
def test_cloud_lists_need_credentials(cms_home: Path, verb: str) -> None:
    from conftest import write_config

    write_config(cms_home, {"x": {"cm": {"kind": "aws"}, "credentials": {"region": "us-east-1"}}})
    command = ["key", "list", "--cloud=x"] if verb == "keys" else ["secgroup", "list", "--cloud=x"]
    result = cms_here(*command)  # no credentials: a clean configuration error, not a traceback
    assert_one_line_error(result, 4, "no AWS credentials")

"""Config(): dotted access, aliases, ${ENV}, masking, atomic private writes, errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cloudmesh.compute import Config
from cloudmesh.compute.config import MASK, is_secret_key
from cloudmesh.compute.errors import ConfigError, NotFound

SAMPLE = """\
# top comment
cloudmesh:
  profile: {user: ada}   # who
  default: {cloud: one}
  cloud:                 # the older spelling of 'compute'
    one:
      cm: {kind: aws}
      credentials:
        region: us-east-1
        password: hunter2-canary
        secret_access_key: ${SECRET_FROM_ENV}
      defaults: {image: ami-1, size: t3.micro}
"""


@pytest.fixture
def config(tmp_path: Path) -> Config:
    path = tmp_path / "cloudmesh.yaml"
    path.write_text(SAMPLE)
    path.chmod(0o600)
    return Config(path)


def test_dotted_get_and_alias(config: Config) -> None:
    assert config["cloudmesh.profile.user"] == "ada"
    assert config["cloudmesh.compute.one.cm.kind"] == "aws"  # alias of cloudmesh.cloud
    assert config["cloudmesh.cloud.one.cm.kind"] == "aws"
    assert config.get("cloudmesh.nothing.here", 5) == 5
    assert "cloudmesh.profile.user" in config and "cloudmesh.nope" not in config
    with pytest.raises(NotFound, match="no key 'cloudmesh.nope'"):
        config["cloudmesh.nope"]
    assert list(config.clouds()) == ["one"] and config.default_cloud() == "one"


def test_env_values(config: Config, monkeypatch) -> None:
    monkeypatch.setenv("SECRET_FROM_ENV", "from-env")
    assert config["cloudmesh.compute.one.credentials.secret_access_key"] == "from-env"
    assert config.cloud("one")["credentials"]["secret_access_key"] == "from-env"
    monkeypatch.delenv("SECRET_FROM_ENV")
    with pytest.raises(ConfigError, match=r"\$\{SECRET_FROM_ENV\}, which is not set"):
        config.cloud("one")


def test_masking(config: Config) -> None:
    masked = config.masked()
    creds = masked["compute" if "compute" in masked else "cloud"]["one"]["credentials"]
    assert creds["password"] == MASK
    assert creds["secret_access_key"] == "${SECRET_FROM_ENV}"  # the reference, not a value
    assert creds["region"] == "us-east-1"
    text = config.masked_text()
    assert "hunter2" not in text and "# top comment" in text and MASK in text
    assert config.is_masked("cloudmesh.compute.one.credentials.secret_access_key")
    assert config.raw("cloudmesh.compute.one.credentials.password") == "hunter2-canary"


@pytest.mark.parametrize("key,secret", [
    ("password", True), ("secret_access_key", True), ("session_token", True),
    ("client_secret", True), ("access_token", True), ("access_key_id", True),
    ("application_credential_secret", True), ("key_file", False), ("region", False),
    ("auth_url", False), ("service_account_file", False), ("username", False),
    ("application_credential_id", False), ("fingerprint", False),
])
def test_secret_key_names(key: str, secret: bool) -> None:
    assert is_secret_key(f"cloudmesh.compute.x.credentials.{key}") is secret


def test_set_keeps_comments_and_writes_privately(config: Config) -> None:
    config.set("cloudmesh.compute.one.defaults.image", "ami-2")
    text = config.path.read_text()
    assert "# top comment" in text and "# who" in text and "# the older spelling" in text
    assert config["cloudmesh.cloud.one.defaults.image"] == "ami-2"
    assert "compute:" not in text  # written into the existing 'cloud' section
    assert config.path.stat().st_mode & 0o777 == 0o600
    config.set("cloudmesh.new.deep.key", 3)
    assert Config(config.path)["cloudmesh.new.deep.key"] == 3
    leftovers = [p for p in config.path.parent.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


def test_set_refuses_to_descend_into_a_value(config: Config) -> None:
    before = config.path.read_bytes()
    with pytest.raises(ConfigError, match="holds a value"):
        config.set("cloudmesh.profile.user.name", "x")
    assert config.path.read_bytes() == before


def test_set_creates_a_missing_file(tmp_path: Path) -> None:
    config = Config(tmp_path / "sub" / "cloudmesh.yaml")
    config.set("cloudmesh.profile.user", "bob")
    assert Config(config.path)["cloudmesh.profile.user"] == "bob"
    assert oct(config.path.stat().st_mode & 0o777) == oct(0o600)


def test_yaml_error_names_line(tmp_path: Path) -> None:
    path = tmp_path / "cloudmesh.yaml"
    path.write_text("cloudmesh:\n  a: 1\n  b: [unclosed\n  c: 3\n")
    with pytest.raises(ConfigError) as raised:
        Config(path).data
    assert f"{path}:" in str(raised.value) and "invalid YAML" in str(raised.value)


def test_permission_problem(config: Config, capsys) -> None:
    assert config.permission_problem() is None
    os.chmod(config.path, 0o640)
    assert "chmod 600" in Config(config.path).permission_problem()


def test_unknown_cloud_lists_known(config: Config) -> None:
    with pytest.raises(ConfigError, match=r"known: one"):
        config.cloud("two")


# ---- declared settings: every kind says which default: and credentials: keys it takes ------
from conftest import aws_cloud_spec, cms_here, write_config  # noqa: E402

from cloudmesh.compute import settings  # noqa: E402
from cloudmesh.compute.registry import kinds, load  # noqa: E402

#: what each kind's provider reads from its default: block beyond the common keys
#: (grep self.defaults in cloudmesh-*/): a key read but not declared would be refused
READ_BY_KIND = {"aws": {"image_owners"},
                "azure": {"image_aliases", "image_offers", "image_publishers", "stop_mode",
                          "poll_interval", "operation_timeout"},
                "google": {"image_projects", "operation_timeout", "poll_interval"},
                "oracle": {"hard_reboot", "preserve_boot_volume", "ocpus", "memory_gb",
                           "work_timeout", "poll_interval"},
                "openstack": {"poll_interval"}, "multipass": set()}


@pytest.mark.parametrize("kind", sorted(READ_BY_KIND))
def test_every_kind_declares_what_it_reads(kind: str) -> None:
    if kind not in kinds():
        pytest.skip(f"cloudmesh-{kind} is not installed")
    declared = load(kind).settings
    assert declared is not None and set(declared) == READ_BY_KIND[kind]
    assert not set(declared) & set(settings.COMMON_SETTINGS)


@pytest.mark.parametrize("key,value,fragment", [
    ("default.stop_mod", "poweroff", "unknown default key 'stop_mod' for kind aws"),
    ("default.flavour", "t3.micro", "(did you mean 'flavor'?)"),
    ("default.ssh_port", "twenty-two", "default.ssh_port must be a whole number"),
    ("default.public_ip", "maybe", "default.public_ip must be true or false"),
    ("credentials.regoin", "us-east-1", "(did you mean 'region'?)"),
])
def test_config_set_refuses_a_key_the_kind_does_not_take(cms_home: Path, moto: str,
                                                         key: str, value: str,
                                                         fragment: str) -> None:
    write_config(cms_home, {"mycloud": aws_cloud_spec(moto)})
    before = (cms_home / "cloudmesh.yaml").read_bytes()
    result = cms_here("config", "set", f"cloudmesh.compute.mycloud.{key}", value)
    assert result.code == 4, result
    assert fragment in result.err and result.err.count("\n") == 1, result.err
    assert (cms_home / "cloudmesh.yaml").read_bytes() == before
    fine = cms_here("config", "set", "cloudmesh.compute.mycloud.default.image_owners", "self")
    assert fine.code == 0, fine
    assert cms_here("config", "check").code == 0


def test_config_check_and_the_provider_refuse_undeclared_keys(cms_home: Path,
                                                              moto: str) -> None:
    spec = aws_cloud_spec(moto, stop_mod="poweroff")
    spec["credentials"]["regoin"] = "us-east-1"
    write_config(cms_home, {"mycloud": spec}, default="mycloud")
    check = cms_here("config", "check")
    assert check.code == 4, check
    assert "unknown credentials key 'regoin' for kind aws (did you mean 'region'?)" in check.err
    assert "unknown default key 'stop_mod' for kind aws" in check.err
    used = cms_here("vm", "list")
    assert used.code == 4 and "unknown" in used.err and used.err.count("\n") == 1, used


def test_a_kind_that_declares_nothing_is_not_checked() -> None:
    class Older:  # a third party's provider from before declarations
        credential_keys = ()

    assert settings.problems("c", "older", {"default": {"anything": 1},
                                            "credentials": {"x": 1}}, Older) == []


@pytest.mark.parametrize("declared,value,ok", [
    (str, "24.04", True), (str, 24.04, True), (str, ["a"], False),
    (int, 22, True), (int, "22", True), (int, 2.5, False), (int, True, False),
    (float, 0.5, True), (float, "x", False), (bool, "yes", True), (bool, "maybe", False),
    (list, "a,b", True), (list, ["a"], True), (list, {"a": 1}, False),
    ((list, dict), {"a": 1}, True), (int, None, True),
])
def test_declared_types_accept_what_yaml_and_config_set_give(declared, value, ok) -> None:
    problem = settings.default_problem("c", "k", "x", value, {"x": declared})
    assert (problem is None) == ok, problem

"""A student's lab (issue 25): keys and groups from Python, secrets out of introspection,
SSH to emulated clouds and its errors, and the rough edges of the CLI."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

from cloudmesh.compute.errors import CloudError, ConfigError, CredentialError, NotFound, UsageError
from conftest import TEST_SECRET, aws_cloud_spec, cms_here, ec2_client, run_cms, write_config


# ---- keys and security groups from Python ----------------------------------------------
def test_keys_from_python_are_idempotent_as_the_cli(aws_cloud: str, tmp_path: Path) -> None:
    from cloudmesh.compute import Keys, Provider

    cloud = Provider("moto")
    made = cloud.keys.gen("lab")
    assert made["action"] == "generated" and Path(made["private_path"]).stat().st_mode & 0o077 == 0
    with pytest.raises(UsageError, match="already registered"):
        cloud.keys.gen("lab")
    assert cloud.keys.gen("lab", exist_ok=True)["action"] == "unchanged"
    # the same key under the same name again: a no-op; another key: both fingerprints
    assert cloud.keys.add("lab", source=made["path"])["action"] == "unchanged"
    other = Keys().gen("other")
    with pytest.raises(UsageError) as clash:
        cloud.keys.add("lab", source=other["path"])
    assert made["fingerprint"] in str(clash.value) and other["fingerprint"] in str(clash.value)
    assert [k["name"] for k in cloud.keys.list()] == ["lab", "other"]

    assert cloud.keys.upload("lab")["action"] == "uploaded"
    assert cloud.keys.upload("lab")["action"] == "unchanged"
    assert [k["name"] for k in cloud.keys()] == ["lab"] == \
        [k["name"] for k in cloud.keys.list(on_cloud=True)]
    pairs = ec2_client(cloud.spec["credentials"]["endpoint_url"]).describe_key_pairs()
    assert [p["KeyName"] for p in pairs["KeyPairs"]] == ["lab"]
    with pytest.raises(UsageError, match="needs a cloud") as unbound:
        Keys().upload("lab")
    assert "--" not in str(unbound.value)

    assert cloud.keys.delete("lab", on_cloud=True) and cloud.keys() == []
    assert cloud.keys.delete("other") and cloud.keys.get("other") is None
    with pytest.raises(NotFound):
        cloud.keys.delete("other")
    # the CLI sees what Python made (one registry)
    assert "lab" in cms_here("key", "list").out


def test_security_groups_from_python(aws_cloud: str) -> None:
    from cloudmesh.compute import Provider, SecGroups

    cloud = Provider("moto")
    group = cloud.secgroups.add("web", "the lab's web servers")
    assert group == {"name": "web", "description": "the lab's web servers", "rules": []}
    assert cloud.secgroups.rule_add("web", "tcp", 22, "0.0.0.0/0") is True
    assert cloud.secgroups.rule_add("web", "tcp", "22", "0.0.0.0/0") is False  # had it
    assert SecGroups().rule_add("web", "tcp", "80:443", "10.0.0.0/8") is True
    cloud.secgroups.rule_delete("web", "tcp", "80:443", "10.0.0.0/8")
    with pytest.raises(NotFound, match="no rule"):
        cloud.secgroups.rule_delete("web", "tcp", "80:443", "10.0.0.0/8")
    with pytest.raises(UsageError, match="unknown protocol"):
        cloud.secgroups.rule_add("web", "sctp", 22, "0.0.0.0/0")
    with pytest.raises(NotFound, match="not defined locally"):
        cloud.secgroups.rule_add("nothere", "tcp", 22, "0.0.0.0/0")

    first = cloud.secgroups.upload("web")
    assert first["created"] and [r["from_port"] for r in first["added"]] == [22]
    again = cloud.secgroups.upload("web")
    assert not again["created"] and again["added"] == []
    on_cloud = {g["name"]: g for g in cloud.secgroups()}
    assert any(r["from_port"] == 22 for r in on_cloud["web"]["rules"])
    assert cloud.secgroups.delete("web", on_cloud=True)
    assert "web" not in {g["name"] for g in cloud.secgroups.list(on_cloud=True)}
    assert cloud.secgroups.delete("web") and cloud.secgroups.get("web") is None


def test_python_errors_speak_of_arguments_the_cli_of_options(moto: str, cms_home: Path) -> None:
    from cloudmesh.compute import Provider

    spec = aws_cloud_spec(moto)
    del spec["default"]["image"]
    write_config(cms_home, {"bare": spec}, default="bare")
    with pytest.raises(ConfigError) as caught:
        Provider("bare").boot(names="x")
    assert "image=" in str(caught.value) and "--image" not in str(caught.value)
    cli = cms_here("vm", "boot", "--name=x")
    assert cli.code == 4 and "--image=..." in cli.err, cli


def test_no_secret_in_repr_or_vars(aws_cloud: str) -> None:
    from cloudmesh.compute import Config, Provider

    provider, config = Provider("moto"), Config()
    assert config["cloudmesh.compute.moto.credentials.secret_access_key"] == TEST_SECRET
    assert provider.spec["credentials"]["secret_access_key"] == TEST_SECRET  # still usable
    shown = [repr(provider), str(vars(provider)), str(provider.__dict__), repr(config),
             str(vars(config)), str(vars(provider.provider)), repr(provider.keys),
             str({name: getattr(provider, name, None) for name in vars(provider)})]
    for text in shown:
        assert TEST_SECRET not in text


# ---- SSH ------------------------------------------------------------------------------------
def _boot(cloud: str, **options) -> str:
    from cloudmesh.compute import Provider

    (outcome,) = Provider(cloud).boot(names="lab1", wait=True, timeout=60, **options)
    return outcome.get()["name"]


def test_ssh_to_an_emulated_clouds_foreign_address_is_refused(aws_cloud: str) -> None:
    from cloudmesh.compute import Provider

    name = _boot("moto")
    provider = Provider("moto")
    address = provider.info(name)["public_ips"][0]
    assert not address.startswith("127.")  # moto hands out addresses of real AWS
    with pytest.raises(ConfigError) as refused:
        provider.ssh_target(name)
    text = str(refused.value)
    assert f"VM {name}" in text and address in text and "ssh_host" in text
    cli = cms_here("vm", "ssh", name, "--command=true")
    assert cli.code == 4 and len(cli.err.splitlines()) == 1 and "ssh_host" in cli.err, cli
    # ssh_host says where: then the target is that address
    assert cms_here("set", "moto.ssh_host=127.0.0.1").code == 0
    assert provider.ssh_target(name).host == "127.0.0.1"


def test_ssh_precedence_command_line_set_record_default(moto: str, cms_home: Path) -> None:
    from cloudmesh.compute import Provider

    write_config(cms_home, {"moto": aws_cloud_spec(
        moto, username="fromdefault", ssh_host="127.0.0.1", ssh_port=2222)}, default="moto")
    name = _boot("moto", username="atboot")
    provider = Provider("moto")
    assert provider.ssh_target(name).username == "atboot"  # the record beats default:
    assert cms_here("set", "username=fromset").code == 0
    assert provider.ssh_target(name).username == "fromset"  # cms set beats the record
    assert cms_here("set", "moto.username=cloudset").code == 0
    assert provider.ssh_target(name).username == "cloudset"  # CLOUD.NAME beats NAME
    assert provider.ssh_target(name, username="given").username == "given"
    target = provider.ssh_target(name)
    assert (target.host, target.port) == ("127.0.0.1", 2222)  # default: before the address
    assert provider.ssh_target(name, port=2200).port == 2200


def _not_ssh_server() -> tuple[int, threading.Event]:
    """A TCP server on 127.0.0.1 that answers with a line that is not an SSH banner."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                continue
            connection.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
            connection.close()
        listener.close()

    threading.Thread(target=serve, daemon=True).start()
    return listener.getsockname()[1], stop


def test_ssh_errors_name_the_vm_and_the_cause(aws_cloud: str, monkeypatch) -> None:
    from cloudmesh.compute import Keys, Provider

    port, stop = _not_ssh_server()
    try:
        assert cms_here("set", "moto.ssh_host=127.0.0.1", f"moto.ssh_port={port}").code == 0
        Keys().gen("k")
        name = _boot("moto", key="k")
        with pytest.raises(CloudError) as caught:
            Provider("moto").ssh(name, "true", timeout=5)
        text = str(caught.value)
        assert f"VM {name}" in text and f"cms vm status {name}" in text and "NAME" not in text
        assert "not an SSH server" in text

        # a VM booted without a key, and no agent or ~/.ssh key: the missing key is the cause
        monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
        (bare,) = Provider("moto").boot(names="nokey", wait=True, timeout=60)
        bare.get()
        with pytest.raises(CredentialError) as nokey:
            Provider("moto").ssh("nokey", "true", timeout=5)
        assert str(nokey.value).startswith("VM nokey was booted without a key")
        assert "No authentication methods" not in str(nokey.value)
    finally:
        stop.set()


# ---- cms check, and the smaller edges ------------------------------------------------------
def test_check_tells_not_set_up_from_failing(cms_home: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    # no IMDS, no multipass; each kind checked in this process, not in a worker process
    env = {"PATH": str(empty), "AWS_EC2_METADATA_DISABLED": "true", "CMS_IN_PROCESS": "1"}
    assert cms_here("init", env=env).code == 0
    fresh = cms_here("check", "--output=json", env=env)
    assert fresh.code == 0, fresh  # a fresh template is not broken
    assert {row["cloud"]: row["status"] for row in fresh.json()} == \
        {"aws": "not set up", "multipass": "not set up"}
    named = cms_here("check", "aws", env=env)  # asked for by name: it must work
    assert named.code == 4 and "not set up" in named.out
    assert cms_here("config", "set", "cloudmesh.compute.aws.credentials.endpoint_url",
                    "http://127.0.0.1:9", env=env).code == 0
    for key, value in (("access_key_id", "AKIATESTTESTTEST"), ("secret_access_key", "x" * 20)):
        assert cms_here("config", "set", f"cloudmesh.compute.aws.credentials.{key}", value,
                        env=env).code == 0
    broken = cms_here("check", "--output=json", env=env)  # nothing listens on port 9
    assert broken.code == 1, broken
    assert {row["cloud"]: row["status"] for row in broken.json()}["aws"] == "failed"


def test_debug_anywhere_on_the_line(aws_cloud: str) -> None:
    result = cms_here("vm", "info", "ghost", "--debug")
    assert result.code == 3 and "Traceback" in result.err, result
    assert "Traceback" not in cms_here("vm", "info", "ghost").err


def test_script_quit_ends_quietly_and_errors_name_the_line(aws_cloud: str) -> None:
    quiet = run_cms(stdin="set a=1\nquit\nvm info ghost\n")  # the shell: a real process
    assert quiet.code == 0 and "quit" not in quiet.err and "ghost" not in quiet.err, quiet
    failing = run_cms(stdin="set a=1\n\nvm info ghost\nset b=2\n")
    assert failing.code == 3 and "line 3: vm info ghost" in failing.err, failing
    assert cms_here("set").out.count("b=") == 0  # stopped at line 3


def test_boot_dryrun_of_a_taken_name_says_so(aws_cloud: str) -> None:
    assert cms_here("vm", "boot", "--name=taken", "--wait", "--timeout=60").code == 0
    dry = cms_here("vm", "boot", "--name=taken", "--dryrun")
    assert dry.code == 2 and "already exists" in dry.err and "would boot" not in dry.err, dry
    free = cms_here("vm", "boot", "--name=free", "--dryrun")
    assert free.code == 0 and "would boot free" in free.err


def test_completion_without_a_shell_names_the_shells() -> None:
    for argv in (("completion",), ("completion", "tcsh")):
        result = cms_here(*argv)
        assert result.code == 2 and len(result.err.splitlines()) == 1, result
        assert all(shell in result.err for shell in ("bash", "zsh", "fish"))
        assert "invalid arguments" not in result.err


def test_readme_has_no_stray_line() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    assert "\ncore. [docs/providers.md]" not in readme

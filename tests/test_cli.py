"""The cms command itself: main paths and every documented error. Each error is one line
on stderr, with its documented exit code, and leaves the config and the state database
as they were. The command lines run in this process (cms_here, cms's own dispatch);
help and version run the installed ``cms`` script, so the entry point is tested too."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import MOTO_UBUNTU_AMI, aws_cloud_spec, cms_here, run_cms, snapshot, write_config
from moto_catalog import small_moto_catalog  # noqa: F401  (a fixture)


def assert_one_line_error(result, code: int, *fragments: str) -> None:
    assert result.code == code, result
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr: {result.err!r}"
    assert lines[0].startswith("error: "), lines[0]
    assert "Traceback" not in result.err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


# ---- help, version, discovery ----------------------------------------------------------
def test_help_lists_every_command(cms_home: Path) -> None:
    result = run_cms("help")  # the installed entry point, as a process
    assert result.code == 0, result
    for command in ("vm", "image", "flavor", "config", "set", "init", "check", "provider",
                    "version", "help"):
        assert f"  {command} " in result.out
    assert "Exit codes" in result.out


@pytest.mark.parametrize("argv", [["help", "vm"], ["vm", "--help"], ["vm", "-h"],
                                  ["vm", "list", "--help"]])
def test_command_help(cms_home: Path, argv: list[str]) -> None:
    result = cms_here(*argv)
    assert result.code == 0, result
    assert "cms vm boot" in result.out and "cms vm list" in result.out


def test_version_lists_distributions(cms_home: Path) -> None:
    result = run_cms("version")
    assert result.code == 0
    assert "cloudmesh-compute" in result.out and "cloudmesh-aws" in result.out


def test_provider_list_reads_the_file_system(cms_home: Path) -> None:
    result = cms_here("provider", "list", "--output=json")
    assert result.code == 0
    kinds = {row["kind"]: row for row in result.json()}
    assert kinds["aws"]["distribution"] == "cloudmesh-aws"
    assert kinds["aws"]["path"].endswith("cloudmesh/aws/compute.py")


def test_unknown_command(cms_home: Path) -> None:
    result = cms_here("frobnicate")
    assert result.code == 2 and "unknown command 'frobnicate'" in result.err


# ---- init and config -------------------------------------------------------------------
def test_init_writes_a_private_template_once(cms_home: Path) -> None:
    result = cms_here("init", "--user=ada")
    assert result.code == 0, result
    path = cms_home / "cloudmesh.yaml"
    assert path.stat().st_mode & 0o777 == 0o600
    text = path.read_text()
    for kind in ("aws", "openstack", "azure", "google", "oracle", "multipass"):
        assert f"kind: {kind}" in text
    assert "user: ada" in text and text.count("#") > 10
    path.write_text(text + "# mine\n")
    again = cms_here("init")
    assert again.code == 0 and "left as it is" in again.err
    assert path.read_text().endswith("# mine\n")


def test_config_cat_and_get_mask_secrets(cms_home: Path, monkeypatch) -> None:
    spec = aws_cloud_spec("http://127.0.0.1:9")
    spec["credentials"]["secret_access_key"] = "plain-canary-secret-123"
    spec["credentials"]["session_token"] = "${TOKEN_FROM_ENV}"
    write_config(cms_home, {"c": spec})
    monkeypatch.setenv("TOKEN_FROM_ENV", "env-canary-token-456")
    cat = cms_here("config", "cat")
    assert cat.code == 0, cat
    assert "plain-canary-secret-123" not in cat.out + cat.err
    assert "env-canary-token-456" not in cat.out + cat.err
    assert "********" in cat.out and "${TOKEN_FROM_ENV}" in cat.out
    for key in ("secret_access_key", "session_token"):
        got = cms_here("config", "get", f"cloudmesh.compute.c.credentials.{key}")
        assert got.code == 0
        assert "canary" not in got.out + got.err
    whole = cms_here("config", "get", "cloudmesh.compute.c.credentials")
    assert "canary" not in whole.out and "region: us-east-1" in whole.out
    assert cms_here("config", "get", "cloudmesh.cloud.c.credentials.region").out.strip() == \
        "us-east-1"  # cloudmesh.cloud is an alias of cloudmesh.compute


def test_config_set_keeps_comments_and_order(cms_home: Path) -> None:
    cms_here("init", "--user=ada")
    path = cms_home / "cloudmesh.yaml"
    before = path.read_text()
    result = cms_here("config", "set", "cloudmesh.compute.aws.default.flavor=t3.small")
    assert result.code == 0, result
    after = path.read_text()
    assert "flavor: t3.small" in after
    assert [l for l in before.splitlines() if l.lstrip().startswith("#")] == \
        [l for l in after.splitlines() if l.lstrip().startswith("#")]
    assert path.stat().st_mode & 0o777 == 0o600
    assert cms_here("config", "get", "cloudmesh.compute.aws.default.flavor").out.strip() == \
        "t3.small"
    assert cms_here("config", "set", "cloudmesh.profile.count", "3").code == 0
    import yaml

    assert yaml.safe_load(path.read_text())["cloudmesh"]["profile"]["count"] == 3


def test_config_path_and_check(cms_home: Path, moto: str) -> None:
    write_config(cms_home, {"m": aws_cloud_spec(moto)}, default="m")
    assert cms_here("config", "path").out.strip() == str(cms_home / "cloudmesh.yaml")
    ok = cms_here("config", "check")
    assert ok.code == 0, ok
    (cms_home / "cloudmesh.yaml").chmod(0o644)
    loose = cms_here("config", "check")
    assert loose.code == 4 and "chmod 600" in loose.err
    listed = cms_here("vm", "list")  # used anyway, with a warning
    assert listed.code == 0 and "warning:" in listed.err


def test_config_check_names_missing_provider(cms_home: Path) -> None:
    write_config(cms_home, {"x": {"cm": {"kind": "nosuchkind"}}, "y": {"cm": {}}})
    result = cms_here("config", "check")
    assert result.code == 4
    assert "provides cloudmesh/nosuchkind/compute.py" in result.err
    assert "cloud 'y': no cm.kind" in result.err


# ---- set ---------------------------------------------------------------------------------
def test_set_cloud_is_used_and_validated(cms_home: Path, moto: str) -> None:
    write_config(cms_home, {"a": aws_cloud_spec(moto), "b": aws_cloud_spec(moto, "us-west-2")})
    assert cms_here("set", "cloud=b").code == 0
    assert cms_here("set").out.strip() == "cloud=b"
    booted = cms_here("vm", "boot", "--name=x1", "--output=json")
    assert booted.code == 0, booted
    assert booted.json()[0]["cloud"] == "b" and booted.json()[0]["zone"].startswith("us-west-2")
    before = snapshot(cms_home)
    bad = cms_here("set", "cloud=nope")
    assert_one_line_error(bad, 4, "cloud 'nope' is not in")
    assert snapshot(cms_home) == before
    assert_one_line_error(cms_here("set", "novalue"), 2, "NAME=VALUE")
    assert cms_here("set", "--delete", "cloud").code == 0
    assert cms_here("set").out.strip() == ""


# ---- the VM life cycle through the CLI -----------------------------------------------------
def test_vm_session(aws_cloud: str, cms_home: Path) -> None:
    boot = cms_here("vm", "boot", "--name=web[01-03]", "--wait", "--timeout=60", "--output=json")
    assert boot.code == 0, boot
    assert [vm["name"] for vm in boot.json()] == ["web01", "web02", "web03"]
    assert all(vm["status"] == "running" for vm in boot.json())
    assert "web01: running" in boot.err  # progress on stderr

    table = cms_here("vm", "list")
    assert table.code == 0
    header = table.out.splitlines()[0].split()
    assert header[:3] == ["name", "status", "cloud"]
    assert sum(1 for line in table.out.splitlines() if line.startswith("web0")) == 3

    as_yaml = cms_here("vm", "list", "web0[1-2]", "--output=yaml")
    import yaml

    assert [vm["name"] for vm in yaml.safe_load(as_yaml.out)] == ["web01", "web02"]
    as_csv = cms_here("vm", "list", "--output=csv")
    assert as_csv.out.splitlines()[0].startswith("name,status,cloud")
    assert len(as_csv.out.splitlines()) == 4

    info = cms_here("vm", "info", "web01", "--output=json")
    assert info.json()["name"] == "web01" and info.json()["image"] == MOTO_UBUNTU_AMI

    stop = cms_here("vm", "stop", "web0[1-2]", "--wait", "--timeout=60")
    assert stop.code == 0, stop
    status = cms_here("vm", "status", "web[01-03]", "--output=json").json()
    assert [vm["status"] for vm in status] == ["stopped", "stopped", "running"]
    assert cms_here("vm", "start", "web01,web02", "--wait", "--timeout=60").code == 0
    assert cms_here("vm", "reboot", "web03").code == 0

    cached = cms_here("vm", "list", "--cached", "--output=json")
    assert {vm["name"] for vm in cached.json()} == {"web01", "web02", "web03"}

    delete = cms_here("vm", "delete", "web[01-03]", "--wait", "--timeout=60")
    assert delete.code == 0, delete
    after = cms_here("vm", "list", "--output=json").json()
    assert {vm["status"] for vm in after} == {"terminated"}


def test_generated_names_and_failed_boot_releases_counter(aws_cloud: str,
                                                          cms_home: Path) -> None:
    first = cms_here("vm", "boot", "--n=2", "--output=json")
    assert [vm["name"] for vm in first.json()] == ["tester-vm-1", "tester-vm-2"]
    before = snapshot(cms_home)
    failed = cms_here("vm", "boot", "--flavor=t9.nonexistent")
    assert failed.code == 3, failed
    assert "t9.nonexistent" in failed.err and "Traceback" not in failed.err
    assert snapshot(cms_home) == before  # the counter was given back
    nxt = cms_here("vm", "boot", "--output=json")
    assert nxt.json()[0]["name"] == "tester-vm-3"


def test_dryrun_changes_nothing(aws_cloud: str, cms_home: Path, moto: str) -> None:
    cms_here("vm", "boot", "--name=keep")
    before = snapshot(cms_home)
    from conftest import ec2_client

    instances_before = ec2_client(moto).describe_instances()["Reservations"]
    boot = cms_here("vm", "boot", "--name=new[1-2]", "--dryrun")
    assert boot.code == 0 and boot.err.count("would boot") == 2
    stop = cms_here("vm", "delete", "keep", "--dryrun")
    assert stop.code == 0 and "would delete keep" in stop.err
    assert ec2_client(moto).describe_instances()["Reservations"] == instances_before
    assert snapshot(cms_home) == before


def test_multi_cloud_list_shows_the_others_when_one_fails(cms_home: Path, moto: str) -> None:
    spec_bad = aws_cloud_spec("http://127.0.0.1:9")  # nothing listens there
    write_config(cms_home, {"east": aws_cloud_spec(moto), "west": aws_cloud_spec(moto, "us-west-2"),
                            "down": spec_bad})
    assert cms_here("vm", "boot", "--name=e1", "--cloud=east").code == 0
    assert cms_here("vm", "boot", "--name=w1", "--cloud=west").code == 0
    both = cms_here("vm", "list", "--cloud=east,west", "--output=json")
    assert both.code == 0 and {vm["name"] for vm in both.json()} == {"e1", "w1"}
    partial = cms_here("vm", "list", "--cloud=east,down", "--output=json")
    assert partial.code == 1
    assert [vm["name"] for vm in partial.json()] == ["e1"]
    assert "cannot reach EC2" in partial.err


def test_image_and_flavor_commands(small_moto_catalog: str, aws_cloud: str) -> None:
    images = cms_here("image", "list", "--output=json")
    assert images.code == 0 and MOTO_UBUNTU_AMI in {i["id"] for i in images.json()}
    show = cms_here("image", "show", MOTO_UBUNTU_AMI, "--output=json")
    assert show.json()["id"] == MOTO_UBUNTU_AMI and show.json()["kind"] == "aws"
    assert "field" in cms_here("image", "show", MOTO_UBUNTU_AMI).out
    flavors = cms_here("flavor", "list", "--output=json")
    assert {"t3.micro", "m5.large"} <= {f["name"] for f in flavors.json()}
    micro = cms_here("flavor", "show", "t3.micro", "--output=json").json()
    assert micro["vcpus"] == 2 and micro["ram_mb"] == 1024
    cached = cms_here("flavor", "list", "--cached", "--output=json")
    assert len(cached.json()) == len(flavors.json())
    assert_one_line_error(cms_here("flavor", "show", "t9.none"), 3, "t9.none")
    assert_one_line_error(cms_here("image", "show", "ami-00000000"), 3)


def test_check_reports_each_cloud(cms_home: Path, moto: str) -> None:
    bare = aws_cloud_spec(moto)
    del bare["credentials"]["access_key_id"], bare["credentials"]["secret_access_key"]
    write_config(cms_home, {"good": aws_cloud_spec(moto), "nocreds": bare,
                            "nokind": {"cm": {"kind": "nosuchkind"}}})
    # in this process (CMS_IN_PROCESS): two kinds would start a worker process per kind,
    # which test_first_hour's check test and test_regions exercise
    result = cms_here("check", "--output=json", env={"CMS_IN_PROCESS": "1"})
    rows = {row["cloud"]: row for row in result.json()}
    assert rows["good"]["status"] == "ok" and "us-east-1" in rows["good"]["detail"]
    assert rows["nocreds"]["status"] == "not set up" and "credentials" in rows["nocreds"]["detail"]
    assert "provides cloudmesh/nosuchkind/compute.py" in rows["nokind"]["detail"]
    assert result.code == 4
    only = cms_here("check", "good")
    assert only.code == 0 and "good" in only.out and "nocreds" not in only.out


# ---- documented errors: one line, exit code, nothing changed --------------------------------
def test_bad_yaml_names_file_and_line(cms_home: Path) -> None:
    cms_home.mkdir(parents=True)
    path = cms_home / "cloudmesh.yaml"
    path.write_text("cloudmesh:\n  compute:\n    a: {cm: {kind: aws}\n  other: [1, 2\n")
    path.chmod(0o600)
    before = snapshot(cms_home)
    result = cms_here("vm", "list", "--cloud=a")
    assert_one_line_error(result, 4, f"{path}:", "invalid YAML")
    line = int(result.err.split(f"{path}:")[1].split(":")[0])
    assert 3 <= line <= 4
    assert snapshot(cms_home) == before
    assert cms_here("config", "set", "cloudmesh.profile.user", "x").code == 4
    assert snapshot(cms_home) == before


@pytest.mark.parametrize("content,fragment", [
    (b"", "is empty"),
    (b"- just\n- a list\n", "top level must be a mapping"),
    (b"cloudmesh:\n  compute: 3\n", "must be a mapping"),
    (b"cloudmesh:\n  compute:\n    a: {cm: {kind: aws}}\n  x: \xff\xfe\n", "not UTF-8"),
    (b"cloudmesh:\n  compute:\n    a: {cm: {kind: aws}, credentails: {}}\n",
     "unknown key 'credentails' (did you mean 'credentials'?)"),
    (b"cloudmesh:\n  compute:\n    a: {cm: aws}\n", "'cm' must be a mapping, not str"),
    (b"cloudmesh:\n  compute:\n    a: {cm: {kind: aws}, credentials: [1, 2]}\n",
     "'credentials' must be a mapping, not list"),
    (b"cloudmesh:\n  compute:\n    a: {cm: {kind: aws}, credentials: {region: [x]}}\n",
     "'credentials.region' must be a single value"),
    (b"cloudmesh:\n  compute:\n    a: {cm: {kind: aws}, credentials: {regoin: x}}\n",
     "unknown credentials key 'regoin' for kind aws (did you mean 'region'?)"),
    (b"cloudmesh:\n  compute:\n    a: {cm: {kind: 'aws; rm -rf'}}\n", "invalid kind"),
])
def test_malformed_configs(cms_home: Path, content: bytes, fragment: str) -> None:
    cms_home.mkdir(parents=True)
    (cms_home / "cloudmesh.yaml").write_bytes(content)
    (cms_home / "cloudmesh.yaml").chmod(0o600)
    assert_one_line_error(cms_here("vm", "list", "--cloud=a"), 4, fragment)


def test_missing_config_and_directory_in_its_place(cms_home: Path) -> None:
    assert_one_line_error(cms_here("vm", "list", "--cloud=a"), 4, "cms init")
    (cms_home / "cloudmesh.yaml").mkdir(parents=True)
    assert_one_line_error(cms_here("vm", "list", "--cloud=a"), 4, "is a directory")


def test_unknown_cloud(aws_cloud: str, cms_home: Path) -> None:
    before = snapshot(cms_home)
    assert_one_line_error(cms_here("vm", "list", "--cloud=mars"), 4, "cloud 'mars'",
                          "known: moto")
    assert snapshot(cms_home) == before


def test_no_cloud_at_all(cms_home: Path, moto: str) -> None:
    write_config(cms_home, {"a": aws_cloud_spec(moto)})
    assert_one_line_error(cms_here("vm", "list"), 4, "no cloud given", "--cloud")


def test_missing_kind_and_unset_env(cms_home: Path) -> None:
    write_config(cms_home, {"nokind": {"credentials": {}},
                            "env": {"cm": {"kind": "aws"},
                                    "credentials": {"secret_access_key": "${NOT_SET_ANYWHERE}"}}})
    assert_one_line_error(cms_here("vm", "list", "--cloud=nokind"), 4, "no cm.kind")
    result = cms_here("vm", "list", "--cloud=env")
    assert_one_line_error(result, 4, "NOT_SET_ANYWHERE", "secret_access_key")


def test_missing_credentials(cms_home: Path, moto: str) -> None:
    spec = aws_cloud_spec(moto)
    del spec["credentials"]["access_key_id"], spec["credentials"]["secret_access_key"]
    write_config(cms_home, {"bare": spec})
    before = snapshot(cms_home)
    assert_one_line_error(cms_here("vm", "boot", "--name=a", "--cloud=bare"), 4,
                          "no AWS credentials")
    assert snapshot(cms_home) == before


def test_api_error_from_the_cloud(cms_home: Path, moto: str) -> None:
    write_config(cms_home, {"z": aws_cloud_spec(moto, zone="us-east-1z")}, default="z")
    cms_here("vm", "list")
    before = snapshot(cms_home)
    result = cms_here("vm", "boot", "--name=x")
    assert_one_line_error(result, 1, "EC2 InvalidParameterValue", "us-east-1z")
    assert snapshot(cms_home) == before
    assert snapshot(cms_home) == before
    missing = cms_here("vm", "boot", "--name=y", "--image=ami-00000000")
    assert_one_line_error(missing, 3, "InvalidAMIID.NotFound")
    assert snapshot(cms_home) == before


def test_not_found_and_not_supported(aws_cloud: str, cms_home: Path) -> None:
    assert_one_line_error(cms_here("vm", "stop", "ghost"), 3, "ghost")
    cms_here("vm", "boot", "--name=s1")
    assert_one_line_error(cms_here("vm", "suspend", "s1"), 2,
                          "suspend is not supported by aws:")


@pytest.mark.parametrize("argv,fragment", [
    (["vm", "list", "--bogus"], "unknown option --bogus"),
    (["vm", "lst"], "invalid arguments"),
    (["vm", "list", "--output=xml"], "unknown --output 'xml'"),
    (["vm", "list", "vm[3-1]"], "3 is above 1"),
    (["vm", "list", "vm[01-1000000]"], "at most 1000"),
    (["vm", "stop", "web[1-"], "not closed"),
    (["vm", "boot", "--n=zero"], "--n takes a whole number"),
    (["vm", "boot", "--timeout=soon"], "--timeout takes a number"),
    (["vm", "wait", "a", "--timeout=-1"], "must be above 0"),
    (["vm", "list", "bad\x01name"], "control character"),  # other names are looked up
])
def test_usage_errors(aws_cloud: str, cms_home: Path, argv: list[str], fragment: str) -> None:
    before = snapshot(cms_home)
    assert_one_line_error(cms_here(*argv), 2, fragment)
    assert snapshot(cms_home) == before


def test_debug_shows_the_traceback(cms_home: Path) -> None:
    result = cms_here("--debug", "vm", "list", "--cloud=a")
    assert result.code == 4 and "Traceback" in result.err
    assert result.err.strip().splitlines()[-1].startswith("error: ")


def test_unknown_command_suggests_the_closest(cms_home: Path) -> None:
    assert_one_line_error(cms_here("vmm", "list"), 2, "unknown command 'vmm'",
                          "did you mean 'cms vm'?")
    plain = cms_here("zzzq")
    assert_one_line_error(plain, 2, "unknown command 'zzzq'")
    assert "did you mean" not in plain.err

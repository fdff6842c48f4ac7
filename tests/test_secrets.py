"""Secrets never reach output, logs, state files or error text.

Canary values are planted in every secret credential field of every kind named in the
design (and in an environment variable a config value refers to); then every command runs,
succeeding and failing, with and without --debug, in every output format (in this process;
what only a process shows, as processes too). No canary may appear in stdout, stderr, the
test process's file descriptors 1 and 2, or any file cms keeps beside cloudmesh.yaml.

Non-secret credential fields (region, project, endpoints, user names, file paths) are
printed on purpose (by `cms config cat`, in error messages that name a profile or
endpoint); the canaries go where secrets go.
"""

from __future__ import annotations

import itertools
import uuid
from pathlib import Path

import pytest

from conftest import MOTO_UBUNTU_AMI, cms_here, run_cms, write_config
from moto_catalog import small_moto_catalog  # noqa: F401  (a fixture)

SECRET_FIELDS = {
    "aws": ["access_key_id", "secret_access_key", "session_token"],
    "openstack": ["password", "application_credential_secret"],
    "azure": ["client_secret", "access_token"],
    "google": ["access_token"],
    "oracle": ["pass_phrase"],
}


def canary(kind: str, field: str) -> str:
    return f"CANARY{kind}{field.replace('_', '')}{uuid.uuid4().hex[:10]}"


@pytest.fixture
def planted(cms_home: Path, moto: str, monkeypatch) -> dict[str, str]:
    canaries: dict[str, str] = {}
    clouds = {}
    for kind, fields in SECRET_FIELDS.items():
        credentials = {}
        for field in fields:
            credentials[field] = canaries[f"{kind}.{field}"] = canary(kind, field)
        clouds[kind] = {"cm": {"kind": kind, "retries": 1, "timeout": 5},
                        "credentials": credentials}
    clouds["aws"]["credentials"].update(region="us-east-1", endpoint_url=moto)
    # the other kinds get everything they need to send their secrets on the wire, to an
    # endpoint where nothing listens: the SDKs' connection errors must not show them
    nowhere = "http://127.0.0.1:9"
    clouds["openstack"]["credentials"].update(
        auth_url=f"{nowhere}/identity/v3", username="demo", project_name="demo",
        user_domain_name="Default", project_domain_name="Default", region_name="RegionOne")
    clouds["azure"]["credentials"].update(
        subscription_id="00000000-0000-0000-0000-000000000000", resource_group="cms",
        location="eastus", base_url=nowhere)
    clouds["google"]["credentials"].update(project="canary-project", zone="us-east1-b",
                                           api_endpoint=nowhere)
    from fakes.oracle.harness import make_api_key

    key_file, fingerprint = make_api_key(cms_home.parent / "oci",
                                         passphrase=canaries["oracle.pass_phrase"])
    clouds["oracle"]["credentials"].update(
        user="ocid1.user.oc1..canary", tenancy="ocid1.tenancy.oc1..canary",
        region="us-ashburn-1", key_file=str(key_file), fingerprint=fingerprint,
        compartment_id="ocid1.compartment.oc1..canary", service_endpoint=nowhere)
    clouds["aws"]["default"] = {"image": MOTO_UBUNTU_AMI, "flavor": "t3.micro"}
    # the same secrets reaching an endpoint where nothing listens, and one from ${ENV}
    env_secret = canaries["env"] = canary("env", "token")
    monkeypatch.setenv("CMS_TEST_SECRET", env_secret)
    clouds["awsdown"] = {"cm": {"kind": "aws"}, "credentials": {
        **clouds["aws"]["credentials"], "endpoint_url": "http://127.0.0.1:9",
        "session_token": "${CMS_TEST_SECRET}"}, "default": clouds["aws"]["default"]}
    clouds["awsenv"] = {"cm": {"kind": "aws"}, "credentials": {
        **clouds["aws"]["credentials"], "secret_access_key": "${CMS_TEST_SECRET}"},
        "default": clouds["aws"]["default"]}
    write_config(cms_home, clouds, default="aws")
    return canaries


COMMANDS = [
    ["help"], ["version"], ["provider", "list"], ["config", "cat"], ["config", "check"],
    ["config", "get", "cloudmesh"], ["config", "get", "cloudmesh.compute.aws.credentials"],
    ["check"], ["check", "aws,awsdown,awsenv"], ["set", "cloud=aws"], ["set"],
    ["vm", "boot", "--name=s[1-2]", "--wait", "--timeout=30"],
    ["vm", "boot", "--name=bad", "--image=ami-00000000"],
    ["vm", "boot", "--name=x", "--cloud=awsdown", "--timeout=5"],
    ["vm", "boot", "--name=e1", "--cloud=awsenv"],
    ["vm", "info", "s1"], ["vm", "info", "ghost"], ["vm", "status", "s[1-2]"],
    ["vm", "stop", "s1"], ["vm", "delete", "s2", "--dryrun"],
    ["vm", "list", "--cloud=aws,awsdown,awsenv,openstack,azure,google,oracle"],
    ["vm", "list", "--cached"], ["image", "show", MOTO_UBUNTU_AMI], ["flavor", "show", "t3.micro"],
    ["key", "list", "--cloud=aws"], ["secgroup", "list", "--cloud=aws"],
    ["key", "gen", "k1"], ["key", "upload", "k1", "--cloud=aws"], ["key", "list"],
    ["vm", "ssh", "s1", "--command=true", "--timeout=2"],
    ["vm", "list", "--cloud=nosuchcloud"], ["vm", "nosuchverb"],
]
FORMATTED = [["vm", "list"], ["vm", "info", "s1"], ["image", "list"], ["check"],
             ["flavor", "list", "--cloud=awsenv"]]


def all_invocations() -> tuple[list[list[str]], list[list[str]]]:
    """The runs that change state, in order, and the runs that only read (run at once)."""
    ordered, reads = [], []
    for command in COMMANDS:
        ordered += [command, ["--debug", *command]]
    for command, fmt in itertools.product(FORMATTED, ("table", "json", "yaml", "csv")):
        reads += [[*command, f"--output={fmt}"], ["--debug", *command, f"--output={fmt}"]]
    reads += [["config", "get", f"cloudmesh.compute.{kind}.credentials.{field}"]
              for kind, fields in SECRET_FIELDS.items() for field in fields]
    return ordered, reads


#: what only a process shows, so these also run as real ``cms`` processes: what the
#: interpreter or a native library writes to fd 2 (at exit too), a traceback Python itself
#: prints, and the worker processes (one per kind) that ``check`` and a multi-cloud
#: ``vm list`` start without CMS_IN_PROCESS, with their own stderr
IN_A_PROCESS = [
    ["--debug", "check"],
    ["--debug", "check", "--output=json"],
    ["--debug", "vm", "list", "--cloud=aws,awsdown,awsenv,openstack,azure,google,oracle"],
    ["--debug", "vm", "boot", "--name=x", "--cloud=awsdown", "--timeout=5"],
    ["config", "cat"], ["--debug", "config", "cat"], ["--debug", "vm", "nosuchverb"],
]


def canary_leaks(planted: dict[str, str], where: str, *texts: tuple[str, str]) -> list[str]:
    """'WHERE: NAME in STREAM' for each canary found in each (stream, text)."""
    return [f"{where}: {name} in {stream}" for stream, text in texts
            for name, value in planted.items() if value in text]


def test_no_canary_anywhere(planted: dict[str, str], cms_home: Path, small_moto_catalog: str,
                            capfd: pytest.CaptureFixture[str]) -> None:
    """Every invocation runs in this process (cms_here, with CMS_IN_PROCESS=1 so that
    'check' and multi-cloud lists run each kind here too) and its stdout and stderr are
    searched; so is whatever reached this process's file descriptors 1 and 2 meanwhile
    (a native library, a thread writing after its command returned). The IN_A_PROCESS
    forms run again as real processes, at the same time as the reads, for what only a
    process shows (see IN_A_PROCESS)."""
    from concurrent.futures import ThreadPoolExecutor

    ordered, reads = all_invocations()
    here = {"CMS_IN_PROCESS": "1"}
    leaks = []
    for argv in ordered:
        leaks += canary_leaks(planted, f"cms {' '.join(argv)}",
                              *_streams(cms_here(*argv, env=here)))
    with ThreadPoolExecutor(max_workers=2) as pool:
        processes = [(argv, pool.submit(run_cms, *argv, timeout=180)) for argv in IN_A_PROCESS]
        for argv in reads:
            leaks += canary_leaks(planted, f"cms {' '.join(argv)}",
                                  *_streams(cms_here(*argv, env=here)))
        for argv, process in processes:
            leaks += canary_leaks(planted, f"cms {' '.join(argv)} (a process)",
                                  *_streams(process.result()))
    captured = capfd.readouterr()
    leaks += canary_leaks(planted, "this process", ("fd 1", captured.out),
                          ("fd 2", captured.err))
    for path in sorted(cms_home.rglob("*")):
        if path.is_file() and path.name != "cloudmesh.yaml":
            data = path.read_bytes()
            leaks += [f"{path.name}: {name}" for name, value in planted.items()
                      if value.encode() in data]
    assert not leaks, leaks
    # the commands really ran: the boots happened and the failures were reported
    listed = cms_here("vm", "list", "--cloud=aws", "--output=json").json()
    assert {"s1", "s2"} <= {vm["name"] for vm in listed}
    assert len(ordered + reads) > 100
    (process,) = [p.result() for argv, p in processes if argv[-1] == "--output=json"]
    assert {row["cloud"] for row in process.json()} >= {"aws", "awsdown", "oracle"}, process


def _streams(result) -> tuple[tuple[str, str], tuple[str, str]]:
    return ("stdout", result.out), ("stderr", result.err)


def test_debug_traceback_is_scrubbed(planted: dict[str, str], capsys, monkeypatch) -> None:
    """An error whose text and traceback carry secrets read from the config is printed
    with them masked, under --debug too."""
    from cloudmesh.compute import Config, errors

    config = Config()
    secret = config.cloud("aws")["credentials"]["secret_access_key"]
    from_env = config.cloud("awsenv")["credentials"]["secret_access_key"]
    assert secret == planted["aws.secret_access_key"] and from_env == planted["env"]
    monkeypatch.setattr(errors, "DEBUG", True)
    try:
        try:
            raise ValueError(f"signature for {secret} rejected")
        except ValueError as inner:
            raise RuntimeError(f"request failed with {from_env}") from inner
    except RuntimeError as error:
        errors.print_error(error)
    err = capsys.readouterr().err
    assert "Traceback" in err and "signature for ******** rejected" in err
    assert secret not in err and from_env not in err


def test_scrub_masks_registered_secrets() -> None:
    from cloudmesh.compute import errors

    errors.register_secret("s3cr3t-value-xyz")
    assert errors.scrub("token s3cr3t-value-xyz leaked") == "token ******** leaked"
    errors.register_secret("abc")  # too short to mask safely: ignored
    assert errors.scrub("abc") == "abc"

"""cms check tells "not set up" (no credentials found at all: none in cloudmesh.yaml and
none in the vendor's own chain) from "failed" (credentials there, but wrong or refused),
for openstack, azure, google and oracle as for aws and multipass (issue 25). Each runs as
a user runs it: cms in a fresh, empty HOME, no vendor tool on PATH; one kind at a time in
this process (cms_here, with the warnings a new process would print counted as output),
all kinds at once as the installed cms, each kind in its own worker process.

An unnamed check over all clouds exits 0 when the others are merely not set up (a fresh
template is not broken); a cloud named must work, so naming it exits 4."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import cms_here, run_cms, write_config

#: each kind's entry as 'cms init' writes it: what the user fills in, no credentials
UNSET = {
    "openstack": {"cm": {"kind": "openstack"}, "credentials": {"cloud": "openstack"}},
    "azure": {"cm": {"kind": "azure"},
              "credentials": {"subscription_id": "00000000-0000-0000-0000-000000000000",
                              "resource_group": "cms", "location": "eastus"}},
    "google": {"cm": {"kind": "google"},
               "credentials": {"project": "my-project", "zone": "us-central1-a"}},
    "oracle": {"cm": {"kind": "oracle"},
               "credentials": {"profile": "DEFAULT",
                               "compartment_id": "ocid1.compartment.oc1..x"}},
}


@pytest.fixture
def empty_home(cms_home: Path, tmp_path: Path) -> dict[str, str]:
    """The environment of a user with nothing set up: an empty HOME (cms_home removes
    every vendor variable), a PATH without az, gcloud or oci, and google-auth told that
    this is no Google VM (its metadata probe would leave 127.0.0.1)."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    return {"PATH": str(empty), "NO_GCE_CHECK": "true"}


def statuses(result) -> dict[str, str]:
    assert result.err == "", result  # nothing beside the table: no SDK warning
    return {row["cloud"]: row["status"] for row in result.json()}


#: kinds whose SDK reads its environment once, at import (openstacksdk's clouds.yaml
#: search path in HOME; google-auth's NO_GCE_CHECK): in this process they would see an
#: earlier test's, so they run as processes
HOME_AT_IMPORT = {"openstack", "google"}


def check(env: dict[str, str], *clouds: str, kind: str = ""):
    """``cms check CLOUDS --output=json`` in this process (a process for HOME_AT_IMPORT);
    a Python warning it raises is part of its stderr, as a new process would print it."""
    if kind in HOME_AT_IMPORT:
        return run_cms("check", *clouds, "--output=json", env=env, timeout=180)
    return cms_here("check", *clouds, "--output=json", env={**env, "CMS_IN_PROCESS": "1"})


@pytest.mark.parametrize("kind", sorted(UNSET))
def test_a_kind_without_credentials_is_not_set_up(kind: str, cms_home: Path,
                                                  empty_home: dict[str, str]) -> None:
    write_config(cms_home, {"mine": UNSET[kind]})
    unnamed = check(empty_home, kind=kind)
    assert unnamed.code == 0, unnamed
    assert statuses(unnamed) == {"mine": "not set up"}
    named = check(empty_home, "mine", kind=kind)  # asked for by name: it must work
    assert named.code == 4, named
    (row,) = named.json()
    assert row["status"] == "not set up" and row["kind"] == kind, row
    assert "'mine'" in row["detail"] and "\n" not in row["detail"]


def test_every_kind_at_once_not_set_up_exits_0(cms_home: Path,
                                               empty_home: dict[str, str]) -> None:
    """One config with all four (each kind in its own worker process): the status and
    its code survive the worker, and nothing set up is no failure."""
    write_config(cms_home, {kind: spec for kind, spec in UNSET.items()})
    result = run_cms("check", "--output=json", env=empty_home, timeout=180)
    assert result.code == 0, result
    assert statuses(result) == {kind: "not set up" for kind in UNSET}


def _present_but_wrong(kind: str, home: Path, env: dict[str, str]) -> dict:
    """The kind's entry with credentials that are there but unusable."""
    spec = {**UNSET[kind], "credentials": dict(UNSET[kind]["credentials"])}
    if kind == "openstack":  # a clouds.yaml, without the entry named
        folder = home / ".config" / "openstack"
        folder.mkdir(parents=True)
        (folder / "clouds.yaml").write_text(
            "clouds:\n  other:\n    auth: {auth_url: 'http://127.0.0.1:9/v3'}\n")
    elif kind == "azure":  # a token, and ARM does not answer
        spec["credentials"].update(access_token="not-a-real-token",
                                   base_url="http://127.0.0.1:9")
    elif kind == "google":  # ADC named by the environment, the file missing
        env["GOOGLE_APPLICATION_CREDENTIALS"] = str(home / "missing-adc.json")
    else:  # oracle: a ~/.oci/config without the profile named
        (home / ".oci").mkdir()
        (home / ".oci" / "config").write_text("[OTHER]\nregion=us-ashburn-1\n")
    return spec


@pytest.mark.parametrize("kind", sorted(UNSET))
def test_credentials_present_but_wrong_fail(kind: str, cms_home: Path,
                                            empty_home: dict[str, str]) -> None:
    spec = _present_but_wrong(kind, cms_home.parent, empty_home)
    write_config(cms_home, {"mine": spec})
    result = check(empty_home, kind=kind)
    assert result.code in (1, 4), result  # broken is never exit 0
    (row,) = result.json()
    assert row["status"] == "failed", row


# ---- aws: the instance-role probe (IMDS) only where this may be an EC2 instance ------------
@pytest.mark.parametrize("maker, probed", [("QEMU", False), ("Amazon EC2", True)])
def test_aws_asks_imds_only_on_what_may_be_ec2(maker: str, probed: bool, cms_home: Path,
                                               tmp_path: Path, monkeypatch) -> None:
    """Off EC2 (DMI names another maker) the chain skips IMDS and says 'not set up' at
    once; on EC2 the instance role is still looked for. The probe is seen through the
    network guard, which refuses 169.254.169.254 and says so on stderr: nothing leaves."""
    import cloudmesh.aws.compute as aws
    import cloudmesh.aws.imds as imds

    from conftest import cms_here

    dmi = tmp_path / "dmi"
    dmi.mkdir()
    (dmi / "sys_vendor").write_text(maker + "\n")
    monkeypatch.setattr(imds, "DMI", dmi)
    monkeypatch.setattr(imds, "XEN_UUID", tmp_path / "no-xen")
    monkeypatch.setattr(aws, "_SESSIONS", {})  # a session of an earlier test kept its chain
    monkeypatch.delenv("AWS_EC2_METADATA_DISABLED", raising=False)
    write_config(cms_home, {"aws": {"cm": {"kind": "aws"},
                                    "credentials": {"region": "us-east-1"}}})
    result = cms_here("check", "--output=json")
    assert result.code == 0, result
    (row,) = result.json()
    assert row["status"] == "not set up", row
    assert ("169.254.169.254" in result.err) is probed, result.err

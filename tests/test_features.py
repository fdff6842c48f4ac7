"""`cms provider list --features`: the feature matrix from each installed provider's own
declarations (table with numbered reasons, and one record per kind and operation), the
README's copy of it, a broken third-party kind that does not hide the others, and plain
`cms provider list` that stays free of provider modules."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from cloudmesh.compute.abc import FEATURES
from conftest import cms_here, run_cms
from moto_catalog import small_moto_catalog  # noqa: F401  (a fixture)

README = Path(__file__).parents[1] / "README.md"
OPERATIONS = list(FEATURES)


def test_features_json_has_every_kind_and_operation(cms_home: Path) -> None:
    result = cms_here("provider", "list", "--features", "--output=json")
    assert result.code == 0, result
    records = result.json()
    kinds = {r["kind"] for r in records}
    assert {"aws", "openstack", "azure", "google", "oracle", "multipass"} <= kinds
    for kind in kinds:
        assert [r["operation"] for r in records if r["kind"] == kind] == OPERATIONS
    for record in records:
        assert set(record) == {"kind", "operation", "supported", "reason"}
        # every "no" says why; every "yes" has no reason
        assert (record["reason"] is None) == record["supported"], record
    row = {r["operation"]: r for r in records if r["kind"] == "multipass"}
    assert not row["secgroups"]["supported"]
    assert "security groups" in row["secgroups"]["reason"]
    assert row["key injection"]["supported"]
    aws = {r["operation"]: r for r in records if r["kind"] == "aws"}
    assert aws["key injection"]["reason"] == "keys are the cloud's key pairs"
    assert not aws["suspend"]["supported"] and "hibernat" in aws["suspend"]["reason"]


def test_features_are_values_with_a_supported_flag_and_a_reason() -> None:
    """features() gives per operation a Feature(supported, reason): a reason only when
    not supported, and never a "no: ..." string inside a reason."""
    from cloudmesh.compute.capabilities import Feature
    from cloudmesh.compute.registry import features, kinds

    for kind in {"aws", "multipass", "openstack"} & set(kinds()):
        row = features(kind)
        assert list(row) == OPERATIONS
        for operation, feature in row.items():
            assert isinstance(feature, Feature), (kind, operation, feature)
            assert (feature.reason is None) == feature.supported, (kind, operation)
            assert not (feature.reason or "").startswith(("no:", "yes")), feature
    assert features("aws")["key injection"] == Feature(False, "keys are the cloud's key pairs")
    assert features("multipass")["key injection"] == Feature(True)


def test_features_table_numbers_each_reason(cms_home: Path) -> None:
    result = cms_here("provider", "list", "--features")
    assert result.code == 0, result
    table, _, notes = result.out.partition("\n\n")
    lines = table.splitlines()
    assert lines[0].split()[0] == "operation"
    assert [line.split()[0] for line in lines[2:]] == [op.split()[0] for op in OPERATIONS]
    used = set(re.findall(r"no \((\d+)\)", table))
    noted = dict(re.findall(r"^\((\d+)\) (.+)$", notes, re.M))
    assert used and used == set(noted), (used, noted)
    # the same format switch as every list: -o
    short = cms_here("provider", "list", "--features", "-o", "csv")
    assert short.code == 0 and short.out.startswith("kind,operation,supported,reason\n")


def test_readme_shows_the_matrix_of_every_kind_in_the_repository(cms_home: Path) -> None:
    """The README's matrix is what the providers of this repository declare today; when
    one changes, the failure shows the block to paste."""
    from cloudmesh.compute.command.provider import feature_markdown

    result = cms_here("provider", "list", "--features", "--output=json")
    records = [r for r in result.json()
               if (README.parent / f"cloudmesh-{r['kind']}").is_dir()]
    assert {r["kind"] for r in records} >= {"aws", "openstack", "azure", "google", "oracle",
                                            "multipass"}
    expected = feature_markdown(records)
    section = README.read_text().split("## What each kind can do", 1)[1].split("\n## ", 1)[0]
    assert expected in section, f"README.md, section 'What each kind can do':\n{expected}"


@pytest.fixture
def broken_kind(tmp_path: Path, monkeypatch) -> str:
    """A third-party kind whose module cannot be imported (its SDK is missing)."""
    package = tmp_path / "src" / "cloudmesh" / "brokenkind"
    package.mkdir(parents=True)
    (package / "compute.py").write_text(
        "from cloudmesh.compute.lazy import require\n"
        "require('no_such_sdk_module', 'cloudmesh-brokenkind', 'no-such-sdk')\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [str(tmp_path / "src"), *filter(None, [os.environ.get("PYTHONPATH")])]))
    return "brokenkind"


def test_a_kind_that_cannot_load_does_not_hide_the_others(cms_home: Path,
                                                           broken_kind: str) -> None:
    result = run_cms("provider", "list", "--features", "--output=json")
    assert result.code == 0, result
    broken = [r for r in result.json() if r["kind"] == broken_kind]
    assert len(broken) == len(OPERATIONS)
    assert all(not r["supported"] and "no_such_sdk_module" in r["reason"] and
               "pip install no-such-sdk" in r["reason"] for r in broken)
    assert any(r["kind"] == "aws" and r["supported"] for r in result.json())
    table = run_cms("provider", "list", "--features")
    assert table.code == 0 and "brokenkind" in table.out.splitlines()[0]
    # plain 'provider list' only looks at the file system: the broken module is not run
    plain = run_cms("provider", "list", "--output=json")
    assert plain.code == 0 and broken_kind in {r["kind"] for r in plain.json()}


def test_plain_provider_list_imports_no_provider_module(cms_home: Path) -> None:
    from test_laziness import imported_modules

    modules = imported_modules("provider", "list")
    assert not [m for m in modules if m.endswith(".compute") and m != "cloudmesh.compute"]
    assert not {m.split(".")[0] for m in modules} & {"boto3", "botocore", "openstack",
                                                      "azure", "google", "oci"}


# ---- cms provider new ---------------------------------------------------------------
def test_provider_new_installs_is_listed_and_passes_the_suite(cms_home: Path,
                                                              tmp_path: Path) -> None:
    """The generated distribution pip-installs (editable) into a throwaway venv, cms there
    lists its kind and its features at once, and its generated tests pass the conformance
    suite and the fault suite against its fake REST cloud."""
    import subprocess
    import sys
    import sysconfig

    made = cms_here("provider", "new", "tinycloud", f"--dir={tmp_path / 'dist'}")
    assert made.code == 0, made
    source = tmp_path / "dist"
    assert (source / "cloudmesh" / "tinycloud" / "compute.py").is_file()
    assert (source / "tests" / "test_tinycloud.py").is_file()
    assert not (source / "cloudmesh" / "__init__.py").exists()
    assert "only-include = [\"cloudmesh/tinycloud\"]" in (source / "pyproject.toml").read_text()
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    site = Path(subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path("
                                "'purelib'))"], check=True, capture_output=True,
                               text=True).stdout.strip())
    (site / "_cloudmesh_parent.pth").write_text(
        f"import site; site.addsitedir({sysconfig.get_path('purelib')!r})\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", python, "install", "--quiet",
                    "--no-deps", "--no-build-isolation", "--no-index",
                    "--disable-pip-version-check", "-e", str(source)], check=True)
    # the core's 'cms' script, as installing cloudmesh-compute into the venv would make it
    script = venv / "bin" / "cms"
    script.write_text(f"#!{python}\nimport sys\nfrom cloudmesh.compute.main import main\n"
                      "sys.exit(main())\n")
    script.chmod(0o755)
    env = {**os.environ, "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    listed = subprocess.run([str(script), "provider", "list", "--output=json"],
                            capture_output=True, text=True, env=env, timeout=60)
    assert "tinycloud" in {r["kind"] for r in json.loads(listed.stdout)}, listed.stderr
    features = subprocess.run([str(script), "provider", "list", "--features", "-o", "json"],
                              capture_output=True, text=True, env=env, timeout=60)
    row = {r["operation"]: r for r in json.loads(features.stdout) if r["kind"] == "tinycloud"}
    assert row["boot"]["supported"] and row["key injection"]["supported"]
    assert row["suspend"]["reason"].startswith("to do:")
    tests = subprocess.run([python, "-m", "pytest", "-v", "-p", "no:cacheprovider",
                            str(source / "tests")], capture_output=True, text=True,
                           env=env, cwd=source, timeout=300)
    assert tests.returncode == 0, tests.stdout[-3000:] + tests.stderr[-2000:]
    assert " passed" in tests.stdout and "failed" not in tests.stdout
    # the conformance suite and the fault suite, against the generated fake REST cloud
    assert "TestTinycloud::test_ssh_reaches_the_vm_with_the_delivered_key PASSED" in \
        tests.stdout or "test_ssh_reaches_the_vm_with_the_delivered_key SKIPPED" in tests.stdout
    assert "TestTinycloudFaults::test_create_with_a_lost_answer_boots_once PASSED" in \
        tests.stdout


def test_provider_new_refuses_bad_names_and_existing_folders(cms_home: Path,
                                                             tmp_path: Path) -> None:
    for kind in ("Bad", "1x", "compute", "class", "aws"):
        result = cms_here("provider", "new", kind, f"--dir={tmp_path / kind}")
        assert result.code == 2 and result.err.count("\n") == 1, (kind, result)
        assert not (tmp_path / kind).exists()
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file").write_text("mine")
    result = cms_here("provider", "new", "okcloud", f"--dir={tmp_path / 'taken'}")
    assert result.code == 2 and "already exists" in result.err
    assert sorted(p.name for p in (tmp_path / "taken").iterdir()) == ["file"]


# ---- -o, --filter=KEY=GLOB and --limit=N on every list verb ---------------------------
def test_vm_list_filters_live_and_cached(aws_cloud: str) -> None:
    boot = cms_here("vm", "boot", "--name=web[1-3]", "--output=json")
    assert boot.code == 0, boot
    assert cms_here("vm", "stop", "web2").code == 0
    for cached in ((), ("--cached",)):
        running = cms_here("vm", "list", *cached, "-o", "json", "--filter=status=running")
        assert running.code == 0, running
        assert sorted(vm["name"] for vm in running.json()) == ["web1", "web3"]
        either = cms_here("vm", "list", *cached, "-o", "json", "--filter=status=running",
                          "--filter=status=stop*", "--filter=name=web[23]")
        assert sorted(vm["name"] for vm in either.json()) == ["web2", "web3"]
        limited = cms_here("vm", "list", *cached, "-o", "csv", "--filter=zone=us-east-1*",
                           "--limit=2")
        assert limited.code == 0 and len(limited.out.splitlines()) == 3, limited
        table = cms_here("vm", "list", *cached, "--filter=name=web1")
        assert [line.split()[0] for line in table.out.splitlines()[2:]] == ["web1"]
        none = cms_here("vm", "list", *cached, "-ojson", "--filter=name=nothing*")
        assert none.code == 0 and none.json() == []


def test_bad_filters_are_usage_errors_before_any_request(cms_home: Path) -> None:
    # no cloud is configured: the option is refused before the configuration is read
    for option in ("--filter=status", "--filter==x", "--limit=0", "--limit=ten"):
        for argv in (("vm", "list"), ("image", "list"), ("flavor", "list"), ("key", "list"),
                     ("secgroup", "list"), ("provider", "list")):
            result = cms_here(*argv, option)
            assert result.code == 2 and result.err.startswith("error: --"), (argv, result)


def test_a_field_no_record_has_is_named(aws_cloud: str) -> None:
    assert cms_here("vm", "boot", "--name=one").code == 0
    result = cms_here("vm", "list", "--filter=stauts=running")
    assert result.code == 2 and "no field 'stauts'" in result.err and "status" in result.err


def test_image_flavor_key_secgroup_and_provider_lists_filter(small_moto_catalog: str,
                                                             aws_cloud: str) -> None:
    # moto's catalogue cut to three families and three images (the filters still have
    # something to leave out): its full one takes seconds to list on a loaded machine
    flavors = cms_here("flavor", "list", "-o", "json", "--filter=name=t3.*", "--limit=2")
    assert flavors.code == 0, flavors
    assert len(flavors.json()) == 2 and all(f["name"].startswith("t3.") for f in flavors.json())
    two_cpus = cms_here("flavor", "list", "--cached", "-o", "json", "--filter=vcpus=2",
                        "--filter=name=t3.*")
    assert two_cpus.json() and all(f["vcpus"] == 2 for f in two_cpus.json())
    images = cms_here("image", "list", "-o", "json", "--limit=1")
    assert images.code == 0 and len(images.json()) == 1
    assert cms_here("key", "gen", "lab1").code == 0 and cms_here("key", "gen", "other").code == 0
    keys = cms_here("key", "list", "-o", "json", "--filter=name=lab*")
    assert [k["name"] for k in keys.json()] == ["lab1"]
    assert cms_here("secgroup", "add", "web").code == 0
    groups = cms_here("secgroup", "list", "-o", "json", "--filter=name=w*")
    assert [g["name"] for g in groups.json()] == ["web"]
    kinds = cms_here("provider", "list", "-o", "json", "--filter=kind=a*")
    assert [k["kind"] for k in kinds.json()] == ["aws", "azure"]
    noes = cms_here("provider", "list", "--features", "-o", "json", "--filter=kind=multipass",
                    "--filter=supported=false")
    assert {r["operation"] for r in noes.json()} == {"keys", "secgroups", "public IP",
                                                     "metadata"}


def test_multipass_list_filters(tmp_path: Path) -> None:
    import sys

    from fakes.multipass import harness

    harness.install_fake(tmp_path / "bin")
    env = harness.environment(tmp_path, PATH=f"{tmp_path / 'bin'}:"
                              f"{Path(sys.executable).parent}:/usr/bin:/bin")

    def cms(*args: str):
        return cms_here(*args, env=env, cwd=tmp_path)

    for name in ("web1", "web2", "db1"):
        assert cms("multipass", "launch", name).code == 0
    listed = cms("multipass", "list", "-o", "json", "--filter=name=web*", "--limit=1")
    assert listed.code == 0, listed.err
    assert [vm["name"] for vm in listed.json()] == ["web1"]
    images = cms("multipass", "images", "-o", "json", "--limit=1")
    assert images.code == 0 and len(images.json()) == 1

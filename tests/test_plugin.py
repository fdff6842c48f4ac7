"""Pluggability: a provider distribution built in a temporary directory and pip-installed
into a temporary virtual environment adds its kind to cms, with no change to the core.
The same provider also passes the conformance suite."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from cloudmesh.compute.testing import ComputeProviderSuite
from conftest import cms_here, snapshot, write_config

FAKE = Path(__file__).parent / "fakes" / "filecloud" / "compute.py"
PYPROJECT = """\
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "cloudmesh-filecloud"
version = "0.0.1"
dependencies = ["cloudmesh-compute"]

[tool.hatch.build.targets.wheel]
only-include = ["cloudmesh/filecloud"]
"""


@pytest.fixture(scope="module")
def plugin_venv(tmp_path_factory) -> Path:
    """A throwaway venv that sees this project's packages (through a .pth that adds our
    site-packages) and has cloudmesh-filecloud pip-installed from a throwaway source."""
    root = tmp_path_factory.mktemp("plugin")
    source = root / "cloudmesh-filecloud"
    (source / "cloudmesh" / "filecloud").mkdir(parents=True)
    (source / "pyproject.toml").write_text(PYPROJECT)
    shutil.copy(FAKE, source / "cloudmesh" / "filecloud" / "compute.py")
    (source / "cloudmesh" / "filecloud" / "__init__.py").write_text("")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    target_site = Path(subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True, capture_output=True, text=True).stdout.strip())
    our_site = sysconfig.get_path("purelib")
    (target_site / "_cloudmesh_parent.pth").write_text(
        f"import site; site.addsitedir({our_site!r})\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"),
                    "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
                    "--disable-pip-version-check", str(source)], check=True)
    assert (target_site / "cloudmesh" / "filecloud" / "compute.py").is_file()
    assert not (target_site / "cloudmesh" / "__init__.py").exists()
    return venv


def run_in(venv: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(venv / "bin" / "python"), "-m", "cloudmesh.compute", *args],
                          capture_output=True, text=True, env=dict(os.environ), timeout=60)


def test_installed_distribution_adds_the_kind(plugin_venv: Path, cms_home: Path,
                                              tmp_path: Path) -> None:
    write_config(cms_home, {"x": {"cm": {"kind": "filecloud"},
                                  "credentials": {"path": str(tmp_path / "vms.json")},
                                  "default": {"image": "tiny-os", "flavor": "small"}}})
    # Without the distribution (this project's own venv) the kind is unknown ...
    missing = cms_here("vm", "list", "--cloud=x")
    assert missing.code == 4 and "provides cloudmesh/filecloud/compute.py" in missing.err
    # ... and in the venv where it was pip-installed, cms drives it.
    kinds = run_in(plugin_venv, "provider", "list", "--output=json")
    assert "filecloud" in {row["kind"] for row in json.loads(kinds.stdout)}
    boot = run_in(plugin_venv, "vm", "boot", "--cloud=x", "--name=p[1-2]", "--output=json")
    assert boot.returncode == 0, boot.stderr
    listed = run_in(plugin_venv, "vm", "list", "--cloud=x", "--output=json")
    assert listed.returncode == 0, listed.stderr
    assert [vm["name"] for vm in json.loads(listed.stdout)] == ["p1", "p2"]
    assert {vm["kind"] for vm in json.loads(listed.stdout)} == {"filecloud"}
    version = run_in(plugin_venv, "version")
    assert "cloudmesh-filecloud" in version.stdout
    suspend = run_in(plugin_venv, "vm", "suspend", "p1", "--cloud=x")
    assert suspend.returncode == 2
    assert "suspend is not supported by filecloud: filecloud VMs cannot sleep" in suspend.stderr


@pytest.fixture
def filecloud_on_path(monkeypatch, tmp_path: Path):
    """Make cloudmesh.filecloud importable in this process too (for the suite)."""
    package_root = tmp_path / "src"
    (package_root / "cloudmesh" / "filecloud").mkdir(parents=True)
    shutil.copy(FAKE, package_root / "cloudmesh" / "filecloud" / "compute.py")
    import cloudmesh

    monkeypatch.setattr(cloudmesh, "__path__", [*cloudmesh.__path__,
                                                 str(package_root / "cloudmesh")])
    # ... and in the cms processes the suite starts (the namespace spans sys.path)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [str(package_root), *filter(None, [os.environ.get("PYTHONPATH")])]))
    yield
    for name in [m for m in sys.modules if m.startswith("cloudmesh.filecloud")]:
        del sys.modules[name]


class TestThirdPartyConformance(ComputeProviderSuite):
    """The suite is for third-party providers too: the throwaway one passes it."""

    image = "tiny-os"
    flavor = "small"

    @pytest.fixture
    def cloud(self, filecloud_on_path, cms_home: Path, tmp_path: Path) -> str:
        write_config(cms_home, {"fc": {"cm": {"kind": "filecloud"},
                                       "credentials": {"path": str(tmp_path / "vms.json")}}})
        self.path = tmp_path / "vms.json"
        return "fc"

    def delivered_keys(self, provider, vm) -> list[str]:
        stored = json.loads(self.path.read_text())[vm["name"]]
        return [key for keys in stored["authorized_keys"].values() for key in keys]

    def reboot_count(self, cloud_name: str, vm: dict) -> int:
        return int(json.loads(self.path.read_text())[vm["name"]].get("reboots", 0))

    def bad_credentials(self, spec: dict) -> dict:
        spec["credentials"]["path"] = str(self.path.parent / "no-such-folder" / "vms.json")
        return spec


def test_install_hint_from_a_venv_with_only_the_core(tmp_path: Path, cms_home: Path) -> None:
    """A core installed editable from this checkout names the exact folder to install
    (never the unrelated 'cloudmesh-aws' of the public index); nothing else changes."""
    import cloudmesh.compute

    core_source = Path(cloudmesh.compute.__file__).parents[2]  # .../cloudmesh-compute
    checkout = core_source.parent
    venv = tmp_path / "core-only"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    target_site = Path(subprocess.run(
        [str(venv / "bin" / "python"), "-c",
         "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True, capture_output=True, text=True).stdout.strip())
    # plain path lines: our dependencies and the core's source, but not the .pth files of
    # our site-packages (they would add every provider of the checkout)
    (target_site / "_core_only.pth").write_text(
        f"{core_source}\n{sysconfig.get_path('purelib')}\n")
    write_config(cms_home, {"a": {"cm": {"kind": "aws"}}})
    before = snapshot(cms_home)
    kinds = run_in(venv, "provider", "list", "--output=json")
    assert kinds.returncode == 0, kinds.stderr
    assert json.loads(kinds.stdout) == []
    listed = run_in(venv, "vm", "list", "--cloud=a")
    assert listed.returncode == 4
    expected = f"-m pip install -e {checkout / 'cloudmesh-aws'}"
    assert expected in listed.stderr and len(listed.stderr.strip().splitlines()) == 1, \
        listed.stderr
    assert snapshot(cms_home) == before


# ---- a provider author's traps (issue 20) ---------------------------------------------
def test_a_provider_that_shadows_a_reserved_name_is_refused_at_class_creation() -> None:
    from cloudmesh.compute.abc import ComputeNodeABC

    for name in ("_record", "retry", "timeout", "guard"):
        with pytest.raises(TypeError, match=f"defines '{name}'.*docs/providers.md"):
            type("Shadowing", (ComputeNodeABC,), {name: lambda self, *a: None})
    assert "_record" in (Path(__file__).parents[1] / "docs" / "providers.md").read_text()


def test_a_mappers_own_bug_is_reported_as_the_providers_not_the_clouds() -> None:
    from cloudmesh.compute.abc import ComputeNodeABC
    from cloudmesh.compute.errors import CloudError, CmsError
    from cloudmesh.compute.records import record_mapper

    class Demo(ComputeNodeABC):
        kind = "demo"
        list = info = create = start = stop = reboot = images = flavors = None

        @record_mapper("server")
        def _to_vm(self, item: dict) -> dict:
            return self.vm_record(name=item["name"], colour=item.get("colour"))

        @record_mapper("server")
        def _to_vm_typo(self, item: dict) -> dict:
            return self.vm_record(name=itme["name"])  # noqa: F821 - the bug under test

        @record_mapper("server")
        def _to_vm_right(self, item: dict) -> dict:
            return self.vm_record(name=item["name"])

    Demo.__abstractmethods__ = frozenset()
    demo = Demo("c", {})
    for mapper in (demo._to_vm, demo._to_vm_typo):
        with pytest.raises(CmsError) as raised:
            mapper({"name": "a"})
        assert not isinstance(raised.value, CloudError)
        assert f"bug in the demo provider: its mapper {mapper.__name__}" in str(raised.value)
    with pytest.raises(CloudError, match="answered with a server cms cannot read"):
        demo._to_vm_right({"id": "no name"})


def test_provider_new_says_next_steps_that_work_in_a_fresh_venv(cms_home: Path,
                                                                tmp_path: Path) -> None:
    """A fresh venv has no pytest: the next steps install the generated distribution with
    its [test] extra (which brings pytest) and run pytest through that venv's python."""
    import tomllib

    made = cms_here("provider", "new", "nextcloud", f"--dir={tmp_path / 'dist'}")
    assert made.code == 0, made
    steps = made.err.strip()
    assert steps.startswith("next: pip install -e ") and "[test]" in steps, steps
    assert "python -m pytest" in steps
    project = tomllib.loads((tmp_path / "dist" / "pyproject.toml").read_text())["project"]
    assert any(r.startswith("pytest") for r in project["optional-dependencies"]["test"])
    test_text = (tmp_path / "dist" / "tests" / "test_nextcloud.py").read_text()
    docs = (Path(__file__).parents[1] / "docs" / "providers.md").read_text()
    # the template and the guide agree on how fixtures reach the tests
    assert "from cloudmesh.compute.testing.fixtures import cms_home" in test_text
    assert "from cloudmesh.compute.testing.fixtures import cms_home" in docs
    assert "pytest_plugins" not in docs.replace("not `pytest_plugins`", "")
    compute_text = (tmp_path / "dist" / "cloudmesh" / "nextcloud" / "compute.py").read_text()
    assert "_find_in" not in compute_text and "find_one" in compute_text

"""cms imports no cloud SDK it does not use: `cms help` none at all, a list on an aws
cloud boto3 and no other vendor's SDK (checked with python -X importtime)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import CMS, aws_cloud_spec, write_config

VENDOR_SDKS = {"boto3", "botocore", "openstack", "keystoneauth1", "azure", "google", "oci",
               "paramiko", "libcloud"}


def imported_modules(*args: str) -> set[str]:
    completed = subprocess.run([sys.executable, "-X", "importtime", CMS, *args],
                               capture_output=True, text=True, env=dict(os.environ), timeout=120)
    modules = set()
    for line in completed.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            modules.add(line.rsplit("|", 1)[1].strip())
    assert modules, completed.stderr[-2000:]
    return modules


def top_level(modules: set[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


def test_help_imports_no_sdk_and_no_heavy_library(cms_home: Path) -> None:
    modules = top_level(imported_modules("help"))
    assert not modules & VENDOR_SDKS, modules & VENDOR_SDKS
    if os.environ.get("COVERAGE_PROCESS_CONFIG") or os.environ.get("COVERAGE_PROCESS_START"):
        pytest.skip("make coverage: coverage.py itself imports pathlib, dataclasses, ... in cms")
    # the start-up budget: none of these on the help path (typing and pathlib cost 5-13 ms)
    assert not modules & {"yaml", "tabulate", "ruamel", "docopt", "sqlite3", "typing",
                          "pathlib", "dataclasses", "concurrent"}, modules


def test_version_and_vm_help_import_no_sdk(cms_home: Path) -> None:
    for argv in (["version"], ["vm", "--help"], ["provider", "list"]):
        modules = top_level(imported_modules(*argv))
        assert not modules & VENDOR_SDKS, (argv, modules & VENDOR_SDKS)


def test_aws_list_imports_only_boto(cms_home: Path, moto: str) -> None:
    write_config(cms_home, {"a": aws_cloud_spec(moto)}, default="a")
    modules = top_level(imported_modules("vm", "list", "--output=json"))
    assert {"boto3", "botocore"} <= modules
    assert not modules & (VENDOR_SDKS - {"boto3", "botocore"}), modules & VENDOR_SDKS
    assert "tabulate" not in modules  # json output needs no table library


def assert_list_imports_only(cloud: str, own: set[str]) -> set[str]:
    """`cms vm list` on ``cloud`` succeeds, imports its own SDK (``own``, top-level names)
    and no other vendor's; returns every module it imported."""
    modules = imported_modules("vm", "list", f"--cloud={cloud}", "--output=json")
    top = top_level(modules)
    assert own <= top, own - top
    assert not top & (VENDOR_SDKS - own), top & (VENDOR_SDKS - own)
    return modules

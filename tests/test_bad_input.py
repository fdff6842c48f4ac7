"""Bad input: a corpus of broken configuration files and command lines. Each gets one
clear line on stderr, its documented exit code, and changes nothing."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import CMS, aws_cloud_spec, cms_here, snapshot, write_config
from test_cli import assert_one_line_error

CORPUS = Path(__file__).parent / "corpus"
CONFIG_CASES = json.loads((CORPUS / "config" / "expected.json").read_text())
ARGV_CASES = json.loads((CORPUS / "argv.json").read_text())


def test_every_corpus_file_has_an_expectation() -> None:
    files = {p.name for p in (CORPUS / "config").glob("*.yaml")}
    assert files == set(CONFIG_CASES)


@pytest.mark.parametrize("name", sorted(CONFIG_CASES))
def test_broken_config(cms_home: Path, name: str) -> None:
    cms_home.mkdir(parents=True)
    path = cms_home / "cloudmesh.yaml"
    path.write_bytes((CORPUS / "config" / name).read_bytes())
    path.chmod(0o600)
    before = snapshot(cms_home)
    for argv in (["vm", "list", "--cloud=a"], ["vm", "boot", "--cloud=a", "--name=x"],
                 ["image", "list", "--cloud=a"], ["key", "list", "--cloud=a"]):
        result = cms_here(*argv)
        assert_one_line_error(result, 4, CONFIG_CASES[name])
    assert snapshot(cms_home) == before


@pytest.mark.parametrize("argv,code,fragment", ARGV_CASES,
                         ids=[" ".join(case[0]) for case in ARGV_CASES])
def test_bad_command_line(cms_home: Path, moto: str, argv: list[str], code: int,
                          fragment: str) -> None:
    write_config(cms_home, {"m": aws_cloud_spec(moto)}, default="m")
    cms_here("set", "x=1")
    before = snapshot(cms_home)
    assert_one_line_error(cms_here(*argv), code, fragment)
    assert snapshot(cms_home) == before


def test_a_name_with_a_space_is_looked_up_and_the_comma_rule_told(cms_home: Path,
                                                                   moto: str) -> None:
    # names of existing VMs may hold spaces and any letters (a VM made in a web console);
    # 'a b' is looked up as one name, and the note says how two names are written
    write_config(cms_home, {"m": aws_cloud_spec(moto)}, default="m")
    spaced = cms_here("vm", "list", "a b")
    assert spaced.code == 0 and spaced.stderr.strip() == (
        "note: no VM named 'a b'; several names are separated by commas: a,b"), spaced
    accented = cms_here("vm", "list", "über")
    assert accented.code == 0 and accented.stderr == "", accented


def test_non_utf8_bytes_on_the_command_line(cms_home: Path, moto: str) -> None:
    write_config(cms_home, {"m": aws_cloud_spec(moto)}, default="m")
    before = snapshot(cms_home)
    for argv in ([b"vm", b"list", b"web\xff01"], [b"set", b"cloud=\xfe"],
                 [b"vm", b"list", b"--cloud=\xff"], [b"vm", b"lst\xff"]):
        completed = subprocess.run([CMS.encode(), *argv], capture_output=True,
                                   env=dict(os.environ), timeout=60)
        err = completed.stderr.decode("utf-8", "replace")
        assert completed.returncode in (2, 4), (argv, err)
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert snapshot(cms_home) == before

"""parse() hands docopt only the usage patterns of the verb given (for speed); the
result must be exactly what docopt gives for the whole docstring."""

from __future__ import annotations

import importlib

import pytest
from docopt import docopt

from cloudmesh.compute.command import parse

CASES = [
    ("vm", ["vm", "list"]), ("vm", ["vm", "list", "a,b", "--cloud=x", "--cached"]),
    ("vm", ["vm", "boot", "--name=a[1-2]", "--wait", "--output=json"]),
    ("vm", ["vm", "stop", "a", "--yes", "--dryrun"]), ("vm", ["vm", "wait", "a", "--state=ssh"]),
    ("vm", ["vm", "ssh", "a", "--command=ls", "--port=22"]), ("vm", ["vm", "info", "a"]),
    ("key", ["key", "add", "k", "--source=f.pub"]), ("key", ["key", "upload", "k", "--cloud=c"]),
    ("secgroup", ["secgroup", "rule", "add", "g", "tcp", "22", "0.0.0.0/0"]),
    ("secgroup", ["secgroup", "upload", "g", "--cloud=c", "--prune"]),
    ("ssh", ["ssh", "config", "add", "a"]), ("ssh", ["ssh", "vm1", "--", "ls", "-l"]),
    ("config", ["config", "set", "a.b", "1"]), ("image", ["image", "show", "x"]),
    ("set", ["set", "a=1", "b=2"]),
]


@pytest.mark.parametrize("command,argv", CASES, ids=[" ".join(a) for _, a in CASES])
def test_reduced_usage_parses_like_the_whole_docstring(command: str, argv: list[str]) -> None:
    doc = importlib.import_module(f"cloudmesh.compute.command.{command}").__doc__
    assert dict(parse(doc, argv)) == dict(docopt(doc, argv=argv, default_help=False))


def test_multipass_verbs_parse_alike() -> None:
    doc = importlib.import_module("cloudmesh.multipass.command.multipass").__doc__
    for argv in (["multipass", "launch", "w1", "--cpus=2"], ["multipass", "list"],
                 ["multipass", "exec", "w1", "--", "uname", "-a"],
                 ["multipass", "transfer", "a", "w1:/tmp"]):
        assert dict(parse(doc, argv)) == dict(docopt(doc, argv=argv, default_help=False))

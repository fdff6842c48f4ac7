"""List the installed provider kinds (read from the file system; no SDK is imported).

Usage:
  cms provider list [--output=FORMAT]

Options:
  --output=FORMAT  table, json, yaml or csv [default: table]

A kind K is any installed cloudmesh/K/compute.py; installing its distribution adds one.
"""

from __future__ import annotations

from cloudmesh.compute.command import run_command
from cloudmesh.compute.output import check_format, emit


def run(argv: list[str]) -> int:
    return run_command(_provider, __doc__, argv)


def _provider(arguments: dict) -> int:
    from cloudmesh.compute import discovery, registry

    output = check_format(arguments["--output"])
    versions = dict(discovery.distributions())
    rows = [{"kind": kind, "distribution": f"cloudmesh-{kind}",
             "version": versions.get(f"cloudmesh-{kind}", ""), "module": f"cloudmesh.{kind}.compute",
             "path": str(path)} for kind, path in registry.kinds().items()]
    emit(rows, output, ["kind", "distribution", "version", "module", "path"])
    return 0

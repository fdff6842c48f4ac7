"""List the installed provider kinds and what each can do.

Usage:
  cms provider list [--features] [--output=FORMAT]

Options:
  --features          what each kind can do: boot, list, start, ... ssh, each "yes" or
                      the reason it cannot (imports each kind's provider module)
  -o, --output=FORMAT  table, json, yaml or csv [default: table]

A kind K is any installed cloudmesh/K/compute.py; installing its distribution adds one.
Without --features the kinds are read from the file system and no provider or SDK is
imported. With --features and a format other than table, there is one record per kind
and operation: {kind, operation, supported, reason}.
"""

from __future__ import annotations

import sys

from cloudmesh.compute.command import run_command
from cloudmesh.compute.output import check_format, emit


def run(argv: list[str]) -> int:
    return run_command(_provider, __doc__, argv)


def _provider(arguments: dict) -> int:
    from cloudmesh.compute import discovery, registry

    output = check_format(arguments["--output"])
    if arguments["--features"]:
        return _features(output)
    versions = dict(discovery.distributions())
    rows = [{"kind": kind, "distribution": f"cloudmesh-{kind}",
             "version": versions.get(f"cloudmesh-{kind}", ""), "module": f"cloudmesh.{kind}.compute",
             "path": str(path)} for kind, path in registry.kinds().items()]
    emit(rows, output, ["kind", "distribution", "version", "module", "path"])
    return 0


def feature_records() -> list[dict]:
    """One record per installed kind and operation of the feature matrix:
    {kind, operation, supported, reason}. A kind whose module cannot be loaded (its SDK
    missing, a broken third-party module) has its reason on every row, and does not hide
    the other kinds."""
    from cloudmesh.compute import registry
    from cloudmesh.compute.abc import FEATURES

    records = []
    for kind in registry.kinds():
        try:
            row = registry.features(kind)
        except Exception as error:  # noqa: BLE001 - one kind must not break the matrix
            text = str(error).splitlines()[0] if str(error) else type(error).__name__
            hint = getattr(error, "hint", None)
            reason = f"cannot load cloudmesh.{kind}.compute: {text}" + (
                f" ({hint})" if hint else "")
            row = {label: reason for label in FEATURES}
        for operation, value in row.items():
            supported = value == "yes"
            reason = None if supported else (value[4:] if value.startswith("no: ") else value)
            records.append({"kind": kind, "operation": operation, "supported": supported,
                            "reason": reason})
    return records


def feature_table(records: list[dict]) -> str:
    """Operations down, kinds across, "yes" or "no (N)"; below, note N says why."""
    from cloudmesh.compute.errors import escape_control
    from cloudmesh.compute.output import render

    kinds = list(dict.fromkeys(r["kind"] for r in records))
    operations = list(dict.fromkeys(r["operation"] for r in records))
    notes: dict[str, int] = {}
    cells: dict[tuple[str, str], str] = {}
    for record in records:
        if record["supported"]:
            cell = "yes"
        else:
            number = notes.setdefault(record["reason"], len(notes) + 1)
            cell = f"no ({number})"
        cells[record["kind"], record["operation"]] = cell
    rows = [{"operation": op, **{kind: cells.get((kind, op), "") for kind in kinds}}
            for op in operations]
    text = render(rows, "table", ["operation", *kinds])
    if notes:
        text += "\n\n" + "\n".join(f"({number}) {escape_control(reason)}" for reason, number in notes.items())
    return text


def _features(output: str) -> int:
    from cloudmesh.compute.errors import scrub

    records = feature_records()
    if output == "table":
        if records:
            sys.stdout.write(scrub(feature_table(records)) + "\n")
        return 0
    emit(records, output, ["kind", "operation", "supported", "reason"])
    return 0

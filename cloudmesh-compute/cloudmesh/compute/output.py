"""Printing records as table, json, yaml or csv. Data goes to stdout; this module is the
only place that formats records, and tabulate/PyYAML are imported only when needed."""

from __future__ import annotations

import sys

from cloudmesh.compute.errors import UsageError

FORMATS = ("table", "json", "yaml", "csv")

VM_COLUMNS = ["name", "status", "cloud", "image", "flavor", "public_ips", "private_ips",
              "zone", "created"]
IMAGE_COLUMNS = ["name", "id", "os", "status", "created"]
FLAVOR_COLUMNS = ["name", "vcpus", "ram_mb", "disk_gb"]


def check_format(output: str | None) -> str:
    output = (output or "table").lower()
    if output not in FORMATS:
        raise UsageError(f"unknown --output '{output}'", f"use one of {', '.join(FORMATS)}")
    return output


def _cell(value: object) -> object:
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    if isinstance(value, dict):
        return ",".join(f"{k}={v}" for k, v in value.items())
    return "" if value is None else value


def render(records: list[dict] | dict, output: str = "table",
           columns: list[str] | None = None) -> str:
    """Records as text in the given format. A single dict is one object in json/yaml."""
    output = check_format(output)
    if output == "json":
        import json

        return json.dumps(records, indent=2, default=str)
    if output == "yaml":
        import yaml

        return yaml.safe_dump(records, sort_keys=False, default_flow_style=False).rstrip("\n")
    rows = [records] if isinstance(records, dict) else records
    if columns is None:
        columns = list(rows[0]) if rows else []
        columns = [c for c in columns if c != "native"]
    if output == "csv":
        import csv
        import io

        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_cell(row.get(c)) for c in columns])
        return buffer.getvalue().rstrip("\n")
    from tabulate import tabulate

    return tabulate([[_cell(row.get(c)) for c in columns] for row in rows], headers=columns,
                    tablefmt="simple", disable_numparse=True)


def emit(records: list[dict] | dict, output: str = "table", columns: list[str] | None = None,
         stream=None) -> None:
    text = render(records, output, columns)
    stream = stream or sys.stdout
    if text:
        stream.write(text + "\n")


def error(message: str) -> None:
    """One line on stderr."""
    print(message, file=sys.stderr, flush=True)


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)

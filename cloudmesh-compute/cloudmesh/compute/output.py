"""Printing records as table, json, yaml or csv. Data goes to stdout; this module is the
only place that formats records, and tabulate/PyYAML are imported only when needed.

What a cloud returns is untrusted: in tables and CSV every control character (C0, C1,
ESC, BEL, CR, LF, bidi controls) is shown escaped (``\\x1b``), so a VM name can neither
drive the terminal nor print a fake row. JSON and YAML escape them by themselves."""

from __future__ import annotations

import sys

from cloudmesh.compute.errors import UsageError, escape_control, scrub

FORMATS = ("table", "json", "yaml", "csv")

from cloudmesh.compute.cells import VM_COLUMNS, _cell, table_cells  # noqa: E402,F401

IMAGE_COLUMNS = ["name", "id", "os", "arch", "status", "created"]
FLAVOR_COLUMNS = ["name", "vcpus", "ram_mb", "disk_gb"]


def check_format(output: str | None) -> str:
    output = (output or "table").lower()
    if output not in FORMATS:
        raise UsageError(f"unknown --output '{output}'", f"use one of {', '.join(FORMATS)}")
    return output


def simple_table(headers: list[str], rows: list[list]) -> str | None:
    """tabulate's "simple" format, byte for byte, for the common case where every cell is
    one line of printable ASCII text; None otherwise (then tabulate does it, with control
    characters escaped). tabulate infers a type for every cell, which costs 0.3 s for
    10,000 VMs."""
    if not all(isinstance(h, str) and h.isascii() for h in headers):
        return None
    columns = list(zip(*rows)) if rows else [() for _ in headers]
    widths = []
    for header, column in zip(headers, columns):
        if column and set(map(type, column)) != {str}:
            return None
        text = " ".join(column)  # one check per column instead of one per cell
        if not (text.isascii() and text.isprintable()):  # no control character at all
            return None
        widths.append(max(len(header) + 2, max(map(len, map(str.strip, column)), default=0)))
    template = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [template.format(*headers).rstrip(), "  ".join("-" * w for w in widths)]
    lines += [template.format(*map(str.strip, row)).rstrip() for row in rows]
    return "\n".join(lines)


_dumper = None


def _yaml_dumper():
    """PyYAML's safe dumper, with text holding a control character written in double
    quotes (as "a\\nb"): otherwise a newline from a cloud is a real line break."""
    global _dumper
    if _dumper is None:
        import yaml

        class Dumper(yaml.SafeDumper):
            pass

        def text(dumper, data: str):
            style = None if data.isprintable() else '"'
            return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)

        Dumper.add_representer(str, text)
        _dumper = Dumper
    return _dumper


def render(records: list[dict] | dict, output: str = "table",
           columns: list[str] | None = None) -> str:
    """Records as text in the given format. A single dict is one object in json/yaml."""
    output = check_format(output)
    if output == "json":
        import json

        if isinstance(records, dict):
            return json.dumps(records, indent=2, default=str)
        # one record per line: still one JSON array, but written by the C encoder (any
        # indent makes Python fall back to its pure-Python encoder, 10x slower)
        if not records:
            return "[]"
        return "[\n" + ",\n".join(json.dumps(r, default=str) for r in records) + "\n]"
    if output == "yaml":
        import yaml

        return yaml.dump(records, Dumper=_yaml_dumper(), sort_keys=False,
                         default_flow_style=False).rstrip("\n")
    rows = [records] if isinstance(records, dict) else records
    if columns is None:
        columns = list(rows[0]) if rows else []
        columns = [c for c in columns if c != "native"]
    if output == "csv":
        import csv
        import io

        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow([_cell(c) for c in columns])
        for row in rows:
            writer.writerow([_cell(row.get(c)) for c in columns])
        return buffer.getvalue().rstrip("\n")
    cells = table_cells(rows, columns)
    fast = simple_table(columns, cells)
    if fast is not None:
        return fast
    from tabulate import tabulate

    return tabulate([[_cell(row.get(c)) for c in columns] for row in rows],
                    headers=[_cell(c) for c in columns], tablefmt="simple",
                    disable_numparse=True)


def emit(records: list[dict] | dict, output: str = "table", columns: list[str] | None = None,
         stream=None) -> None:
    text = scrub(render(records, output, columns))
    stream = stream or sys.stdout
    if text:
        stream.write(text + "\n")


def emit_record(record: dict, output: str = "table", stream=None) -> None:
    """One record (``vm info`` of one VM, ``image show``, ``flavor show``): a field/value
    table, one object in JSON and YAML, a header and one row in CSV. The same on every
    kind; ``native`` (the cloud's own extras) only in JSON and YAML."""
    output = check_format(output)
    if output == "table":
        emit([{"field": k, "value": v} for k, v in record.items() if k != "native"],
             output, ["field", "value"], stream)
    elif output == "csv":
        emit([record], output, [k for k in record if k != "native"], stream)
    else:
        emit(record, output, stream=stream)


# ---- --filter=KEY=GLOB, the same on every list verb (parsed by command.list_options)
def _field(record: dict, key: str) -> object:
    """A record's field; ``a.b`` reaches into a dict field (metadata.owner)."""
    value: object = record
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


_MISSING = object()


def select(records: list[dict], filters: dict[str, list[str]],
           limit: int | None = None) -> list[dict]:
    """The records whose every filtered field matches one of its globs (shell patterns,
    case-sensitive; a list field matches when one element does; an empty value is ''),
    then the first ``limit``. A key no record has is a usage error naming the fields."""
    if filters:
        from fnmatch import fnmatchcase

        for key in filters:
            if records and all(_field(r, key) is _MISSING for r in records):
                fields = sorted({f for r in records for f in r if f != "native"})
                raise UsageError(f"--filter: the records have no field '{key}'",
                                 f"the fields are: {', '.join(fields)}")

        def matches(record: dict) -> bool:
            for key, patterns in filters.items():
                value = _field(record, key)
                values = value if isinstance(value, (list, tuple)) else [value]
                texts = ["" if v is None or v is _MISSING else
                         (str(v).lower() if isinstance(v, bool) else str(v)) for v in values]
                if not any(fnmatchcase(t, p) for t in texts or [""] for p in patterns):
                    return False
            return True

        records = [r for r in records if matches(r)]
    return records if limit is None else records[:limit]

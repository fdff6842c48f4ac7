"""List the installed provider kinds and what each can do; start a new one.

Usage:
  cms provider list [--features] [--output=FORMAT] [--filter=KEY=GLOB]... [--limit=N]
  cms provider new KIND [--dir=DIR]

Arguments:
  KIND    the new kind's name: lowercase letters, digits and _, e.g. mycloud

Options:
  --features          what each kind can do: boot, list, start, ... ssh, each supported
                      or the reason it is not (imports each kind's provider module)
  -o, --output=FORMAT  table, json, yaml or csv [default: table]
  --filter=KEY=GLOB   only rows whose field KEY matches the shell pattern GLOB
                      (kind=a*; with --features: supported=false, operation=s*)
  --limit=N           at most N rows (after --filter)
  --dir=DIR           where 'new' writes the distribution [default: ./cloudmesh-KIND]

A kind K is any installed cloudmesh/K/compute.py; installing its distribution adds one.
Without --features the kinds are read from the file system and no provider or SDK is
imported. With --features and a format other than table, there is one record per kind
and operation: {kind, operation, supported, reason}.

'cms provider new KIND' writes a provider distribution that works from the start against
a small fake cloud: pyproject.toml, cloudmesh/KIND/compute.py (what is left to do says
"to do"), cloudmesh/KIND/fakecloud.py and tests/test_KIND.py (the conformance suite).
'pip install -e "DIR[test]"' adds the kind with pytest; 'python -m pytest DIR/tests'
runs the suites.
"""

from __future__ import annotations

import os
import sys

from cloudmesh.compute.command import run_command
from cloudmesh.compute.command import list_options
from cloudmesh.compute.output import check_format, emit, select


def run(argv: list[str]) -> int:
    return run_command(_provider, __doc__, argv)


def _provider(arguments: dict) -> int:
    from cloudmesh.compute import discovery, registry

    if arguments["new"]:
        return _new(arguments["KIND"], arguments["--dir"])
    output = check_format(arguments["--output"])
    selection = list_options(arguments)
    if arguments["--features"]:
        return _features(output, selection)
    versions = dict(discovery.distributions())
    rows = [{"kind": kind, "distribution": f"cloudmesh-{kind}",
             "version": versions.get(f"cloudmesh-{kind}", ""), "module": f"cloudmesh.{kind}.compute",
             "path": str(path)} for kind, path in registry.kinds().items()]
    emit(select(rows, *selection), output, ["kind", "distribution", "version", "module", "path"])
    return 0


def feature_records() -> list[dict]:
    """One record per installed kind and operation of the feature matrix:
    {kind, operation, supported, reason}. A kind whose module cannot be loaded (its SDK
    missing, a broken third-party module) has its reason on every row, and does not hide
    the other kinds."""
    from cloudmesh.compute import registry
    from cloudmesh.compute.capabilities import FEATURES, Feature

    records = []
    for kind in registry.kinds():
        try:
            row = registry.features(kind)
        except Exception as error:  # noqa: BLE001 - one kind must not break the matrix
            text = str(error).splitlines()[0] if str(error) else type(error).__name__
            hint = getattr(error, "hint", None)
            reason = f"cannot load cloudmesh.{kind}.compute: {text}" + (
                f" ({hint})" if hint else "")
            row = {label: Feature(False, reason) for label in FEATURES}
        for operation, feature in row.items():
            records.append({"kind": kind, "operation": operation,
                            "supported": feature.supported,
                            "reason": None if feature.supported else feature.reason})
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


def feature_markdown(records: list[dict]) -> str:
    """The matrix as the README shows it: a Markdown table and numbered reasons."""
    kinds = list(dict.fromkeys(r["kind"] for r in records))
    operations = list(dict.fromkeys(r["operation"] for r in records))
    notes: dict[str, int] = {}
    cells = {}
    for record in records:
        if record["supported"]:
            cells[record["kind"], record["operation"]] = "yes"
        else:
            number = notes.setdefault(record["reason"], len(notes) + 1)
            cells[record["kind"], record["operation"]] = f"no ({number})"
    lines = ["| operation | " + " | ".join(kinds) + " |", "|---|" + "---|" * len(kinds)]
    lines += [f"| {op} | " + " | ".join(cells.get((k, op), "") for k in kinds) + " |"
              for op in operations]
    lines += [""] + [f"{number}. {reason}" for reason, number in notes.items()]
    return "\n".join(lines)


def _features(output: str, selection: tuple = ({}, None)) -> int:
    from cloudmesh.compute.errors import scrub

    records = select(feature_records(), *selection)
    if output == "table":
        if records:
            sys.stdout.write(scrub(feature_table(records)) + "\n")
        return 0
    emit(records, output, ["kind", "operation", "supported", "reason"])
    return 0


#: the files of a new distribution: template -> path ({kind} replaced)
TEMPLATE_FILES = {"pyproject.toml.tmpl": "pyproject.toml", "README.md.tmpl": "README.md",
                  "compute.py.tmpl": "cloudmesh/{kind}/compute.py",
                  "fakecloud.py.tmpl": "cloudmesh/{kind}/fakecloud.py",
                  "test.py.tmpl": "tests/test_{kind}.py"}


def new_distribution(kind: str, directory: str | None = None) -> list[str]:
    """Write the distribution cloudmesh-KIND into ``directory`` (default ./cloudmesh-KIND,
    which must not exist or be empty); returns the paths written."""
    import keyword
    import os
    import re

    from cloudmesh.compute import registry
    from cloudmesh.compute.errors import ConfigError, UsageError

    if not re.fullmatch(r"[a-z][a-z0-9_]{0,39}", kind or "") or keyword.iskeyword(kind) \
            or kind in ("compute", "testing"):
        raise UsageError(f"'{kind}' cannot be a kind's name",
                         "use lowercase letters, digits and _ starting with a letter, "
                         "e.g. mycloud")
    if kind in registry.kinds():
        raise UsageError(f"a kind '{kind}' is already installed "
                         f"({registry.kinds()[kind]})", "choose another name")
    if directory in (None, "", "./cloudmesh-KIND"):
        directory = f"cloudmesh-{kind}"
    if os.path.lexists(directory) and not (os.path.isdir(directory) and
                                           not os.listdir(directory)):
        raise UsageError(f"{directory} already exists and is not an empty folder",
                         "choose another --dir")
    template_dir = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "templates", "provider")
    written = []
    try:
        for template, target in TEMPLATE_FILES.items():
            with open(os.path.join(template_dir, template), encoding="utf-8") as handle:
                text = handle.read()
            text = text.replace("{{kind}}", kind).replace(
                "{{Kind}}", "".join(part.capitalize() for part in kind.split("_")))
            path = os.path.join(directory, target.format(kind=kind))
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "x", encoding="utf-8") as handle:
                handle.write(text)
            written.append(path)
        path = os.path.join(directory, "cloudmesh", kind, "__init__.py")
        with open(path, "x", encoding="utf-8"):
            pass  # no cloudmesh/__init__.py: cloudmesh is a PEP 420 namespace
        written.append(path)
    except OSError as error:
        raise ConfigError(f"cannot write {error.filename or directory}: "
                          f"{error.strerror or error}") from None
    return written


def _new(kind: str, directory: str | None) -> int:
    import shlex

    written = new_distribution(kind, directory)
    root = os.path.dirname(written[0]) or "."
    for path in written:
        print(path)
    # the [test] extra brings pytest: a fresh venv has none, and 'pytest' alone might run
    # another environment's; 'python -m pytest' runs this one's
    print(f"next: pip install -e {shlex.quote(root + '[test]')}; cms provider list; "
          f"python -m pytest {shlex.quote(os.path.join(root, 'tests'))}", file=sys.stderr)
    return 0

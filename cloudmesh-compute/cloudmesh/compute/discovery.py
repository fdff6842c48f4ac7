"""Finding commands and provider kinds by looking at the file system.

A command ``cms X`` is the module ``cloudmesh.<pkg>.command.X`` of whichever installed
distribution ships it; a kind K is any ``cloudmesh/K/compute.py`` (see registry.py). Both are found with a
stat per installed cloudmesh package under ``cloudmesh.__path__`` (the PEP 420 namespace),
never by importing other packages or walking them with pkgutil.
"""

from __future__ import annotations

import os


def namespace_paths() -> list[str]:
    import cloudmesh

    return list(cloudmesh.__path__)


def packages() -> list[tuple[str, str]]:
    """(package name, directory) of every installed cloudmesh.* package; ``compute``
    first so that core commands win over a same-named command elsewhere."""
    found: dict[str, str] = {}
    for root in namespace_paths():
        try:
            entries = os.scandir(root)
        except OSError:
            continue
        with entries:
            for entry in entries:
                if entry.is_dir() and entry.name.isidentifier() and entry.name not in found:
                    found[entry.name] = entry.path
    return sorted(found.items(), key=lambda item: (item[0] != "compute", item[0]))


def find_command(name: str) -> str | None:
    """The module path of command ``name``, or None."""
    if not name.isidentifier():
        return None
    for package, directory in packages():
        if os.path.isfile(os.path.join(directory, "command", f"{name}.py")):
            return f"cloudmesh.{package}.command.{name}"
    return None


def commands() -> dict[str, str]:
    """Every command: name -> module path."""
    found: dict[str, str] = {}
    for package, directory in packages():
        try:
            files = os.listdir(os.path.join(directory, "command"))
        except OSError:
            continue
        for filename in sorted(files):
            stem, ext = os.path.splitext(filename)
            if ext == ".py" and not stem.startswith("_") and stem not in found:
                found[stem] = f"cloudmesh.{package}.command.{stem}"
    return dict(sorted(found.items()))


def distributions() -> list[tuple[str, str]]:
    """(name, version) of installed cloudmesh distributions, read from the names of their
    .dist-info folders (importlib.metadata would read every distribution's metadata)."""
    import sys

    seen: dict[str, str] = {}
    for entry in sys.path:
        if not entry or not entry.endswith("-packages"):
            continue
        try:
            names = os.listdir(entry)
        except OSError:
            continue
        for folder in names:
            if folder.startswith("cloudmesh") and folder.endswith(".dist-info"):
                stem = folder[: -len(".dist-info")]
                name, _, version = stem.partition("-")
                name = name.replace("_", "-").lower()
                seen.setdefault(name, version)
    return sorted(seen.items())

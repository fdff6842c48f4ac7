"""The provider registry: which kinds are installed, how one is loaded, which clouds need
no configuration, what each kind can do, and how to install a missing one.

A kind K is any installed ``cloudmesh/K/compute.py`` (PEP 420 namespace) whose module has a
``Provider`` derived from ``ComputeNodeABC``. Listing kinds is a stat per package; only
``load(kind)`` imports anything, and then only that kind's module (and so its SDK).
This module imports neither the configuration nor the facade: both call into it.
"""

from __future__ import annotations

import os

from cloudmesh.compute.errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any  # noqa: F401

    from cloudmesh.compute.abc import ComputeNodeABC  # noqa: F401


def kinds() -> dict[str, str]:
    """Every installed provider kind: kind -> path of its compute.py (imports nothing)."""
    from cloudmesh.compute.discovery import packages

    return {package: os.path.join(directory, "compute.py") for package, directory in packages()
            if os.path.isfile(os.path.join(directory, "compute.py"))}


#: the kinds this project ships, each in its own distribution cloudmesh-K
PROJECT_KINDS = ("aws", "openstack", "azure", "google", "oracle", "multipass")


def checkout_root() -> str | None:
    """The repository checkout this core runs from (an editable install), else None."""
    # .../<root>/cloudmesh-compute/cloudmesh/compute/registry.py
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(os.path.dirname(here)))
    if os.path.basename(os.path.dirname(os.path.dirname(here))) == "cloudmesh-compute" and \
            os.path.isfile(os.path.join(root, "cloudmesh-compute", "pyproject.toml")):
        return root
    return None


def install_hint(kind: str) -> str:
    """How to install the provider of ``kind``. The bare names cloudmesh-aws,
    cloudmesh-azure, ... on the public index belong to an older, unrelated cloudmesh
    release, so the hint never sends a user there when the checkout has the real one."""
    import shlex
    import sys

    root = checkout_root()
    if root and os.path.isfile(os.path.join(root, f"cloudmesh-{kind}", "pyproject.toml")):
        path = os.path.join(root, f"cloudmesh-{kind}")
        return f"install it: {shlex.quote(sys.executable)} -m pip install -e {shlex.quote(path)}"
    if kind in PROJECT_KINDS:
        return (f"install cloudmesh-{kind} from the cms repository, e.g. pip install -e "
                f"PATH/cloudmesh-{kind} in a checkout (the 'cloudmesh-{kind}' on PyPI is an "
                "older, unrelated release)")
    return f"install the distribution that provides cloudmesh/{kind}/compute.py"


def load(kind: str, cloud: str | None = None) -> type[ComputeNodeABC]:
    """``cloudmesh.<kind>.compute.Provider``; nothing else is imported. ConfigError when
    the kind is not installed (with the install hint) or is not a provider."""
    import importlib

    from cloudmesh.compute.abc import ComputeNodeABC

    where = f"cloud '{cloud}'" if cloud else f"kind '{kind}'"
    if not (isinstance(kind, str) and kind.isidentifier() and kind.isascii()):
        raise ConfigError(f"{where} has an invalid kind {kind!r}",
                          "use a provider name such as aws, openstack or multipass")
    module_name = f"cloudmesh.{kind}.compute"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name and module_name.startswith(error.name):
            raise ConfigError(f"{where} is of kind '{kind}', but no provider for '{kind}' is "
                              "installed", install_hint(kind)) from None
        raise
    provider_class = getattr(module, "Provider", None)
    if not (isinstance(provider_class, type) and issubclass(provider_class, ComputeNodeABC)):
        raise ConfigError(f"{module_name} has no Provider class derived from ComputeNodeABC",
                          install_hint(kind))
    return provider_class


def zero_config_spec(name: str) -> dict[str, Any] | None:
    """The spec of a cloud that needs no cloudmesh.yaml entry: one named after an installed
    kind whose Provider sets ``zero_config`` (True, or a dict of extra spec such as
    ``default:``), e.g. ``multipass``. None for any other name."""
    if name not in kinds():  # a stat per package; imports nothing
        return None
    extra = getattr(load(name, name), "zero_config", None)
    if not extra:
        return None
    return {**(extra if isinstance(extra, dict) else {}), "cm": {"kind": name}}


def features(kind: str) -> dict[str, Any]:
    """One column of the feature matrix: operation -> capabilities.Feature."""
    return load(kind).features()

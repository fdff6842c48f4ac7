"""cloudmesh-compute: the core of ``cms``.

``from cloudmesh.compute import Provider, ComputeNodeABC, Config`` works, but nothing is
imported until it is used, so that ``cms`` starts fast.
"""

from __future__ import annotations


__version__ = "0.1.0"

_EXPORTS = {
    "Provider": "cloudmesh.compute.provider",
    "ComputeNodeABC": "cloudmesh.compute.abc",
    "Config": "cloudmesh.compute.config",
    "Keys": "cloudmesh.compute.keysgroups",
    "SecGroups": "cloudmesh.compute.keysgroups",
    "State": "cloudmesh.compute.state",
    "wait_for": "cloudmesh.compute.wait",
    "CmsError": "cloudmesh.compute.errors",
    "CloudError": "cloudmesh.compute.errors",
    "NotFound": "cloudmesh.compute.errors",
    "UsageError": "cloudmesh.compute.errors",
    "ConfigError": "cloudmesh.compute.errors",
    "CredentialError": "cloudmesh.compute.errors",
}

__all__ = list(_EXPORTS)

TYPE_CHECKING = False  # typing costs ~7 ms at start-up; type checkers see True
if TYPE_CHECKING:  # pragma: no cover
    from cloudmesh.compute.abc import ComputeNodeABC
    from cloudmesh.compute.config import Config
    from cloudmesh.compute.keysgroups import Keys, SecGroups
    from cloudmesh.compute.errors import (CloudError, CmsError, ConfigError,
                                          CredentialError, NotFound, UsageError)
    from cloudmesh.compute.provider import Provider
    from cloudmesh.compute.state import State
    from cloudmesh.compute.wait import wait_for


def __dir__() -> list[str]:
    # the lazy names too (dir(), completion and help() list them), still without imports
    return sorted(set(globals()) | set(_EXPORTS))


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'cloudmesh.compute' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value

"""Import a cloud SDK only where a provider uses it, with an install hint when it is
missing (as SkyPilot's adaptors do)."""

from __future__ import annotations

import importlib
from types import ModuleType

from cloudmesh.compute.errors import ConfigError


def require(module: str, distribution: str, package: str | None = None) -> ModuleType:
    """Import ``module`` now; if it is not installed, raise a ConfigError that names the
    distribution to install."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        missing = getattr(error, "name", None) or module
        # the SDK by its own name: the bare cloudmesh-* names on PyPI are an older,
        # unrelated release, so the distribution is named only as what needs it
        hint = f"pip install {package or missing} (needed by {distribution})"
        raise ConfigError(f"the Python package '{missing}' is not installed", hint) from None

"""A cms session: what several command lines run in one process share.

The ``cms>`` shell (and an in-process test runner) makes one :class:`Session` and passes
it to :func:`cloudmesh.compute.dispatch.dispatch` with every line; while a line runs, the
session is the current one (a context variable, never a module global that another module
writes), and the Provider facade asks it for the cloud's provider instance, so that a
second ``vm list`` on a cloud reuses the SDK client of the first.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any, Callable

_current: ContextVar[Session | None] = ContextVar("cms_session", default=None)


class Session:
    """State kept between command lines of one process: each cloud's provider instance,
    keyed by kind, cloud and its configuration (a changed configuration makes a new
    one)."""

    def __init__(self) -> None:
        self.instances: dict[tuple[str, str, str], Any] = {}

    def provider(self, provider_class: Callable[[str, dict], Any], kind: str, name: str,
                 spec: dict) -> Any:
        """The instance made before for this cloud and configuration, or a new one."""
        import json

        key = (kind, name, json.dumps(spec, sort_keys=True, default=repr))
        found = self.instances.get(key)
        if found is None or type(found) is not provider_class:
            found = self.instances[key] = provider_class(name, spec)
        return found

    def activate(self) -> Any:
        """Make this the current session; returns the token for :meth:`deactivate`."""
        return _current.set(self)

    @staticmethod
    def deactivate(token: Any) -> None:
        _current.reset(token)


def current_session() -> Session | None:
    """The session of the command line running now (None: a single command)."""
    return _current.get()

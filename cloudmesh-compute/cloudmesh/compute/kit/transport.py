"""The origin rule inside SDKs built on ``requests`` (keystoneauth, google-auth's
AuthorizedSession, oci): every request the SDK sends, its own paging, polling and
redirects included, passes ``guard.check`` before a byte leaves."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from cloudmesh.compute.kit.origins import OriginGuard


def guard_requests_session(session: Any, guard: OriginGuard) -> Any:
    """Mount a guarding adapter on ``session`` for http:// and https:// (and in front of
    every adapter already mounted, which keeps doing the sending); returns the session."""
    from requests.adapters import HTTPAdapter

    class GuardedAdapter(HTTPAdapter):
        """Checks the origin, then lets the adapter that was mounted send."""

        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:
            guard.check(request.url)
            return self.inner.send(request, *args, **kwargs)

        def close(self) -> None:
            self.inner.close()
            super().close()

    mounted = dict(session.adapters)
    for prefix in ("https://", "http://"):
        mounted.setdefault(prefix, HTTPAdapter())
    for prefix, adapter in mounted.items():
        if not isinstance(adapter, GuardedAdapter) and \
                type(adapter).__name__ != "GuardedAdapter":
            session.mount(prefix, GuardedAdapter(adapter))
    return session

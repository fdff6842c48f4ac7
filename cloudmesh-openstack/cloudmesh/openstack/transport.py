"""The rules every HTTP request of an OpenStack connection obeys, wherever the SDK sends
it (its own paging included): cm.timeout bounds each request as a whole, and the GETs of
one listing follow the kit's page rules (DESIGN section 10)."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any, Iterable
from urllib.parse import urlsplit

from cloudmesh.compute.errors import CloudError
from cloudmesh.compute.kit import paging
from cloudmesh.compute.kit.deadline import bounded

#: the page rules of the SDK listing under way in this context (see ``listing``)
_listing: ContextVar[PageRules | None] = ContextVar("cms_openstack_listing", default=None)


class PageRules:
    """The kit's page rules (``kit.paging``) applied to the GET requests of one SDK
    listing, which follows Nova's ``servers_links``, Glance's ``next`` and Neutron's
    ``*_links`` itself: a URL asked for twice is a loop, and more than ``max_pages``
    requests is an endless list; either stops the list before the request is sent. (The
    SDK ends a list at its first empty page, so a run of empty pages cannot occur.)"""

    def __init__(self, what: str, max_pages: int) -> None:
        self.what, self.max_pages = what, max_pages
        self.seen: set[str] = set()

    def check(self, url: str) -> None:
        if url in self.seen:
            raise CloudError(f"{self.what}: the cloud repeated page link "
                             f"{urlsplit(url).path}?{_short(urlsplit(url).query)}; stopped")
        if len(self.seen) >= self.max_pages:
            raise CloudError(f"{self.what}: the cloud named more than {self.max_pages} "
                             "pages; stopped",
                             "narrow the list with a filter, or report it to the cloud")
        self.seen.add(url)


def listing(items: Iterable, what: str) -> list:
    """Every item of an SDK listing, its page requests under ``PageRules`` (the page
    limit read now, so that a test can lower it)."""
    token = _listing.set(PageRules(what, paging.MAX_PAGES))
    try:
        return list(items)
    finally:
        _listing.reset(token)


def bound_requests(session: Any, seconds: float, cloud: str) -> None:
    """Every request of keystoneauth's requests.Session ends within ``seconds`` as a
    whole (connect and slow reads: a read timeout alone lets a server drip a byte a
    second), and a listing's GETs obey its ``PageRules``. Mounted in front of the
    adapters already there (the kit's origin guard), which keep doing the sending."""
    from requests.adapters import HTTPAdapter

    class BoundedAdapter(HTTPAdapter):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:
            rules = _listing.get()
            if rules is not None and request.method == "GET":
                rules.check(request.url)

            def whole() -> Any:
                response = self.inner.send(request, *args, **kwargs)
                if not kwargs.get("stream"):
                    # the body too (requests reads it after send): a slow body is late
                    response.content  # noqa: B018 - read and kept by the response
                return response

            what = f"cloud '{cloud}' ({request.method} {urlsplit(request.url).path})"
            return bounded(whole, seconds, what)

        def close(self) -> None:
            self.inner.close()
            super().close()

    for prefix, adapter in list(session.adapters.items()):
        session.mount(prefix, BoundedAdapter(adapter))


def _short(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "..."

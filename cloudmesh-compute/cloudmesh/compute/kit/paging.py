"""``pages``: follow a cloud's page token or next link, and stop.

A list ends when the cloud stops naming a next page; it also ends, with a CloudError, when
the cloud names a page it named before (a loop) or after ``MAX_PAGES`` pages (a hostile or
broken endpoint that names a new page forever). A next link that is an absolute URL is
checked against the cloud's origins before it is fetched: credentials go only where the
user pointed them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Iterable, Iterator, TypeVar

from cloudmesh.compute.errors import CloudError

if TYPE_CHECKING:  # pragma: no cover
    from cloudmesh.compute.kit.origins import OriginGuard

T = TypeVar("T")

#: the most pages one list follows: far more than any real account needs (10,000 pages
#: of even 100 items is a million resources), few enough that a loop ends in bounded time
MAX_PAGES = 10_000

#: the most empty pages in a row that still name a next page
MAX_EMPTY_PAGES = 100


def pages(fetch: Callable[[str | None], tuple[Iterable[T], str | None]], *, what: str,
          max_pages: int = MAX_PAGES, max_empty_pages: int = MAX_EMPTY_PAGES,
          guard: OriginGuard | None = None) -> Iterator[T]:
    """The items of every page: ``fetch(None)`` first, then ``fetch(token)`` with each
    next token or link the cloud gave, while it gives one."""
    seen: set[str] = set()
    token: str | None = None
    count = 0
    empty_in_a_row = 0
    while True:
        count += 1
        if count > max_pages:
            raise CloudError(f"{what}: the cloud named more than {max_pages} pages; stopped",
                             "narrow the list with a filter, or report it to the cloud")
        items, following = fetch(token)
        items = list(items)
        yield from items
        if not following:
            return
        empty_in_a_row = 0 if items else empty_in_a_row + 1
        if empty_in_a_row >= max_empty_pages:
            raise CloudError(f"{what}: the cloud answered {empty_in_a_row} empty pages in a row, "
                             "each naming another; stopped",
                             "report it to the cloud; a real list does not do this")
        if following in seen:
            raise CloudError(f"{what}: the cloud repeated page token "
                             f"{_short(following)}; stopped")
        seen.add(following)
        if guard is not None and _is_absolute_url(following):
            guard.check(following)
        token = following


def _is_absolute_url(token: str) -> bool:
    head = token[:8].lower()
    return head.startswith("http://") or head.startswith("https://")


def _short(token: str) -> str:
    return repr(token if len(token) <= 60 else token[:57] + "...")

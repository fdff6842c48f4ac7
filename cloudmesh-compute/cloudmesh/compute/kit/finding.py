"""``find_one``: the one live VM (or image, ...) a user's reference means.

A reference is an id first, then an exact name, whatever characters the cloud allowed
("Test Server 2"). Terminated and deleted records are not candidates: a name freed by a
deleted VM names the live one.
"""

from __future__ import annotations

from typing import Any, Iterable

from cloudmesh.compute.errors import NotFound, UsageError

#: statuses of records that no longer stand for a resource
GONE = ("terminated", "deleted")


def live(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records whose status is not terminated or deleted."""
    return [r for r in records if str(r.get("status") or "").lower() not in GONE]


def find_one(records: Iterable[dict[str, Any]], ref: str, *, cloud: str,
             what: str = "VM") -> dict[str, Any]:
    """The one live record whose id is ``ref``, else the one whose exact name is ``ref``.

    Several records of that name: UsageError listing their ids ("use the id"). None:
    NotFound with the hint to list them.
    """
    candidates = live(records)
    by_id = [r for r in candidates if r.get("id") == ref]
    found = by_id or [r for r in candidates if r.get("name") == ref]
    if len(found) == 1:
        return found[0]
    if found:
        ids = ", ".join(str(r.get("id")) for r in found)
        raise UsageError(f"{len(found)} {what}s on cloud {cloud} are named '{ref}' ({ids})",
                         "use the id")
    raise NotFound(f"no {what} named '{ref}' on cloud {cloud}",
                   f"cms {what.lower()} list --cloud={cloud}")

"""Regions: which credential of a kind names the region, a cloud's entry moved to another
region, the cache key that keeps a region's records apart, and ``--region`` values.

A provider for another region is the same kind with its region credential replaced
(DESIGN 4, 7): the facade builds it with ``Provider(cloud, region=R)``. This module
imports nothing of cms but the errors, so the facade and the fan-out may both use it.
"""

from __future__ import annotations

from typing import Any

from cloudmesh.compute.errors import UsageError

#: kind -> the credentials key that says the region; a provider class may declare its own
#: ``region_key`` (None: the kind has no regions of its own, e.g. google's aggregated list
#: spans every zone, multipass is one machine)
REGION_KEYS: dict[str, str | None] = {
    "aws": "region", "openstack": "region_name", "oracle": "region",
    "azure": "resource_group", "google": None, "multipass": None}

#: the region of a provider whose kind has none (its one list spans everything)
EVERYWHERE = "*"


def region_key(kind: str, provider_class: Any = None) -> str | None:
    """The credentials key of ``kind`` that names its region (None: no regions)."""
    declared = getattr(provider_class, "region_key", "")
    if declared != "" and (declared is None or isinstance(declared, str)):
        return declared
    return REGION_KEYS.get(kind)


def in_region(spec: dict[str, Any], kind: str, region: str,
              provider_class: Any = None) -> dict[str, Any]:
    """A copy of a cloud's entry whose region credential is ``region``."""
    key = region_key(kind, provider_class)
    if key is None or region == EVERYWHERE:
        return spec
    return {**spec, "credentials": {**(spec.get("credentials") or {}), key: region}}


def cache_name(cloud: str, region: str | None) -> str:
    """Where the state keeps a cloud's records: ``cloud`` for its configured region,
    ``cloud@region`` for one chosen with ``--region`` (so ``--cached`` keeps them apart)."""
    return cloud if region in (None, EVERYWHERE) else f"{cloud}@{region}"


def parse_regions(option: str | None) -> list[str] | None:
    """``--region=R1,R2`` -> [R1, R2]; ``all`` -> ["all"]; not given -> None."""
    if option is None:
        return None
    regions = [r.strip() for r in option.split(",")]
    if not all(regions):
        raise UsageError(f"--region={option} has an empty region",
                         "write --region=R1,R2 or --region=all")
    for region in regions:
        if any(c.isspace() or ord(c) < 32 for c in region) or "@" in region:
            raise UsageError(f"--region: '{region}' is not a region name",
                             "write --region=R1,R2 or --region=all")
    if "all" in regions and len(regions) > 1:
        raise UsageError("--region=all spans every region; give it alone")
    return regions

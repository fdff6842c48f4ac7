"""Helpers the google tests (and make bench) share: the cloudmesh.yaml entry of a cloud
of kind google that points at a running fake."""

from __future__ import annotations

from typing import Any

#: images and flavors the fake has (any notation of the kind works for the image)
IMAGE = "family/debian-12"
FLAVOR = "e2-micro"


def cloud_spec(endpoint: str, token: str, project: str = "cms-test",
               zone: str = "us-central1-a", **default: Any) -> dict[str, Any]:
    """A cloud entry for the fake at ``endpoint`` (the fake itself, or a FaultProxy in
    front of it) with its access token; ``default`` adds to the default block."""
    return {"cm": {"kind": "google", "label": "fake GCE", "timeout": 10, "retries": 3},
            "credentials": {"project": project, "zone": zone, "access_token": token,
                            "api_endpoint": endpoint},
            "default": {"image": IMAGE, "flavor": FLAVOR, **default}}

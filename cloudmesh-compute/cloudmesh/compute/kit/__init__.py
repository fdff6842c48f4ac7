"""The provider kit: what every provider needs, written once (docs/providers.md).

Each module is small and imports only ``cloudmesh.compute.errors`` and the standard
library, never an SDK; ``transport`` imports ``requests`` only when called.
"""

from __future__ import annotations

from cloudmesh.compute.kit.cloudinit import add_user
from cloudmesh.compute.kit.clients import client_on_first_use
from cloudmesh.compute.kit.deadline import Deadline, bounded
from cloudmesh.compute.kit.finding import find_one, live
from cloudmesh.compute.kit.http import classify_http
from cloudmesh.compute.kit.markers import (OWNER_KEY, label_safe, marker, marker_text,
                                           owned_by, read_marker)
from cloudmesh.compute.kit.origins import OriginGuard, origin_of, retry_after_seconds
from cloudmesh.compute.kit.paging import MAX_EMPTY_PAGES, MAX_PAGES, pages
from cloudmesh.compute.kit.polling import RETRY_AFTER_CAP, poll_until
from cloudmesh.compute.kit.transport import guard_requests_session

__all__ = ["add_user", "client_on_first_use", "Deadline", "bounded", "find_one", "live",
           "classify_http", "OWNER_KEY", "label_safe", "marker", "marker_text", "owned_by",
           "read_marker", "OriginGuard", "origin_of", "retry_after_seconds", "MAX_PAGES", "MAX_EMPTY_PAGES",
           "pages", "RETRY_AFTER_CAP", "poll_until", "guard_requests_session"]

"""The boot spec: the one value a provider's ``create`` receives, and the parsers of its
option values. Contract-level types: the ABC, the boot procedure (:mod:`.boot`) and the
providers import it; it imports nothing of the facade.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from cloudmesh.compute.errors import UsageError

#: the cloud-side name of a group defined locally as ``default``: every cloud has its own
#: ``default`` group, which cms never edits (docs/architecture.md, "Groups cms owns")
CMS_DEFAULT_GROUP = "cms-default"

@dataclass(frozen=True)
class BootSpec:
    """Everything one VM is booted with. Built only by the facade; a provider reads it."""

    name: str
    image: str
    flavor: str
    #: None, or {"name", "public_key", "fingerprint"} from the local key registry
    #: (public_key and fingerprint are None for a key pair known only to the cloud)
    key: dict[str, Any] | None = None
    #: the login the key is for (never None when a provider's create sees the spec)
    username: str | None = None
    secgroups: list[str] = field(default_factory=list)
    network: str | None = None
    subnet: str | None = None
    public_ip: bool = True
    zone: str | None = None
    disk_gb: int | None = None
    userdata: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    #: the same on every retry of this one boot: EC2 ClientToken, GCE requestId, ...
    token: str = field(default_factory=lambda: uuid.uuid4().hex)


#: boot options a kind may list in ``unsupported`` -> the BootSpec field and its "unset"
BOOT_OPTIONS = {"network": None, "subnet": None, "zone": None, "disk_gb": None,
                "userdata": None, "metadata": {}}


def cloud_group_name(local: str) -> str:
    """The name a locally defined group has on a cloud."""
    return CMS_DEFAULT_GROUP if local == "default" else local


def parse_bool(value: Any, option: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "on", "1"):
        return True
    if text in ("false", "no", "off", "0"):
        return False
    raise UsageError(f"{option} must be true or false, not {value!r}")


def parse_disk(value: Any) -> int | None:
    if value in (None, ""):
        return None
    try:
        size = int(str(value).strip().lower().removesuffix("g").removesuffix("gb"))
    except ValueError:
        raise UsageError(f"--disk must be a size in GB such as 20, not {value!r}") from None
    if not 1 <= size <= 65536:
        raise UsageError(f"--disk={size} is outside 1..65536 GB")
    return size

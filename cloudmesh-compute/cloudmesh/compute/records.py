"""Records: the plain-dict shapes every provider returns (vm, image, flavor, key,
secgroup), the normalised VM statuses, and the helpers that build them (``record_mapper``
for a provider's ``_to_*`` mappers, ``iso_utc`` for creation times).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

VM_STATUSES = ("booting", "running", "stopping", "stopped", "suspended", "rebooting",
               "deleting", "terminated", "error", "unknown")
VM_FIELDS = ("name", "id", "cloud", "kind", "status", "state", "image", "flavor",
             "public_ips", "private_ips", "key", "username", "secgroups", "region", "zone",
             "created", "metadata")
IMAGE_FIELDS = ("name", "id", "cloud", "kind", "os", "version", "arch", "status", "created")
FLAVOR_FIELDS = ("name", "id", "cloud", "kind", "vcpus", "ram_mb", "disk_gb")
KEY_FIELDS = ("name", "fingerprint", "cloud", "kind")
SECGROUP_FIELDS = ("name", "id", "description", "rules")
_LIST_FIELDS = {"public_ips", "private_ips", "secgroups", "rules"}
_DICT_FIELDS = {"metadata"}


def record_mapper(what: str):
    """Decorate a provider's ``_to_*`` mapper: an answer from the cloud that does not have
    the shape the mapper expects becomes a CloudError naming it, not a KeyError deep in
    a provider."""
    import functools

    def decorate(mapper):
        @functools.wraps(mapper)
        def mapped(self, item, *args, **kwargs):
            try:
                return mapper(self, item, *args, **kwargs)
            except (KeyError, TypeError, AttributeError, ValueError, IndexError,
                    NameError, AssertionError) as error:
                from cloudmesh.compute.errors import CloudError, CmsError

                if isinstance(error, CmsError):
                    raise
                if _mapper_bug(error):
                    raise CmsError(
                        f"bug in the {self.kind} provider: its mapper {mapper.__name__} "
                        f"failed ({type(error).__name__}: {error})",
                        f"report it to the cloudmesh-{self.kind} authors with "
                        "'cms --debug ...'; the cloud's answer is not the cause") from error
                raise CloudError(f"cloud '{self.cloud}' answered with a {what} cms cannot "
                                 f"read ({type(error).__name__}: {error})") from error
        return mapped
    return decorate



def _mapper_bug(error: BaseException) -> bool:
    """Whether a mapper's exception is the provider's own bug, not the cloud's answer: a
    name error or a failed assertion anywhere, a call with the wrong signature, or a
    TypeError raised inside the cms core (a record helper given a field it does not
    have). A missing key or a value of another type while reading the answer is the
    cloud's."""
    if isinstance(error, (NameError, AssertionError)):
        return True
    if not isinstance(error, TypeError):
        return False
    if "positional argument" in str(error) or "keyword argument" in str(error):
        return True  # a call with the wrong signature
    import traceback
    from pathlib import Path

    frames = traceback.extract_tb(error.__traceback__)
    innermost = frames[-1].filename if frames else ""
    return innermost.startswith(str(Path(__file__).parent)) and innermost != __file__


def iso_utc(value: Any) -> str | None:
    """A timestamp (datetime, epoch seconds or ISO text) as ISO 8601 in UTC, ``...Z``."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        try:
            value = datetime.fromtimestamp(value, tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            return None  # not a time at all
    if isinstance(value, str):
        text = value.strip().replace("Z", "+00:00")
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            return None  # not a time we can state in UTC: say nothing rather than guess
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        try:
            value = value.astimezone(timezone.utc)
        except (OverflowError, ValueError):
            return None
        return value.replace(microsecond=0).isoformat().replace("+00:00", "Z")
    return None

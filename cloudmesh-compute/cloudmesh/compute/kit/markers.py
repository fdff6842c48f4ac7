"""One spelling of "cms made this for that VM", and the one rule that reads it.

A resource cms creates for a VM (a floating IP, a NIC, a disk, a key) carries the tag or
label ``cms-owner=<VM id>`` (the VM's name where the cloud gives no id before the VM
exists), or the text ``cms-owner=<ref>`` where the cloud has only a description field.
cms deletes such a resource with its VM only when the marker names the VM AND the
resource is attached to it: a description anyone can edit never decides alone.
"""

from __future__ import annotations

from typing import Any

#: the tag or label key of the ownership marker
OWNER_KEY = "cms-owner"
#: GCE's limit for a label value
_LABEL_MAX = 63


def marker(vm_ref: str) -> dict[str, str]:
    """The marker as tags or labels: ``{"cms-owner": vm_ref}``."""
    return {OWNER_KEY: vm_ref}


def marker_text(vm_ref: str) -> str:
    """The marker for a cloud with only a description field: ``cms-owner=<vm_ref>``."""
    return f"{OWNER_KEY}={vm_ref}"


def read_marker(tags_or_text: Any) -> str | None:
    """The VM reference a resource's marker names, or None. Takes a dict of tags/labels,
    a list of EC2-style ``{"Key", "Value"}`` tags, or a description text."""
    if isinstance(tags_or_text, dict):
        value = tags_or_text.get(OWNER_KEY)
        return str(value) if value else None
    if isinstance(tags_or_text, (list, tuple)):
        for tag in tags_or_text:
            if isinstance(tag, dict) and tag.get("Key") == OWNER_KEY and tag.get("Value"):
                return str(tag["Value"])
        return None
    if isinstance(tags_or_text, str):
        prefix = OWNER_KEY + "="
        for word in tags_or_text.split():
            if word.startswith(prefix) and len(word) > len(prefix):
                return word[len(prefix):]
    return None


def owned_by(resource_marker: str | None, vm_ref: str, attached_to_vm: bool) -> bool:
    """True only when the marker names this VM (as written, or in its label-safe form)
    and the resource is attached to it."""
    if not resource_marker or not vm_ref or not attached_to_vm:
        return False
    return resource_marker in (vm_ref, label_safe(vm_ref))


def label_safe(value: str) -> str:
    """``value`` as a GCE label value: lowercase, only ``[a-z0-9_-]``, at most 63
    characters (a longer one keeps its start and a hash of the whole, so it stays
    unique)."""
    text = "".join(c if c.isascii() and (c.isalnum() or c in "_-") else "-"
                   for c in str(value).lower())
    if len(text) <= _LABEL_MAX:
        return text
    import hashlib

    digest = hashlib.sha256(str(value).encode("utf-8")).hexdigest()[:10]
    return f"{text[:_LABEL_MAX - 11]}-{digest}"

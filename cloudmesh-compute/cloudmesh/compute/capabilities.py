"""Capabilities: what a kind can do, from its provider class's declarations
(``unsupported`` with reasons, the optional verbs it implements, ``key_delivery``), as
``supports`` and the feature matrix (``cms provider list --features``, the README).

The provider's ``supports``/``features`` classmethods (``ComputeNodeABC``) call these
with the base class, so that this module does not import the contract.
"""

from __future__ import annotations

from typing import NamedTuple

#: verbs whose base implementation raises NotSupported
OPTIONAL_VERBS = {"suspend", "resume", "keys", "key_upload", "key_delete", "secgroups",
                  "secgroup_create", "secgroup_add_rules", "secgroup_remove_rules",
                  "secgroup_delete", "metadata_set"}
#: a name in ``unsupported`` that stands for several verbs
VERB_GROUPS = {"keys": ("keys", "key_upload", "key_delete"),
               "secgroups": ("secgroups", "secgroup_create", "secgroup_add_rules",
                             "secgroup_remove_rules", "secgroup_delete", "secgroup_upload")}
#: the rows of the feature matrix: label -> the verb or capability behind it
FEATURES = {"boot": "create", "list": "list", "start": "start", "stop": "stop",
            "reboot": "reboot", "suspend": "suspend", "resume": "resume", "keys": "keys",
            "key injection": "key_delivery", "secgroups": "secgroups",
            "public IP": "public_ip", "metadata": "metadata_set", "ssh": "ssh"}


class Feature(NamedTuple):
    """One cell of the feature matrix: ``supported``, and when not, the ``reason``."""

    supported: bool
    reason: str | None = None


def unsupported_reason(provider_class: type, verb: str) -> str | None:
    """Why the kind cannot do ``verb`` (listed itself or through its group), else None."""
    unsupported = getattr(provider_class, "unsupported", None) or {}
    if verb in unsupported:
        return unsupported[verb]
    for group, verbs in VERB_GROUPS.items():
        if verb in verbs and group in unsupported:
            return unsupported[group]
    return None


def supports(provider_class: type, verb: str, base: type) -> bool:
    """False for verbs (and boot options) listed in ``unsupported``, directly or by their
    group, and for optional verbs the provider does not implement (it kept ``base``'s)."""
    if unsupported_reason(provider_class, verb) is not None:
        return False
    if verb == "secgroup_upload":
        return supports(provider_class, "secgroups", base)
    if verb in OPTIONAL_VERBS:
        return getattr(provider_class, verb) is not getattr(base, verb)
    return True


def features(provider_class: type, base: type) -> dict[str, Feature]:
    """One column of the feature matrix: label -> Feature."""
    row: dict[str, Feature] = {}
    for label, verb in FEATURES.items():
        if verb == "key_delivery":
            delivery = getattr(provider_class, "key_delivery", None)
            row[label] = Feature(True) if delivery == "inject" else Feature(
                False, unsupported_reason(provider_class, "key_injection") or
                ("keys are the cloud's key pairs" if delivery else "the kind delivers no keys"))
        elif supports(provider_class, verb, base):
            row[label] = Feature(True)
        else:
            row[label] = Feature(False, unsupported_reason(provider_class, verb)
                                 or "the provider does not offer it")
    return row

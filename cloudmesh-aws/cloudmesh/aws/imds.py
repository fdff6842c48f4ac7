"""Whether botocore's credential chain should ask the EC2 instance metadata service
(IMDS, 169.254.169.254) for an instance role's credentials.

Off EC2, that probe can only fail, and it fails slowly: botocore waits
metadata_service_timeout (1 s) for the IMDSv2 token and again for the role name, more
where the address is routed nowhere, so 'no credentials' took 3 to 7 s. An instance role
is found the same way as before on every machine that may be an EC2 instance; the probe
is skipped only where Linux's DMI names another maker."""

from __future__ import annotations

import os
from pathlib import Path

#: where Linux shows the machine's maker (a module constant: a test points it elsewhere)
DMI = Path("/sys/class/dmi/id")
#: Xen-based EC2 instances show their UUID here, starting with "ec2"
XEN_UUID = Path("/sys/hypervisor/uuid")
#: variables by which a user says where IMDS is, or whether to use it: then botocore decides
USER_SETTINGS = ("AWS_EC2_METADATA_DISABLED", "AWS_EC2_METADATA_SERVICE_ENDPOINT",
                 "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE")


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip().lower()
    except OSError:
        return None


def worth_probing() -> bool:
    """False only when this is surely no EC2 instance: DMI readable, and neither its maker
    fields (Nitro: sys_vendor "Amazon EC2"; Xen: bios_version "...amazon") nor the Xen
    UUID say Amazon, and the user set nothing about IMDS. Unknown (macOS, Windows, a
    container without /sys): True, as botocore would."""
    if any(name in os.environ for name in USER_SETTINGS):
        return True
    vendor = _read(DMI / "sys_vendor")
    if vendor is None:
        return True
    fields = [vendor] + [_read(DMI / name) or "" for name in
                         ("bios_vendor", "bios_version", "board_vendor", "product_version")]
    if any("amazon" in field for field in fields):
        return True
    return (_read(XEN_UUID) or "").startswith("ec2")


def skip_if_not_ec2(session: object) -> None:
    """Take the instance-role provider out of a boto3 Session's credential chain where
    ``worth_probing()`` is False; the other providers (keys, profiles, SSO, containers,
    assume-role) are untouched."""
    if not worth_probing():
        session._session.get_component("credential_provider").remove("iam-role")

"""Pure parsing and argument building for the Multipass provider: no process is run here.

Multipass's output is read tolerantly (sizes as strings or integers, "N/A" addresses,
zones as objects or names, release "Not Available"), and every value that reaches a
``multipass`` argument list is validated first, so a name or image can never be read as
an option. The provider (``compute.py``) and the ``cms multipass`` command use these.
"""

from __future__ import annotations

import math
import os
import re
from typing import Any, Iterable

from cloudmesh.compute.errors import NotFound, UsageError

#: the flavors a multipass cloud offers: name -> (vcpus, ram_mb, disk_gb)
FLAVORS: dict[str, tuple[int, int, int]] = {
    "tiny": (1, 1024, 5),       # what 'multipass launch' uses without options
    "small": (1, 2048, 10),
    "medium": (2, 4096, 20),
    "large": (4, 8192, 40),
    "xlarge": (8, 16384, 80),
}

_NAME = re.compile(r"^[A-Za-z](?:[A-Za-z0-9-]*[A-Za-z0-9])?$")
_CUSTOM_FLAVOR = re.compile(r"^(\d+)cpu-(\d+(?:\.\d+)?)G-(\d+(?:\.\d+)?)G$")
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?\s*$", re.IGNORECASE)
_IMAGE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/~+-]*$")
_IPV4 = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")
_NO_RELEASE = ("", "not available", "n/a")


# ---- checks of what goes into an argument list -----------------------------------------
def check_name(name: str) -> str:
    """A valid Multipass instance name, or UsageError before Multipass is called."""
    # the name becomes the instance's hostname, so a DNS label's 63 characters at most
    if not isinstance(name, str) or not _NAME.match(name) or len(name) > 63:
        raise UsageError(f"invalid instance name '{name}'",
                         "Multipass names use letters, digits and hyphens, start with a "
                         "letter, do not end with a hyphen and have at most 63 characters")
    return name


def check_image(image: str) -> str:
    """An image reference that multipass reads as an image, never as an option (an image
    of '--mount=/:/host' would otherwise mount the host's root into the instance)."""
    if not isinstance(image, str) or not _IMAGE.match(image):
        raise UsageError(f"invalid image '{image}'",
                         "use an alias such as 24.04 or lts, REMOTE:ALIAS, or a file:// or "
                         "https:// URL")
    return image


def with_authorized_key(userdata: str | None, username: str, public_key: str) -> str:
    """Cloud-init user data that creates ``username`` with ``public_key``, merged into the
    user's own ``#cloud-config`` document by the kit's ``add_user`` (the same merge on
    every kind). Anything else is refused here: multipassd parses --cloud-init as YAML, so
    the kit's MIME multi-part for a script would fail there."""
    from cloudmesh.compute.kit.cloudinit import add_user

    text = userdata or ""
    if text.strip() and not text.lstrip().startswith("#cloud-config"):
        raise UsageError("Multipass takes cloud-init user data as a #cloud-config document "
                         "only", "put the script under runcmd: in a #cloud-config file")
    return add_user(text, username, public_key)


# ---- values as Multipass prints them ---------------------------------------------------
def to_bytes(value: Any) -> int | None:
    """A size as Multipass prints it (int, "5116440064", "5G", "1.5GiB") in bytes."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return int(value)
    match = _SIZE.match(str(value))
    if not match:
        return None
    return int(float(match.group(1)) * 1024 ** "_KMGT".index(match.group(2).upper() or "_"))


def to_int(value: Any) -> int | None:
    """A count as Multipass prints it ("2", 2, "") or None."""
    if isinstance(value, bool):
        return None
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _gib(size: int) -> str:
    # a running VM reports a little less than it was given: 4.85 GiB of a 5G disk
    value = size / 2 ** 30
    allocated = math.ceil(value * 2) / 2
    return f"{allocated if allocated - value <= 0.05 * allocated else round(value, 1):g}"


def _close(actual: int | None, wanted: int) -> bool:
    # a running VM reports what its kernel sees: a little less memory and disk than
    # was allocated (kernel reserve, file system overhead)
    return actual is None or 0.85 <= actual / wanted <= 1.02


def flavor_name(cpus: int | None, memory: int | None, disk: int | None) -> str | None:
    """The flavor a VM of these sizes (bytes) was launched with: a name from FLAVORS,
    else ``NcpuM-G-DG``; None when Multipass does not say (deleted VMs)."""
    if not cpus:
        return None
    for name, (vcpus, ram_mb, disk_gb) in FLAVORS.items():
        if vcpus == cpus and _close(memory, ram_mb * 2 ** 20) and _close(disk, disk_gb * 2 ** 30):
            return name
    if memory and disk:
        return f"{cpus}cpu-{_gib(memory)}G-{_gib(disk)}G"
    return None


def flavor_sizes(name: str, cloud: str) -> tuple[int, int, float]:
    """(vcpus, ram_mb, disk_gb) of a FLAVORS name or of ``NcpuM-G-DG``; NotFound names
    ``cloud``."""
    if name in FLAVORS:
        return FLAVORS[name]
    match = _CUSTOM_FLAVOR.match(str(name))
    if match and int(match.group(1)) > 0:
        disk = float(match.group(3))
        return (int(match.group(1)), int(float(match.group(2)) * 1024),
                int(disk) if disk.is_integer() else disk)
    raise NotFound(f"no flavor '{name}' on cloud '{cloud}'",
                   f"use one of {', '.join(FLAVORS)} or NcpuM-G-DG such as 2cpu-4G-20G")


def ips(addresses: Any) -> list[str]:
    """The IPv4 addresses of a list (Multipass prints "N/A" for a running VM whose
    address it does not know yet)."""
    return [a for a in addresses or () if isinstance(a, str) and _IPV4.match(a)]


def zone_name(zone: Any) -> str | None:
    """The zone's name: an object {"name", "available"} in Multipass's JSON (main, after
    1.16), a bare name from older fakes and scripts."""
    if isinstance(zone, dict):
        zone = zone.get("name")
    return str(zone) if zone else None


def release(text: Any) -> str | None:
    """An image's release, None for "Not Available" or "N/A"."""
    text = str(text or "").strip()
    return None if text.lower() in _NO_RELEASE else text


# ---- argument lists --------------------------------------------------------------------
def _size_option(value: Any, option: str) -> str | None:
    """--memory/--disk as Multipass takes them (bytes or K/M/G suffix)."""
    if value in (None, ""):
        return None
    text = str(value).strip()
    if to_bytes(text) is None:
        raise UsageError(f"{option} takes a size such as 512M, 4G or 1.5G, not '{value}'")
    return text


def _whole(value: Any, option: str, what: str) -> str:
    count = to_int(value)
    if count is None or count < 1:
        raise UsageError(f"{option} takes {what}, not '{value}'")
    return str(count)


def launch_argv(name: str, image: str | None = None, cpus: int | str | None = None,
                memory: str | None = None, disk: str | None = None,
                cloud_init: str | None = None, networks: Iterable[str] = (),
                bridged: bool = False, mounts: Iterable[str] = (),
                timeout: int | str | None = None) -> list[str]:
    """The arguments of ``multipass launch`` for these options (validated here)."""
    argv = ["launch", "--name", check_name(name)]
    if cpus not in (None, ""):
        argv += ["--cpus", _whole(cpus, "--cpus", "a whole number of at least 1")]
    for option, value in (("--memory", memory), ("--disk", disk)):
        size = _size_option(value, option)
        if size:
            argv += [option, size]
    if cloud_init:
        argv += ["--cloud-init", cloud_init if cloud_init == "-"
                 else os.path.abspath(os.path.expanduser(cloud_init))]
    for spec in networks:
        argv += ["--network", spec]
    if bridged:
        argv.append("--bridged")
    for mount in mounts:
        source, _, target = mount.partition(":")
        source = os.path.abspath(os.path.expanduser(source))
        argv += ["--mount", f"{source}:{target}" if target else source]
    if timeout not in (None, ""):
        argv += ["--timeout", _whole(timeout, "--timeout", "a whole number of seconds")]
    if image:
        argv.append(check_image(image))
    return argv


def transfer_argv(paths: list[str], recursive: bool = False) -> list[str]:
    """``multipass transfer [-r] SOURCE... DESTINATION``; NAME:PATH is inside an
    instance, '-' is stdin or stdout."""
    if len(paths) < 2:
        raise UsageError("transfer needs at least one source and a destination")
    inside = [p.split(":", 1)[0] for p in paths if ":" in p]
    if not inside:
        raise UsageError("transfer needs NAME:PATH on one side",
                         "e.g. cms multipass transfer notes.txt web01:/tmp/")
    for name in inside:
        check_name(name)
    return ["transfer", *(["-r"] if recursive else []), *paths]


def exec_argv(name: str, command: list[str]) -> list[str]:
    """``multipass exec NAME -- COMMAND...``."""
    if not command:
        raise UsageError("exec needs a command", "e.g. cms multipass exec web01 -- uname -a")
    return ["exec", check_name(name), "--", *command]


def shell_argv(name: str) -> list[str]:
    """``multipass shell NAME``."""
    return ["shell", check_name(name)]

"""Booting: how the facade builds each VM's ``BootSpec`` (:mod:`.bootspec`) and boots
with it.

The facade fills every field from the command line, then ``cms set`` (``CLOUD.x``, then
``x``), then the cloud's ``default:`` block, then the provider's own defaults. Before any
request it checks each name with the provider's ``check_name``, warns about options the
kind cannot honour, reserves the name on this machine (so parallel boots of one name make
one VM), and puts the key and the cms-owned groups on the cloud. A create that failed
transiently is tried again with the same idempotency token, and only after looking
whether the lost request booted the VM.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any, Callable

from cloudmesh.compute import names as name_expr
from cloudmesh.compute.bootspec import (BOOT_OPTIONS, CMS_DEFAULT_GROUP,  # noqa: F401
                                        BootSpec, cloud_group_name, parse_bool,
                                        parse_disk)
from cloudmesh.compute.errors import CmsError, NotFound, UsageError
from cloudmesh.compute.fanout import Outcome, fan_out

#: the Provider facade (cloudmesh.compute.provider), which imports this module: named by
#: its role here so that the two modules do not import each other
Facade = Any

#: how long a name stays reserved after its VM was created, so that a second boot of the
#: name on this machine is refused even where the cloud's own listing lags behind
RESERVE_AFTER_CREATE = 120.0
#: how long an in-flight reservation holds if its process cannot be checked
RESERVE_IN_FLIGHT = 1800.0


class Booter:
    """Boots VMs for one facade (one cloud)."""

    def __init__(self, facade: Facade) -> None:
        self.facade = facade
        self.provider = facade.provider
        self.state = facade.state

    # ---- the spec ----------------------------------------------------------------------
    def specs(self, vm_names: list[str], image: str | None, flavor: str | None,
              key: str | None, secgroups: str | list[str] | None, username: str | None,
              network: str | None, subnet: str | None, public_ip: Any, zone: str | None,
              disk_gb: Any, userdata: str | None, metadata: dict[str, str] | None,
              ) -> list[BootSpec]:
        """One BootSpec per name, every field resolved; warnings for options the kind
        cannot honour. Raises before any request when something is wrong."""
        facade, provider = self.facade, self.provider
        for vm_name in vm_names:
            provider.check_name(vm_name)
        image = facade.require_default("image", image)
        flavor = facade.require_default("flavor", flavor)
        groups = facade.default("secgroup", secgroups)
        if isinstance(groups, str):
            groups = [g.strip() for g in groups.split(",") if g.strip()]
        groups = [cloud_group_name(g) if self.state.secgroup_get(g) else g
                  for g in (groups or [])]
        if groups and not provider.supports("secgroups"):
            facade.warn(f"{provider.kind} has no security groups "
                        f"({provider.unsupported.get('secgroups', 'not supported')}); "
                        f"--secgroup={','.join(groups)} is ignored")
            groups = []
        options = {"network": facade.default("network", network),
                   "subnet": facade.default("subnet", subnet),
                   "zone": facade.default("zone", zone),
                   "disk_gb": parse_disk(facade.default("disk_gb", disk_gb)),
                   "userdata": userdata, "metadata": dict(metadata or {})}
        for option, unset in BOOT_OPTIONS.items():
            if options[option] not in (None, {}) and not provider.supports(option):
                facade.warn(f"{provider.kind} cannot honour {option}: "
                            f"{provider.unsupported[option]}; it is ignored")
                options[option] = unset
        chosen_ip = facade.default("public_ip", public_ip)
        wants_ip = True if chosen_ip is None else parse_bool(chosen_ip, "public_ip")
        if public_ip is not None and not provider.supports("public_ip"):
            facade.warn(f"{provider.kind} cannot choose a public IP: "
                        f"{provider.unsupported['public_ip']}")
        # None: the image's own login, asked of the provider at boot (default_username_for)
        login = facade.default("username", username)
        key_entry = self.key(facade.default("key", key))  # one registry lookup for all
        return [BootSpec(name=vm_name, image=str(image), flavor=str(flavor),
                         key=dict(key_entry) if key_entry else None,
                         username=str(login) if login else None,
                         secgroups=list(groups), public_ip=wants_ip, **options)
                for vm_name in vm_names]

    def key(self, key_name: str | None) -> dict[str, Any] | None:
        """The key as a spec carries it: from the local registry; a key pair only the
        cloud knows works for "keypair" kinds alone."""
        if not key_name:
            return None
        local = self.state.key_get(key_name)
        if local is not None:  # re-validated: what reaches a VM is one canonical key line
            from cloudmesh.compute.keys import parse_public_key

            key = parse_public_key(local["public_key"], f"key '{key_name}' in the registry")
            return {"name": key_name, "public_key": key.line(), "fingerprint": key.fingerprint}
        if self.provider.key_delivery == "keypair":
            return {"name": key_name, "public_key": None, "fingerprint": None}
        raise NotFound(f"key '{key_name}' is not in the local registry, and "
                       f"{self.provider.kind} needs the public key itself",
                       f"add it with 'cms key add {key_name}' or 'cms key gen {key_name}'")

    # ---- before the first create --------------------------------------------------------
    def ensure_on_cloud(self, spec: BootSpec) -> None:
        """Upload the key (keypair kinds) and create missing cms-owned groups. A group that
        already exists on the cloud is used as it is: a boot never edits a group (only
        'cms secgroup upload NAME' does, because the user named it)."""
        key = spec.key
        if key and key["public_key"] and self.provider.key_delivery == "keypair" \
                and self.provider.supports("key_upload"):
            self.facade.upload_key(key["name"])
        wanted = [g for g in spec.secgroups if self._local_group(g) is not None]
        if not wanted:
            return
        present = {g["name"] for g in self.facade.call("secgroups")}
        for group in wanted:
            if group not in present:
                definition = dict(self._local_group(group))
                definition["name"] = group
                self.facade.call("secgroup_upload", definition)

    def _local_group(self, cloud_name: str) -> dict | None:
        if cloud_name == CMS_DEFAULT_GROUP:
            return self.state.secgroup_get("default")
        return self.state.secgroup_get(cloud_name)

    # ---- booting ------------------------------------------------------------------------
    def boot_one(self, spec: BootSpec, wait: bool, timeout: float,
                 progress: Callable[[dict, float], None] | None) -> dict:
        cloud = self.facade.name
        if not self.state.reserve(cloud, spec.name, os.getpid(), RESERVE_IN_FLIGHT):
            raise UsageError(f"a VM named '{spec.name}' is being booted on '{cloud}' by "
                             "another cms on this machine, or was booted just now",
                             "pick another name, or wait and see 'cms vm list'")
        created = False
        try:
            existing = self.existing(spec.name)
            if existing:
                raise UsageError(f"a VM named '{spec.name}' already exists on '{cloud}' "
                                 f"(status {existing['status']})", "pick another name")
            if spec.username is None:
                spec = replace(spec, username=self.facade.call("default_username_for",
                                                               spec.image))
            record = self.create_checked(spec)
            created = True
        finally:
            if created:
                self.state.reserve_hold(cloud, spec.name, RESERVE_AFTER_CREATE)
            else:
                self.state.release(cloud, spec.name)
        self.state.boot_put(cloud, spec.name, spec.key["name"] if spec.key else None,
                            spec.username)
        if wait:
            record = self.facade.call("wait", spec.name, "running", timeout=timeout,
                                      progress=progress)
        return record

    def existing(self, vm_name: str) -> dict | None:
        """The live VM of that name, if there is one."""
        try:
            record = self.facade.call("info", vm_name)
        except NotFound:
            return None
        return None if record["status"] in ("terminated", "deleting") else record

    def create_checked(self, spec: BootSpec) -> dict:
        """Create a VM, trying again after a transient fault with the same token, but
        never blindly: the lost request may have booted the VM (not every cloud has an
        idempotency token), so look for it first."""
        import random
        import time

        attempts = self.provider.retries + 1
        for attempt in range(attempts):
            try:
                return self.facade.call("create", spec)
            except CmsError as error:
                if not error.retryable or attempt == attempts - 1:
                    raise
            time.sleep(min(8.0, 0.5 * 2 ** attempt) * random.uniform(0.5, 1.0))
            booted = self.existing(spec.name)
            if booted:
                return booted
        raise AssertionError("unreachable")  # the loop returns or raises


def boot(facade: Facade, names: str | list[str] | None, count: int | None,
         dryrun: bool, wait: bool, timeout: float,
         progress: Callable[[str, dict, float], None] | None,
         **options: Any) -> list[Outcome]:
    """Boot VMs, one per name (or ``count`` generated names), concurrently."""

    booter = Booter(facade)
    reserved: tuple[int, int] | None = None
    if names:
        vm_names = name_expr.expand(names)
        if count not in (None, len(vm_names)):
            raise UsageError(f"--n={count} does not match the {len(vm_names)} names given")
    elif dryrun:
        first = facade.state.counter("vm") + 1
        vm_names = facade.generated_names(first, count or 1)
    else:
        vm_names, first = facade.new_names(count or 1)
        reserved = (first, len(vm_names))
    try:
        specs = booter.specs(vm_names, **options)
        if dryrun:
            return [Outcome(s.name, result=facade.provider.vm_record(
                name=s.name, status="unknown", state="dryrun", image=s.image, flavor=s.flavor,
                key=s.key["name"] if s.key else None, secgroups=s.secgroups))
                for s in specs]
        booter.ensure_on_cloud(specs[0])
    except BaseException:
        if reserved:
            facade.state.release_counter("vm", *reserved)
        raise
    by_name = {spec.name: spec for spec in specs}
    outcomes = fan_out(lambda vm_name: booter.boot_one(
        by_name[vm_name], wait, timeout, facade.progress_for(vm_name, progress)), by_name)
    facade.remember(outcomes)
    if reserved and not any(o.ok for o in outcomes):
        facade.state.release_counter("vm", *reserved)
    return outcomes

"""What a GCE boot sends: the network chosen, the instance metadata (the user's entries,
the ``ssh-keys`` line built from the validated key, cloud-init user data and cms's own
``cms-key``/``cms-image``) and the instance body. Mixed into the Provider, whose
``_pages``, ``project`` and ``zone`` it uses; ``create`` in compute.py sends it."""

from __future__ import annotations

import re
from typing import Any

from cloudmesh.compute.bootspec import BootSpec
from cloudmesh.compute.errors import CloudError, UsageError
from cloudmesh.compute.keys import parse_public_key
from cloudmesh.google import sdk
from cloudmesh.google.access import LOGIN, NAME_RULE

#: instance metadata entries cms writes or reads itself; not shown as the user's metadata
HIDDEN = ("ssh-keys", "user-data", "cms-key", "cms-image")
_METADATA_KEY = re.compile(r"[A-Za-z0-9_-]{1,128}")


def check_metadata_keys(keys: Any) -> None:
    """Refuse a key GCE does not take, or one cms keeps for itself."""
    for key in keys:
        if key in HIDDEN or not _METADATA_KEY.fullmatch(str(key)):
            raise UsageError(f"'{key}' cannot be a GCE metadata key" + (
                " (cms writes it)" if key in HIDDEN else ""),
                "use 1-128 letters, digits, '-' and '_'")


class Launch:
    """The parts of an instance insert that are not the call itself."""

    def _network(self, spec: BootSpec) -> tuple[str, str | None]:
        """The network (and subnetwork) to attach: the one named, else 'default', else
        the only one; several and none named is a usage error listing them."""
        region = str(spec.zone or self.zone).rsplit("-", 1)[0]
        subnet = f"regions/{region}/subnetworks/{spec.subnet}" if spec.subnet else None
        if spec.network:
            return f"global/networks/{spec.network}", subnet
        names = [n.name for n in self._pages(
            "networks", "list", sdk.types().ListNetworksRequest(project=self.project))]
        if "default" in names:
            return "global/networks/default", subnet
        if len(names) == 1:
            return f"global/networks/{names[0]}", subnet
        if not names:
            raise CloudError(f"cloud '{self.cloud}': project {self.project} has no network",
                             "create a VPC network first")
        raise UsageError(f"cloud '{self.cloud}' has several networks and none is chosen: "
                         f"{', '.join(sorted(names))}", "set default.network or --network")

    @staticmethod
    def _boot_metadata(spec: BootSpec, image_id: str) -> dict[str, str]:
        items = {str(k): str(v) for k, v in (spec.metadata or {}).items()}
        check_metadata_keys(items)
        if spec.key:
            if not spec.key.get("public_key"):
                raise UsageError(f"key '{spec.key['name']}' has no public key to inject")
            if not LOGIN.fullmatch(spec.username or ""):
                raise UsageError(f"'{spec.username}' is not a login GCE can create",
                                 "use a lowercase user name (letters, digits, '_', '-')")
            # built from the validated key's parts: a second line in a key file never
            # reaches ssh-keys (issue 21)
            key = parse_public_key(spec.key["public_key"], f"key '{spec.key['name']}'")
            items["ssh-keys"] = f"{spec.username}:{key.line()}"
            items["cms-key"] = spec.key["name"]
        if spec.userdata:
            items["user-data"] = spec.userdata  # read by cloud-init on GCE's images
        items["cms-image"] = image_id
        return items

    def _instance(self, spec: BootSpec, zone: str, machine: str, image_id: str) -> Any:
        """The Instance resource of an insert: one boot disk from the image (deleted with
        the VM), one interface (with a one-to-one NAT for a public IP), the metadata, and
        the security groups as network tags."""
        types = sdk.types()
        for group in spec.secgroups or ():
            if not NAME_RULE.fullmatch(group):
                raise UsageError(f"'{group}' cannot be a GCE network tag (security group)",
                                 "use lowercase letters, digits and '-'")
        network, subnet = self._network(spec)
        items = self._boot_metadata(spec, image_id)
        params = types.AttachedDiskInitializeParams(source_image=image_id)
        if spec.disk_gb:
            params.disk_size_gb = int(spec.disk_gb)
        interface = types.NetworkInterface(network=network)
        if subnet:
            interface.subnetwork = subnet
        if spec.public_ip:
            interface.access_configs = [types.AccessConfig(name="External NAT",
                                                           type_="ONE_TO_ONE_NAT")]
        return types.Instance(
            name=spec.name,
            machine_type=f"zones/{zone}/machineTypes/{machine}",
            disks=[types.AttachedDisk(boot=True, auto_delete=True, type_="PERSISTENT",
                                      initialize_params=params)],
            network_interfaces=[interface],
            metadata=types.Metadata(items=[types.Items(key=k, value=v)
                                           for k, v in items.items()]),
            tags=types.Tags(items=list(spec.secgroups or ())))

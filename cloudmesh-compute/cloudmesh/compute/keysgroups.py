"""The facade's keys and security groups on a cloud (``Provider.keys``, ``upload_key``,
``secgroups``, ``upload_secgroup``, ...): the local registry's key and the locally defined
groups put on the cloud, and removed from it.

``KeyGroupMethods`` is a part of the facade (``cloudmesh.compute.provider.Provider``
derives from it); it uses the facade's ``call``, ``name`` and ``state`` and does not
import the facade's module, so that the two do not import each other.
"""

from __future__ import annotations

from cloudmesh.compute import names as name_expr
from cloudmesh.compute.errors import CloudError, NotFound
from cloudmesh.compute.fanout import Outcome, fan_out


class KeyGroupMethods:
    """The facade's methods for key pairs and security groups on the cloud."""

    # ---- keys ------------------------------------------------------------------------
    def keys(self) -> list[dict]:
        """The key pairs on the cloud: key records (name, fingerprint, cloud, kind)."""
        return self.call("keys")

    def upload_key(self, name: str, on_cloud: dict[str, dict] | None = None) -> dict:
        """Upload a key of the local registry (``cms key add|gen``); its key record with
        ``action`` "uploaded". The same key already there is a no-op (``action:
        unchanged``); another key under that name is a CloudError naming both
        fingerprints; a name not in the registry is NotFound."""
        local = self.state.key_get(name)
        if local is None:
            raise NotFound(f"key '{name}' is not in the local registry",
                           f"add it with 'cms key add {name}' or 'cms key gen {name}'")
        if on_cloud is None:
            on_cloud = {k["name"]: k for k in self.call("keys")}
        present = on_cloud.get(name)
        if present is not None:
            if present.get("fingerprint") == local["fingerprint"]:
                return {**present, "action": "unchanged"}
            raise CloudError(
                f"cloud '{self.name}' has another key named '{name}' "
                f"({present.get('fingerprint')}; the local one is {local['fingerprint']})",
                "delete it there first (cms key delete NAME --cloud=...) or use another name")
        from cloudmesh.compute.keys import parse_public_key  # re-validated on use

        key = parse_public_key(local["public_key"], f"key '{name}' in the registry")
        return {**self.call("key_upload", name, key.line()), "action": "uploaded"}

    def upload_keys(self, names: str | list[str]) -> list[Outcome]:
        """``upload_key`` for several keys: one Outcome per key."""
        key_names = name_expr.expand(names)
        on_cloud = {k["name"]: k for k in self.call("keys")}
        return fan_out(lambda n: self.upload_key(n, on_cloud), key_names)

    def delete_keys(self, names: str | list[str]) -> list[Outcome]:
        """Delete key pairs on the cloud: one Outcome per key."""
        return fan_out(lambda n: self.call("key_delete", n), name_expr.expand(names))

    # ---- security groups ---------------------------------------------------------------
    def secgroups(self) -> list[dict]:
        """The cloud's security groups: records (name, id, description, rules), each
        rule {direction, protocol, from_port, to_port, cidr}."""
        return self.call("secgroups")

    def upload_secgroup(self, name: str, prune: bool = False, dryrun: bool = False) -> dict:
        """Create or reconcile a locally defined group on the cloud (``prune``: remove
        rules the local group lacks; ``dryrun``: only say what would change)."""
        group = self.state.secgroup_get(name)
        if group is None:
            raise NotFound(f"security group '{name}' is not defined locally",
                           f"define it with 'cms secgroup add {name}' and 'cms secgroup rule add'")
        from cloudmesh.compute.bootspec import cloud_group_name

        # the local group 'default' is the cms-owned 'cms-default' on the cloud
        group = {**group, "name": cloud_group_name(name)}
        return self.call("secgroup_upload", group, prune=prune, dryrun=dryrun)

    def delete_secgroups(self, names: str | list[str]) -> list[Outcome]:
        """Delete groups on the cloud: one Outcome per group."""
        from cloudmesh.compute.bootspec import cloud_group_name

        return fan_out(lambda n: self.call("secgroup_delete", cloud_group_name(n)),
                       name_expr.expand(names))

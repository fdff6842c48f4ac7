"""Neutron security groups as cms secgroup records: the verbs the OpenStack provider
inherits (kept apart so that compute.py holds the server verbs)."""

from __future__ import annotations

from typing import Any

from cloudmesh.compute.abc import record_mapper
from cloudmesh.compute.errors import NotFound, UsageError
from cloudmesh.compute.lazy import require

_DIST = "cloudmesh-openstack"
#: Neutron accepts protocol numbers as well as names
_PROTOCOLS = {"6": "tcp", "17": "udp", "1": "icmp", "any": "all"}


class SecurityGroupVerbs:
    """secgroups, secgroup_create, secgroup_add_rules, secgroup_remove_rules,
    secgroup_delete over the provider's ``network`` proxy."""

    # ---- security groups --------------------------------------------------------------
    @staticmethod
    def _to_rule(rule) -> dict[str, Any] | None:
        if rule.remote_group_id or rule.remote_address_group_id:
            return None  # "from members of group G": no cms rule says that
        cidr = rule.remote_ip_prefix or ("::/0" if rule.ether_type == "IPv6" else "0.0.0.0/0")
        protocol = _PROTOCOLS.get(str(rule.protocol), rule.protocol) or "all"
        low, high = rule.port_range_min, rule.port_range_max
        if protocol == "all":
            low = high = None
        return {"direction": rule.direction, "protocol": protocol, "from_port": low,
                "to_port": high, "cidr": cidr}

    @record_mapper("security group")
    def _to_secgroup(self, group) -> dict[str, Any]:
        rules = [self._to_rule(_Rule(r)) for r in group.security_group_rules or ()]
        return self.secgroup_record(name=group.name, id=group.id,
                                    description=group.description,
                                    rules=[r for r in rules if r])

    def secgroups(self) -> list[dict[str, Any]]:
        groups = self.listed(self.network.security_groups, "security groups")
        return sorted((self._to_secgroup(g) for g in groups), key=lambda g: g["name"])

    def _group(self, name: str):
        groups = [g for g in self.listed(self.network.security_groups, "security groups")
                  if name in (g.name, g.id)]
        if not groups:
            raise NotFound(f"no security group '{name}' on cloud '{self.cloud}'")
        if len(groups) > 1:
            raise UsageError(f"{len(groups)} security groups on '{self.cloud}' are named "
                             f"'{name}'", "use the group id: "
                             + ", ".join(g.id for g in groups))
        return groups[0]

    def secgroup_create(self, name: str, description: str) -> dict[str, Any]:
        return self._to_secgroup(self.network.create_security_group(
            name=name, description=description))

    def secgroup_add_rules(self, name: str, rules: list[dict[str, Any]]) -> None:
        import ipaddress

        exceptions = require("openstack.exceptions", _DIST, "openstacksdk")
        group = self._group(name)
        for rule in rules:
            network = ipaddress.ip_network(rule["cidr"], strict=False)
            protocol = None if rule["protocol"] == "all" else rule["protocol"]
            try:
                self.network.create_security_group_rule(
                    security_group_id=group.id, direction=rule.get("direction", "ingress"),
                    ether_type=f"IPv{network.version}", protocol=protocol,
                    port_range_min=rule.get("from_port"), port_range_max=rule.get("to_port"),
                    remote_ip_prefix=str(network))
            except exceptions.ConflictException:
                pass  # SecurityGroupRuleExists: the rule is there, as wanted

    def secgroup_remove_rules(self, name: str, rules: list[dict[str, Any]]) -> None:
        from cloudmesh.compute.secgroups import rule_key

        group = self._group(name)
        unwanted = {rule_key(r) for r in rules}
        for rule in group.security_group_rules or ():
            mapped = self._to_rule(_Rule(rule))
            if mapped and rule_key(mapped) in unwanted:
                self.call(self.network.delete_security_group_rule, rule["id"],
                          ignore_missing=True)

    def secgroup_delete(self, name: str) -> None:
        group = self._group(name)
        self.call(self.network.delete_security_group, group, ignore_missing=False)


class _Rule:
    """A security group's embedded rule (a dict in Neutron's JSON) read by attribute."""

    __slots__ = ("_data",)

    def __init__(self, data: dict) -> None:
        self._data = data

    def __getattr__(self, name: str) -> Any:
        key = {"ether_type": "ethertype"}.get(name, name)
        return self._data.get(key)

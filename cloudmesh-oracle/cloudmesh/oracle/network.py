"""The oracle provider's network half: the subnet and VCN a launch uses, and network
security groups (cms secgroups) with their rules. Mixed into ``Provider`` (compute.py),
whose clients, paging (``_all``) and calls (``_call``) it uses."""

from __future__ import annotations

import uuid
from typing import Any

from cloudmesh.compute.abc import record_mapper
from cloudmesh.compute.errors import NotFound, UsageError

#: OCI security-rule protocol numbers <-> cms protocol names
_PROTOCOLS = {"6": "tcp", "17": "udp", "1": "icmp", "all": "all"}
_PROTOCOL_NUMBERS = {name: number for number, name in _PROTOCOLS.items()}


def _models():
    import oci.core

    return oci.core.models


class NetworkMixin:
    """Subnets, VCNs and network security groups of the provider's compartment."""

    def _subnet(self, network: str | None, subnet: str | None) -> Any:
        """The subnet to launch in: credentials.subnet_id, else the named or only subnet
        (of the named or any VCN) of the compartment; several -> UsageError listing them."""
        wanted = subnet or self.credentials.get("subnet_id")
        if wanted and str(wanted).startswith("ocid1.subnet."):
            return self._call(self.network.get_subnet, str(wanted)).data
        vcn_id = None
        if network:
            vcns = self._all(self.network.list_vcns, self.compartment)
            found = [v for v in vcns if network in (v.id, v.display_name)]
            if not found:
                raise NotFound(f"no VCN '{network}' in the compartment of cloud '{self.cloud}'",
                               "VCNs: " + ", ".join(v.display_name for v in vcns))
            vcn_id = found[0].id
        kwargs = {"vcn_id": vcn_id} if vcn_id else {}
        subnets = [s for s in self._all(self.network.list_subnets, self.compartment, **kwargs)
                   if s.lifecycle_state == "AVAILABLE"]
        if wanted:
            subnets = [s for s in subnets if s.display_name == wanted]
            if not subnets:
                raise NotFound(f"no subnet '{wanted}' in the compartment of cloud "
                               f"'{self.cloud}'")
        if not subnets:
            raise NotFound(f"cloud '{self.cloud}': the compartment has no subnet",
                           "create a VCN with a subnet, or set credentials.subnet_id")
        if len(subnets) > 1:
            names = ", ".join(f"{s.display_name} ({s.id})" for s in subnets)
            raise UsageError(f"cloud '{self.cloud}' has {len(subnets)} subnets: {names}",
                             "choose one with --subnet or credentials.subnet_id")
        return subnets[0]

    def _vcn_id(self) -> str:
        """The VCN new network security groups belong to: that of credentials.subnet_id,
        else default.network, else the compartment's only VCN."""
        if self.credentials.get("subnet_id"):
            subnet = self._call(self.network.get_subnet, str(self.credentials["subnet_id"]))
            return subnet.data.vcn_id
        vcns = [v for v in self._all(self.network.list_vcns, self.compartment)
                if v.lifecycle_state == "AVAILABLE"]
        wanted = self.defaults.get("network")
        if wanted:
            vcns = [v for v in vcns if wanted in (v.id, v.display_name)]
        if len(vcns) == 1:
            return vcns[0].id
        if not vcns:
            raise NotFound(f"cloud '{self.cloud}': no VCN{' ' + str(wanted) if wanted else ''} "
                           "in the compartment", "create one, or set default.network")
        names = ", ".join(f"{v.display_name} ({v.id})" for v in vcns)
        raise UsageError(f"cloud '{self.cloud}' has {len(vcns)} VCNs: {names}",
                         f"choose one with 'cms set {self.cloud}.network=NAME'")

    def _nsg_names(self, vnics: dict[str, list]) -> dict[str, str]:
        if not any(v.nsg_ids for found in vnics.values() for v in found):
            return {}
        groups = self._all(self.network.list_network_security_groups,
                           compartment_id=self.compartment)
        return {g.id: g.display_name for g in groups}

    def _nsg_ids(self, names: list[str]) -> list[str]:
        groups = {g.display_name: g.id for g in self._all(
            self.network.list_network_security_groups, compartment_id=self.compartment)
            if g.lifecycle_state == "AVAILABLE"}
        ids = []
        for name in names:
            if name.startswith("ocid1.networksecuritygroup."):
                ids.append(name)
            elif name in groups:
                ids.append(groups[name])
            else:
                raise NotFound(f"network security group '{name}' is not on cloud "
                               f"'{self.cloud}'", "upload it with 'cms secgroup upload'")
        return ids

    # ---- network security groups -------------------------------------------------------
    def _groups(self) -> list:
        return [g for g in self._all(self.network.list_network_security_groups,
                                     compartment_id=self.compartment)
                if g.lifecycle_state not in ("TERMINATING", "TERMINATED")]

    def _group(self, name: str):
        for group in self._groups():
            if name in (group.display_name, group.id):
                return group
        raise NotFound(f"no network security group '{name}' on cloud '{self.cloud}'")

    @staticmethod
    def _to_rule(rule) -> dict[str, Any]:
        protocol = _PROTOCOLS.get(str(rule.protocol), str(rule.protocol))
        low = high = None
        options = rule.tcp_options if protocol == "tcp" else (
            rule.udp_options if protocol == "udp" else None)
        if protocol in ("tcp", "udp"):
            ports = getattr(options, "destination_port_range", None)
            low, high = (ports.min, ports.max) if ports else (0, 65535)
        ingress = rule.direction == "INGRESS"
        return {"direction": "ingress" if ingress else "egress", "protocol": protocol,
                "from_port": low, "to_port": high,
                "cidr": rule.source if ingress else rule.destination}

    def _rules(self, group_id: str) -> list:
        return self._all(self.network.list_network_security_group_security_rules, group_id)

    @record_mapper("network security group")
    def _to_secgroup(self, group, rules: list) -> dict[str, Any]:
        return self.secgroup_record(
            name=group.display_name or group.id, id=group.id,
            description=(group.freeform_tags or {}).get("description"),
            rules=[self._to_rule(r) for r in rules],
            native={"vcn_id": group.vcn_id})

    def secgroups(self) -> list[dict[str, Any]]:
        groups = self._groups()
        return sorted((self._to_secgroup(g, self._rules(g.id)) for g in groups),
                      key=lambda g: g["name"])

    def secgroup_create(self, name: str, description: str) -> dict[str, Any]:
        models = _models()
        vcn_id = self._vcn_id()
        details = models.CreateNetworkSecurityGroupDetails(
            compartment_id=self.compartment, vcn_id=vcn_id, display_name=name,
            freeform_tags={"description": description} if description else None)
        # the token makes a retried create answer the first group instead of a second one
        group = self._call(self.network.create_network_security_group, details,
                           opc_retry_token=uuid.uuid4().hex).data
        return self._to_secgroup(group, [])

    @staticmethod
    def _add_details(models, rule: dict[str, Any]):
        protocol = _PROTOCOL_NUMBERS[rule["protocol"]]
        ingress = rule.get("direction", "ingress") == "ingress"
        details = models.AddSecurityRuleDetails(
            direction="INGRESS" if ingress else "EGRESS", protocol=protocol,
            is_stateless=False)
        if ingress:
            details.source, details.source_type = rule["cidr"], "CIDR_BLOCK"
        else:
            details.destination, details.destination_type = rule["cidr"], "CIDR_BLOCK"
        low, high = rule.get("from_port"), rule.get("to_port")
        every_port = low is None or (low in (0, 1) and high == 65535)
        if rule["protocol"] in ("tcp", "udp") and not every_port:
            ports = models.PortRange(min=max(1, low), max=high)
            if rule["protocol"] == "tcp":
                details.tcp_options = models.TcpOptions(destination_port_range=ports)
            else:
                details.udp_options = models.UdpOptions(destination_port_range=ports)
        return details

    def secgroup_add_rules(self, name: str, rules: list[dict[str, Any]]) -> None:
        models = _models()
        group = self._group(name)
        body = models.AddNetworkSecurityGroupSecurityRulesDetails(
            security_rules=[self._add_details(models, r) for r in rules])
        self._call(self.network.add_network_security_group_security_rules, group.id, body)

    def secgroup_remove_rules(self, name: str, rules: list[dict[str, Any]]) -> None:
        from cloudmesh.compute.secgroups import rule_key

        models = _models()
        group = self._group(name)
        unwanted = {rule_key(r) for r in rules}
        ids = [r.id for r in self._rules(group.id) if rule_key(self._to_rule(r)) in unwanted]
        if ids:
            self._call(self.network.remove_network_security_group_security_rules,
                       group.id, models.RemoveNetworkSecurityGroupSecurityRulesDetails(
                           security_rule_ids=ids))

    def secgroup_delete(self, name: str) -> None:
        self._call(self.network.delete_network_security_group, self._group(name).id)

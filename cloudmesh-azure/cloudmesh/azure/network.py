"""Azure's network orchestration for the provider: the resource group and virtual network a
boot needs, the public IP and NIC it makes for a VM (and undoes when the VM is refused),
what ``destroy`` may remove, the VM's addresses, and network security groups
(``cms secgroup``). Mixed into the Provider, whose ``_call``, ``_lro``, ``_all``,
``network``, ``resources``, ``group`` and ``location`` it uses.

Ownership (issue 21): what cms makes for a VM carries the kit's marker
``cms-owner: <the VM's ARM id>`` (known before the VM exists). ``destroy`` removes a NIC,
public IP or OS disk only when its marker names that VM AND it is attached to it
(``kit.markers.owned_by``). Resources made before the marker, tagged ``cms-vm: NAME``, are
still recognised (read both spellings, write only the new one). What cms makes for no VM
(the resource group, ``cms-vnet``, a security group) is marked with its own id.
"""

from __future__ import annotations

import re
from typing import Any

from cloudmesh.compute.abc import record_mapper
from cloudmesh.compute.errors import CloudError, CmsError, NotFound, UsageError
from cloudmesh.compute.kit.markers import marker, owned_by, read_marker

#: the tag that marked ownership before the kit's marker: ``cms-vm: <VM name>``
LEGACY_VM_TAG = "cms-vm"
#: the tag that marked groups, networks and security groups cms made: ``"true"``
LEGACY_CREATED_TAG = "cms-created"
_PROTOCOLS = {"tcp": "Tcp", "udp": "Udp", "icmp": "Icmp", "all": "*"}


class AzureNetwork:
    """Resource group, vnet/subnet, NIC and public IP of a VM, and their cleanup."""

    # ---- ids and markers -------------------------------------------------------------
    def _resource_id(self, type_: str, name: str) -> str:
        """The ARM id of ``name`` of ``type_`` (``Microsoft.Compute/virtualMachines``) in
        the provider's group: ARM ids are known before the resource exists."""
        return (f"/subscriptions/{self.subscription}/resourceGroups/{self.group}/providers/"
                f"{type_}/{name}")

    def _vm_id(self, name: str) -> str:
        return self._resource_id("Microsoft.Compute/virtualMachines", name)

    def _owner(self, resource: Any) -> str | None:
        """The lower-case id of the VM the resource's marker names (ARM ids are
        case-insensitive), reading the kit's ``cms-owner`` and the older ``cms-vm``."""
        tags = resource.get("tags") or {}
        ref = read_marker(tags)
        if ref is None and tags.get(LEGACY_VM_TAG):
            ref = self._vm_id(str(tags[LEGACY_VM_TAG]))
        return ref.lower() if ref else None

    def _made_by_cms(self, resource: Any) -> bool:
        """True for a group-level resource cms made (marked with its own id, or the
        older ``cms-created: true``)."""
        tags = resource.get("tags") or {}
        return (str(read_marker(tags) or "").lower() == str(resource.get("id", "")).lower()
                or tags.get(LEGACY_CREATED_TAG) == "true")

    # ---- what a boot needs -----------------------------------------------------------
    def _ensure_group(self) -> None:
        try:
            self._call(self.resources.resource_groups.get, self.group)
        except NotFound:
            own_id = f"/subscriptions/{self.subscription}/resourceGroups/{self.group}"
            self._call(self.resources.resource_groups.create_or_update, self.group,
                       {"location": self.location, "tags": marker(own_id)})
            self.group_created = True
            self.notice(f"cloud '{self.cloud}': created the resource group '{self.group}' "
                        f"in {self.location}")

    def _subnet_id(self, network: str | None, subnet: str | None) -> str:
        """The subnet a new NIC goes into: the one named, or the group's only one; a
        virtual network and subnet are made when the group has none."""
        vnets = self._all(lambda: self.network.virtual_networks.list(self.group),
                          "virtual network list")
        if network:
            chosen = [v for v in vnets if v["name"].lower() == network.lower()]
            if not chosen:
                raise NotFound(f"no virtual network '{network}' in resource group "
                               f"'{self.group}' of cloud '{self.cloud}'",
                               f"the networks are: {', '.join(v['name'] for v in vnets) or 'none'}")
            vnet = chosen[0]
        elif len(vnets) > 1:
            raise UsageError(f"resource group '{self.group}' has {len(vnets)} virtual networks",
                             "choose one with --network: "
                             + ", ".join(sorted(v["name"] for v in vnets)))
        elif vnets:
            vnet = vnets[0]
        else:
            own_id = self._resource_id("Microsoft.Network/virtualNetworks", "cms-vnet")
            body = {"location": self.location, "tags": marker(own_id),
                    "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
                                   "subnets": [{"name": "default", "properties": {
                                       "addressPrefix": "10.0.0.0/24"}}]}}
            vnet = self._lro(self.network.virtual_networks.begin_create_or_update,
                             self.group, "cms-vnet", body)
        subnets = (vnet.get("properties") or {}).get("subnets") or []
        if subnet:
            chosen = [s for s in subnets if s["name"].lower() == subnet.lower()]
            if not chosen:
                raise NotFound(f"no subnet '{subnet}' in virtual network '{vnet['name']}'",
                               f"the subnets are: {', '.join(s['name'] for s in subnets) or 'none'}")
            return chosen[0]["id"]
        if len(subnets) != 1:
            raise UsageError(f"virtual network '{vnet['name']}' has {len(subnets)} subnets",
                             "choose one with --subnet: "
                             + (", ".join(sorted(s["name"] for s in subnets)) or "none"))
        return subnets[0]["id"]

    def _nsg_id(self, groups: list[str]) -> str | None:
        if not groups:
            return None
        if len(groups) > 1:
            raise UsageError("an Azure NIC takes one network security group, not "
                             f"{len(groups)} ({', '.join(groups)})", "give one --secgroup")
        try:
            return self._call(self.network.network_security_groups.get, self.group,
                              groups[0])["id"]
        except NotFound:
            raise NotFound(f"no network security group '{groups[0]}' in resource group "
                           f"'{self.group}' of cloud '{self.cloud}'",
                           "create it with 'cms secgroup' or pick another") from None

    def _make_nic(self, name: str, subnet_id: str, nsg_id: str | None, public_ip: bool,
                  zone: str | None, made: list[tuple[str, str]]) -> str:
        """Make the NIC (and Standard static public IP) of VM ``name``, marked as its;
        each one made is appended to ``made`` so that a refused boot can undo it."""
        owned = marker(self._vm_id(name))
        config: dict[str, Any] = {"name": "ipconfig1", "properties": {
            "subnet": {"id": subnet_id}, "privateIPAllocationMethod": "Dynamic"}}
        if public_ip:
            ip_body: dict[str, Any] = {
                "location": self.location, "tags": owned,
                # Basic, the API's default, has no quota any more
                "sku": {"name": "Standard", "tier": "Regional"},
                "properties": {"publicIPAllocationMethod": "Static",
                               "publicIPAddressVersion": "IPv4"}}
            if zone:
                ip_body["zones"] = [zone]
            ip = self._lro(self.network.public_ip_addresses.begin_create_or_update,
                           self.group, f"{name}-ip", ip_body)
            made.append(("public_ip_addresses", ip["id"]))
            config["properties"]["publicIPAddress"] = {"id": ip["id"]}
        nic_body: dict[str, Any] = {"location": self.location, "tags": owned,
                                    "properties": {"ipConfigurations": [config]}}
        if nsg_id:
            nic_body["properties"]["networkSecurityGroup"] = {"id": nsg_id}
        nic = self._lro(self.network.network_interfaces.begin_create_or_update,
                        self.group, f"{name}-nic", nic_body)
        made.append(("network_interfaces", nic["id"]))
        return nic["id"]

    # ---- addresses -------------------------------------------------------------------
    def _get_by_id(self, resource_id: str, operations: str):
        parts = resource_id.split("/")
        return self._call(getattr(self.network, operations).get, parts[4], parts[-1])

    def _addresses(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The group's NICs and public IPs by lower-case id: two lists per `vm list`,
        not calls per VM."""
        nics = {str(n["id"]).lower(): n for n in self._all(
            lambda: self.network.network_interfaces.list(self.group), "NIC list")}
        ips = {str(i["id"]).lower(): i for i in self._all(
            lambda: self.network.public_ip_addresses.list(self.group), "public IP list")}
        return nics, ips

    def _addresses_of(self, vm: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        """One VM's NICs and their public IPs by lower-case id (missing ones skipped)."""
        nics: dict[str, Any] = {}
        ips: dict[str, Any] = {}
        for ref in ((vm.get("properties") or {}).get("networkProfile") or {}).get(
                "networkInterfaces") or ():
            try:
                nic = self._get_by_id(ref["id"], "network_interfaces")
            except NotFound:
                continue
            nics[str(nic["id"]).lower()] = nic
            for ip_id in _public_ip_ids(nic):
                try:
                    ip = self._get_by_id(ip_id, "public_ip_addresses")
                except NotFound:
                    continue
                ips[str(ip["id"]).lower()] = ip
        return nics, ips

    # ---- what destroy removes --------------------------------------------------------
    def _owned_by_vm(self, vm: Any) -> list[tuple[str, str]]:
        """The NICs of ``vm`` and their public IPs that cms made for it, in the order to
        delete them (a NIC before the IP it held, as Azure requires), and its OS disk
        when cms made the VM. Each is attached to the VM by construction: it was found
        through the VM's own network profile."""
        vm_id = str(vm.get("id") or self._vm_id(vm["name"])).lower()
        nics, ips = self._addresses_of(vm)
        made: list[tuple[str, str]] = []
        for nic in nics.values():
            if not owned_by(self._owner(nic), vm_id, attached_to_vm=True):
                continue
            for ip_id in _public_ip_ids(nic):
                ip = ips.get(ip_id.lower())
                if ip is not None and owned_by(self._owner(ip), vm_id, attached_to_vm=True):
                    made.append(("public_ip_addresses", ip["id"]))
            made.append(("network_interfaces", nic["id"]))  # _undo: the NIC first
        disk_id = (((vm.get("properties") or {}).get("storageProfile") or {}).get(
            "osDisk", {}).get("managedDisk") or {}).get("id")
        # the OS disk carries no tags of its own (Azure makes it): the VM's marker
        # names the VM and the disk is the VM's OS disk
        if disk_id and owned_by(self._owner(vm), vm_id, attached_to_vm=True):
            made.insert(0, ("disks", disk_id))  # last, once nothing holds it
        return made

    def _leftovers(self, name: str) -> list[tuple[str, str]]:
        """NICs and public IPs cms made for a VM ``name`` that is gone, in the order for
        ``_undo`` (newest last). The VM is gone, so "attached to it" means attached to
        nothing else: a NIC no VM uses; an IP that is free or on one of those NICs."""
        try:
            nics, ips = self._addresses()
        except NotFound:
            return []
        vm_id = self._vm_id(name).lower()
        free_nics = {key for key, nic in nics.items() if owned_by(
            self._owner(nic), vm_id,
            attached_to_vm=not (nic.get("properties") or {}).get("virtualMachine"))}
        found = []
        for ip in ips.values():
            holder = ((ip.get("properties") or {}).get("ipConfiguration") or {}).get("id", "")
            nic_of_ip = holder.lower().split("/ipconfigurations/")[0]
            if owned_by(self._owner(ip), vm_id,
                        attached_to_vm=not holder or nic_of_ip in free_nics):
                found.append(("public_ip_addresses", ip["id"]))
        # _undo deletes from the end: NICs before the IPs they held
        return found + [("network_interfaces", nics[key]["id"]) for key in sorted(free_nics)]

    def _undo(self, made: list[tuple[str, str]]) -> list[str]:
        """Delete what a boot or a destroy made, newest (last) first; the names it could
        not remove, each with Azure's reason."""
        left = []
        for operations, resource_id in reversed(made):
            parts = resource_id.split("/")
            client = self.compute if operations == "disks" else self.network
            try:
                self._lro(getattr(client, operations).begin_delete, parts[4], parts[-1])
            except NotFound:
                pass
            except CmsError as error:
                left.append(f"{parts[-1]} ({error.message})")
        return left


class SecurityGroups:
    """``cms secgroup`` as network security groups of the resource group."""

    @staticmethod
    def _to_rule(rule: Any) -> dict[str, Any] | None:
        p = rule.get("properties") or {}
        if p.get("access") != "Allow":
            return None  # cms rules allow; deny rules stay the cloud's own
        direction = "ingress" if p.get("direction") == "Inbound" else "egress"
        protocol = {"Tcp": "tcp", "Udp": "udp", "Icmp": "icmp", "*": "all"}.get(
            p.get("protocol"), str(p.get("protocol", "")).lower())
        ports = p.get("destinationPortRange") or "*"
        if ports == "*" or protocol in ("icmp", "all"):
            low = high = None
        else:
            low_text, _, high_text = ports.partition("-")
            low, high = int(low_text), int(high_text or low_text)
        cidr = p.get("sourceAddressPrefix" if direction == "ingress"
                     else "destinationAddressPrefix") or "*"
        return {"direction": direction, "protocol": protocol, "from_port": low,
                "to_port": high, "cidr": "0.0.0.0/0" if cidr in ("*", "Internet") else cidr}

    @record_mapper("network security group")
    def _to_secgroup(self, group: Any) -> dict[str, Any]:
        rules = [r for r in map(self._to_rule, (group.get("properties") or {}).get(
            "securityRules") or ()) if r]
        tags = group.get("tags") or {}
        return self.secgroup_record(name=group["name"], id=group.get("id"),
                                    description=tags.get("description"), rules=rules,
                                    native={"cms_created": self._made_by_cms(group)})

    def _nsg(self, name: str) -> Any:
        try:
            return self._call(self.network.network_security_groups.get, self.group, name)
        except NotFound:
            raise NotFound(f"no network security group '{name}' in resource group "
                           f"'{self.group}' of cloud '{self.cloud}'") from None

    def secgroups(self) -> list[dict[str, Any]]:
        try:
            found = self._all(lambda: self.network.network_security_groups.list(self.group),
                              "network security group list")
        except NotFound:
            return []
        return sorted((self._to_secgroup(g) for g in found), key=lambda g: g["name"])

    def secgroup_create(self, name: str, description: str) -> dict[str, Any]:
        self._ensure_group()
        own_id = self._resource_id("Microsoft.Network/networkSecurityGroups", name)
        body = {"location": self.location,
                "tags": {**marker(own_id), "description": description[:256]},
                "properties": {"securityRules": []}}
        group = self._lro(self.network.network_security_groups.begin_create_or_update,
                          self.group, name, body)
        return self._to_secgroup(group)

    def secgroup_add_rules(self, name: str, rules: list[dict[str, Any]]) -> None:
        group = self._nsg(name)
        current = list((group.get("properties") or {}).get("securityRules") or ())
        # cms assigns priorities: the next free ones, per direction, from 1000 by 10
        used = {(r["properties"]["direction"], r["properties"]["priority"]) for r in current}
        names = {r["name"] for r in current}
        for rule in rules:
            direction = "Inbound" if rule.get("direction", "ingress") == "ingress" else "Outbound"
            priority = 1000
            while (direction, priority) in used:
                priority += 10
            if priority > 4096:
                raise CloudError(f"network security group '{name}' has no free rule priority")
            used.add((direction, priority))
            rule_name = _rule_name(rule, names)
            names.add(rule_name)
            current.append({"name": rule_name, "properties": _to_azure_rule(
                rule, direction, priority)})
        self._put_rules(group, current)

    def secgroup_remove_rules(self, name: str, rules: list[dict[str, Any]]) -> None:
        group = self._nsg(name)
        current = list((group.get("properties") or {}).get("securityRules") or ())
        unwanted = [_rule_key(r) for r in rules]
        kept = [r for r in current if (self._to_rule(r) and _rule_key(self._to_rule(r)))
                not in unwanted]
        self._put_rules(group, kept)

    def _put_rules(self, group: Any, rules: list[Any]) -> None:
        body = {"location": group["location"], "tags": group.get("tags") or {},
                "properties": {"securityRules": [
                    {"name": r["name"], "properties": {
                        k: v for k, v in (r.get("properties") or {}).items()
                        if k not in ("provisioningState",)}} for r in rules]}}
        self._lro(self.network.network_security_groups.begin_create_or_update,
                  self.group, group["name"], body)

    def secgroup_delete(self, name: str) -> None:
        self._nsg(name)
        self._lro(self.network.network_security_groups.begin_delete, self.group, name)


def vm_addresses(props: Any, nics: dict[str, Any], ips: dict[str, Any]
                 ) -> tuple[list[str], list[str], list[str]]:
    """A VM's public and private addresses and security group names, from its
    properties and the NICs and public IPs by lower-case id."""
    public, private, groups = [], [], []
    for ref in (props.get("networkProfile") or {}).get("networkInterfaces") or ():
        nic = nics.get(str(ref.get("id", "")).lower())
        if nic is None:
            continue
        nic_props = nic.get("properties") or {}
        nsg = (nic_props.get("networkSecurityGroup") or {}).get("id")
        if nsg:
            groups.append(nsg.rsplit("/", 1)[-1])
        for config in nic_props.get("ipConfigurations") or ():
            cprops = config.get("properties") or {}
            if cprops.get("privateIPAddress"):
                private.append(cprops["privateIPAddress"])
            ip_id = (cprops.get("publicIPAddress") or {}).get("id")
            address = ((ips.get(str(ip_id).lower()) or {}).get("properties") or {}).get(
                "ipAddress") if ip_id else None
            if address:
                public.append(address)
    return public, private, groups


def _public_ip_ids(nic: Any) -> list[str]:
    return [ip_id for config in (nic.get("properties") or {}).get("ipConfigurations") or ()
            if (ip_id := ((config.get("properties") or {}).get("publicIPAddress") or {}).get("id"))]


def _rule_key(rule: dict) -> tuple:
    return (rule.get("direction", "ingress"), rule.get("protocol"), rule.get("from_port"),
            rule.get("to_port"), rule.get("cidr"))


def _rule_name(rule: dict, taken: set[str]) -> str:
    ports = "any" if rule.get("from_port") is None else (
        str(rule["from_port"]) if rule["from_port"] == rule.get("to_port")
        else f"{rule['from_port']}-{rule['to_port']}")
    base = re.sub(r"[^A-Za-z0-9_.-]", "-", f"cms-{rule.get('direction', 'ingress')}-"
                  f"{rule.get('protocol')}-{ports}")[:70]
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}-{n}"
    return name


def _to_azure_rule(rule: dict, direction: str, priority: int) -> dict[str, Any]:
    protocol = _PROTOCOLS.get(str(rule.get("protocol")).lower())
    if protocol is None:
        raise UsageError(f"Azure rules take tcp, udp, icmp or all, not '{rule.get('protocol')}'")
    if rule.get("from_port") is None or protocol in ("Icmp", "*"):
        ports = "*"
    elif rule["from_port"] == rule.get("to_port", rule["from_port"]):
        ports = str(rule["from_port"])
    else:
        ports = f"{rule['from_port']}-{rule['to_port']}"
    cidr = rule.get("cidr") or "0.0.0.0/0"
    cidr = "*" if cidr in ("0.0.0.0/0", "::/0") else cidr
    remote, local = ("sourceAddressPrefix", "destinationAddressPrefix") \
        if direction == "Inbound" else ("destinationAddressPrefix", "sourceAddressPrefix")
    return {"protocol": protocol, "sourcePortRange": "*", "destinationPortRange": ports,
            remote: cidr, local: "*", "access": "Allow", "priority": priority,
            "direction": direction}


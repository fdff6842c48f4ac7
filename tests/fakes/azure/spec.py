"""What Azure Resource Manager accepts, one table row per operation, transcribed from the
OpenAPI descriptions in Azure/azure-rest-api-specs at the api-versions the installed SDKs
send (azure-mgmt-compute 39, azure-mgmt-network 33.1, azure-mgmt-resource 26):

- specification/compute/resource-manager/Microsoft.Compute/Compute/stable/2026-04-01/
  ComputeRP.json (virtualMachines, sshPublicKeys, locations/vmSizes,
  locations/publishers/... virtual machine images);
- specification/compute/resource-manager/Microsoft.Compute/DiskRP/stable/2026-03-02/
  DiskRP.json (disks: Delete);
- specification/network/resource-manager/Microsoft.Network/Network/stable/2026-03-01/
  networkInterface.json, publicIpAddress.json, virtualNetwork.json,
  networkSecurityGroup.json;
- specification/resources/resource-manager/Microsoft.Resources/resources/stable/
  2025-04-01/resources.json (resourceGroups).

Each row names the operationId, method, path template, api-version, the query parameters
the description declares (with their allowed values where it lists them), the body fields
it marks ``required`` and enums it declares, and the constraints it states only in words
(``RULES``: e.g. VirtualMachines_List's "'instanceView' ... can only be specified if a
valid $filter option is specified"). ``check`` returns the ARM error a request outside the
description gets (status, code, message, target), or None.

The long-running operation URLs (``.../locations/{l}/operations/{id}``,
``operationResults``) are not operations of the descriptions: ARM issues them in the
``Azure-AsyncOperation`` and ``Location`` headers; they are checked for api-version only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

COMPUTE, DISKS, NETWORK, RESOURCES = "2026-04-01", "2026-03-02", "2026-03-01", "2025-04-01"

_SUB = "/subscriptions/{subscriptionId}"
_RG = _SUB + "/resourceGroups/{resourceGroupName}"
_VM = _RG + "/providers/Microsoft.Compute/virtualMachines"
_NET = _RG + "/providers/Microsoft.Network"
_IMG = _SUB + "/providers/Microsoft.Compute/locations/{location}/publishers"
#: the paging token ARM writes into its own nextLink (x-ms-pageable operations)
PAGE_TOKEN = {"$skiptoken": None}
BOOL = ("true", "false")


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str
    path: str
    api_version: str
    #: query parameter -> allowed values (None: any string)
    query: dict[str, tuple[str, ...] | None] = field(default_factory=dict)
    #: body fields the description marks required (dotted paths; ``[]`` for each item)
    required: tuple[str, ...] = ()
    #: body field (dotted) -> allowed values (its enum)
    enums: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: constraints the description states in words: (name, check(query, body) -> message)
    rules: tuple[str, ...] = ()

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if method != self.method:
            return None
        pattern = "^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.path)) + "$"
        found = re.match(pattern, path, re.IGNORECASE)
        return found.groupdict() if found else None


_RULE_TEXT = {
    "expand-needs-filter": "'instanceView' enables fetching run time status of all Virtual "
                           "Machines, this can only be specified if a valid $filter option "
                           "is specified",
    "filter-is-scale-set": "Allowed value is 'virtualMachineScaleSet/id' eq /subscriptions/"
                           "{subId}/resourceGroups/{resourceGroupName}/providers/Microsoft."
                           "Compute/virtualMachineScaleSets/{vmssName}'",
    "rule-priority": "The value can be between 100 and 4096. The priority number must be "
                     "unique for each rule in the collection.",
    "top-is-integer": "$top is an integer",
}


def _rule(name: str, query: dict[str, str], body: Any) -> tuple[str, str] | None:
    """(parameter, message) when the request breaks the constraint ``name``."""
    if name == "expand-needs-filter":
        if query.get("$expand") and not query.get("$filter"):
            return "$expand", ("The value of parameter $expand is invalid: "
                               + _RULE_TEXT[name] + ".")
    elif name == "filter-is-scale-set":
        value = query.get("$filter")
        if value and not re.fullmatch(r"'?virtualMachineScaleSet/id'? eq '?/subscriptions/"
                                      r"[^/]+/resourceGroups/[^/]+/providers/Microsoft\."
                                      r"Compute/virtualMachineScaleSets/[^/']+'?",
                                      value.strip(), re.IGNORECASE):
            return "$filter", (f"The value '{value}' of parameter $filter is invalid. "
                               + _RULE_TEXT[name] + ".")
    elif name == "rule-priority":
        rules = ((body or {}).get("properties") or {}).get("securityRules") or []
        seen: set[tuple[str, int]] = set()
        for rule in rules:
            props = rule.get("properties") or {}
            priority, direction = props.get("priority"), props.get("direction")
            if not isinstance(priority, int) or not 100 <= priority <= 4096 \
                    or (direction, priority) in seen:
                return "priority", (f"Security rule {rule.get('name')} has invalid priority "
                                    f"{priority}. " + _RULE_TEXT[name])
            seen.add((direction, priority))
    elif name == "top-is-integer":
        if "$top" in query and not query["$top"].lstrip("-").isdigit():
            return "$top", f"The value '{query['$top']}' of parameter $top is invalid."
    return None


_SEC_RULE = ("properties.securityRules[].properties.protocol",
             "properties.securityRules[].properties.access",
             "properties.securityRules[].properties.direction")
_SEC_ENUMS = {"properties.securityRules[].properties.protocol":
              ("Tcp", "Udp", "Icmp", "Esp", "*", "Ah"),
              "properties.securityRules[].properties.access": ("Allow", "Deny"),
              "properties.securityRules[].properties.direction": ("Inbound", "Outbound")}
_VM_ENUMS = {
    "properties.storageProfile.osDisk.createOption":
        ("FromImage", "Empty", "Attach", "Copy", "Restore"),
    "properties.storageProfile.osDisk.deleteOption": ("Delete", "Detach"),
    "properties.storageProfile.osDisk.managedDisk.storageAccountType":
        ("Standard_LRS", "Premium_LRS", "StandardSSD_LRS", "UltraSSD_LRS", "Premium_ZRS",
         "StandardSSD_ZRS", "PremiumV2_LRS"),
    "properties.networkProfile.networkInterfaces[].properties.deleteOption": ("Delete", "Detach"),
}
_IP_ENUMS = {"sku.name": ("Basic", "Standard", "StandardV2"),
             "sku.tier": ("Regional", "Global"),
             "properties.publicIPAllocationMethod": ("Static", "Dynamic"),
             "properties.publicIPAddressVersion": ("IPv4", "IPv6")}
_NIC_ENUMS = {"properties.ipConfigurations[].properties.privateIPAllocationMethod":
              ("Static", "Dynamic")}

OPERATIONS: tuple[Operation, ...] = (
    # ---- ComputeRP.json 2026-04-01: virtualMachines
    Operation("VirtualMachines_List", "GET", _VM, COMPUTE,
              {"$filter": None, "$expand": ("instanceView",), **PAGE_TOKEN},
              rules=("expand-needs-filter", "filter-is-scale-set")),
    Operation("VirtualMachines_ListAll", "GET",
              _SUB + "/providers/Microsoft.Compute/virtualMachines", COMPUTE,
              {"statusOnly": None, "$filter": None, "$expand": ("instanceView",), **PAGE_TOKEN},
              rules=("expand-needs-filter", "filter-is-scale-set")),
    Operation("VirtualMachines_Get", "GET", _VM + "/{vmName}", COMPUTE,
              {"$expand": ("instanceView", "userData", "resiliencyView")}),
    Operation("VirtualMachines_InstanceView", "GET", _VM + "/{vmName}/instanceView", COMPUTE),
    Operation("VirtualMachines_CreateOrUpdate", "PUT", _VM + "/{vmName}", COMPUTE,
              required=("location",), enums=_VM_ENUMS),
    Operation("VirtualMachines_Update", "PATCH", _VM + "/{vmName}", COMPUTE),
    Operation("VirtualMachines_Delete", "DELETE", _VM + "/{vmName}", COMPUTE,
              {"forceDeletion": BOOL}),
    Operation("VirtualMachines_Start", "POST", _VM + "/{vmName}/start", COMPUTE),
    Operation("VirtualMachines_PowerOff", "POST", _VM + "/{vmName}/powerOff", COMPUTE,
              {"skipShutdown": BOOL}),
    Operation("VirtualMachines_Deallocate", "POST", _VM + "/{vmName}/deallocate", COMPUTE,
              {"hibernate": BOOL}),
    Operation("VirtualMachines_Restart", "POST", _VM + "/{vmName}/restart", COMPUTE),
    Operation("VirtualMachineSizes_List", "GET",
              _SUB + "/providers/Microsoft.Compute/locations/{location}/vmSizes", COMPUTE),
    # ---- ComputeRP.json 2026-04-01: virtual machine images
    Operation("VirtualMachineImages_ListPublishers", "GET", _IMG, COMPUTE),
    Operation("VirtualMachineImages_ListOffers", "GET",
              _IMG + "/{publisherName}/artifacttypes/vmimage/offers", COMPUTE),
    Operation("VirtualMachineImages_ListSkus", "GET",
              _IMG + "/{publisherName}/artifacttypes/vmimage/offers/{offer}/skus", COMPUTE),
    Operation("VirtualMachineImages_List", "GET",
              _IMG + "/{publisherName}/artifacttypes/vmimage/offers/{offer}/skus/{skus}"
              "/versions", COMPUTE, {"$expand": ("properties",), "$top": None, "$orderby": None},
              rules=("top-is-integer",)),
    Operation("VirtualMachineImages_Get", "GET",
              _IMG + "/{publisherName}/artifacttypes/vmimage/offers/{offer}/skus/{skus}"
              "/versions/{version}", COMPUTE),
    # ---- ComputeRP.json 2026-04-01: sshPublicKeys
    Operation("SshPublicKeys_ListByResourceGroup", "GET",
              _RG + "/providers/Microsoft.Compute/sshPublicKeys", COMPUTE, dict(PAGE_TOKEN)),
    Operation("SshPublicKeys_Get", "GET",
              _RG + "/providers/Microsoft.Compute/sshPublicKeys/{sshPublicKeyName}", COMPUTE),
    Operation("SshPublicKeys_Create", "PUT",
              _RG + "/providers/Microsoft.Compute/sshPublicKeys/{sshPublicKeyName}", COMPUTE,
              required=("location",)),
    Operation("SshPublicKeys_Delete", "DELETE",
              _RG + "/providers/Microsoft.Compute/sshPublicKeys/{sshPublicKeyName}", COMPUTE),
    # ---- DiskRP.json 2026-03-02
    Operation("Disks_Delete", "DELETE",
              _RG + "/providers/Microsoft.Compute/disks/{diskName}", DISKS),
    Operation("Disks_Get", "GET", _RG + "/providers/Microsoft.Compute/disks/{diskName}", DISKS),
    # ---- Network 2026-03-01
    Operation("NetworkInterfaces_List", "GET", _NET + "/networkInterfaces", NETWORK,
              dict(PAGE_TOKEN)),
    Operation("NetworkInterfaces_Get", "GET", _NET + "/networkInterfaces/{networkInterfaceName}",
              NETWORK, {"$expand": None}),
    Operation("NetworkInterfaces_CreateOrUpdate", "PUT",
              _NET + "/networkInterfaces/{networkInterfaceName}", NETWORK, enums=_NIC_ENUMS),
    Operation("NetworkInterfaces_Delete", "DELETE",
              _NET + "/networkInterfaces/{networkInterfaceName}", NETWORK),
    Operation("PublicIPAddresses_List", "GET", _NET + "/publicIPAddresses", NETWORK,
              dict(PAGE_TOKEN)),
    Operation("PublicIPAddresses_Get", "GET", _NET + "/publicIPAddresses/{publicIpAddressName}",
              NETWORK, {"$expand": None}),
    Operation("PublicIPAddresses_CreateOrUpdate", "PUT",
              _NET + "/publicIPAddresses/{publicIpAddressName}", NETWORK, enums=_IP_ENUMS),
    Operation("PublicIPAddresses_Delete", "DELETE",
              _NET + "/publicIPAddresses/{publicIpAddressName}", NETWORK),
    Operation("VirtualNetworks_List", "GET", _NET + "/virtualNetworks", NETWORK,
              dict(PAGE_TOKEN)),
    Operation("VirtualNetworks_Get", "GET", _NET + "/virtualNetworks/{virtualNetworkName}",
              NETWORK, {"$expand": None}),
    Operation("VirtualNetworks_CreateOrUpdate", "PUT",
              _NET + "/virtualNetworks/{virtualNetworkName}", NETWORK),
    Operation("VirtualNetworks_Delete", "DELETE",
              _NET + "/virtualNetworks/{virtualNetworkName}", NETWORK),
    Operation("Subnets_List", "GET", _NET + "/virtualNetworks/{virtualNetworkName}/subnets",
              NETWORK, dict(PAGE_TOKEN)),
    Operation("Subnets_Get", "GET",
              _NET + "/virtualNetworks/{virtualNetworkName}/subnets/{subnetName}", NETWORK,
              {"$expand": None}),
    Operation("NetworkSecurityGroups_List", "GET", _NET + "/networkSecurityGroups", NETWORK,
              dict(PAGE_TOKEN)),
    Operation("NetworkSecurityGroups_Get", "GET",
              _NET + "/networkSecurityGroups/{networkSecurityGroupName}", NETWORK,
              {"$expand": None}),
    Operation("NetworkSecurityGroups_CreateOrUpdate", "PUT",
              _NET + "/networkSecurityGroups/{networkSecurityGroupName}", NETWORK,
              required=_SEC_RULE, enums=_SEC_ENUMS, rules=("rule-priority",)),
    Operation("NetworkSecurityGroups_Delete", "DELETE",
              _NET + "/networkSecurityGroups/{networkSecurityGroupName}", NETWORK),
    # ---- resources.json 2025-04-01
    Operation("ResourceGroups_CheckExistence", "HEAD", _RG, RESOURCES),
    Operation("ResourceGroups_List", "GET", _SUB + "/resourcegroups", RESOURCES,
              {"$filter": None, "$top": None, **PAGE_TOKEN}, rules=("top-is-integer",)),
    Operation("ResourceGroups_Get", "GET", _RG, RESOURCES),
    Operation("ResourceGroups_CreateOrUpdate", "PUT", _RG, RESOURCES, required=("location",)),
)

#: ARM's polling URLs (issued in response headers, not operations of the descriptions)
POLL_PATHS = (re.compile(r"^/subscriptions/[^/]+/providers/Microsoft\.(Compute|Network)/"
                         r"locations/[^/]+/(operations|operationResults)/[^/]+$", re.I),)


@dataclass
class Refusal:
    """A request outside the description, and ARM's answer to it."""
    status: int
    code: str
    message: str
    target: str | None = None
    operation: str | None = None


def find_operation(method: str, path: str) -> Operation | None:
    for operation in OPERATIONS:
        if operation.match(method, path) is not None:
            return operation
    return None


def _values(body: Any, dotted: str) -> list[tuple[bool, Any]]:
    """(present, value) for each place ``dotted`` names in ``body`` (``[]``: each item)."""
    found: list[tuple[bool, Any]] = [(True, body)]
    for part in dotted.split("."):
        many = part.endswith("[]")
        key = part[:-2] if many else part
        step: list[tuple[bool, Any]] = []
        for present, value in found:
            if not present:
                continue
            if not isinstance(value, dict) or key not in value or value[key] is None:
                step.append((False, None))
                continue
            if many:
                step += [(True, item) for item in value[key] or ()]
            else:
                step.append((True, value[key]))
        found = step
    return found


def _parent_present(body: Any, dotted: str) -> bool:
    """Whether the object holding ``dotted``'s last field is there (a required field of an
    optional object is required only when that object is sent)."""
    parent = dotted.rsplit(".", 1)[0] if "." in dotted else ""
    if not parent:
        return True
    return any(present for present, _ in _values(body, parent.removesuffix("[]")))


def check(method: str, path: str, query: dict[str, str], body: Any,
          namespace_code: str = "InvalidParameter") -> Refusal | None:
    """The refusal ARM answers a request outside the description with, or None."""
    if any(p.match(path) for p in POLL_PATHS):
        return None
    operation = find_operation(method, path)
    if operation is None:
        return Refusal(400, "InvalidResourceType" if method == "GET" else "MethodNotAllowed",
                       f"No operation of the API description answers {method} {path}.")
    if query.get("api-version") != operation.api_version:
        return Refusal(400, "InvalidApiVersionParameter",
                       f"The api-version '{query.get('api-version')}' is invalid. The "
                       f"supported versions are '{operation.api_version}'.",
                       "api-version", operation.operation_id)
    code = "InvalidParameter" if "Microsoft.Compute" in operation.path or \
        operation.api_version == RESOURCES else "InvalidRequestFormat"
    for name, value in query.items():
        if name == "api-version":
            continue
        if name not in operation.query:
            return Refusal(400, code, f"The query parameter '{name}' is not a parameter of "
                           f"{operation.operation_id}.", name, operation.operation_id)
        allowed = operation.query[name]
        if allowed is not None and value.lower() not in {a.lower() for a in allowed}:
            return Refusal(400, code, f"The value '{value}' of parameter '{name}' is not "
                           f"allowed. Allowed values are: {', '.join(allowed)}.", name,
                           operation.operation_id)
    for dotted in operation.required:
        if not _parent_present(body, dotted):
            continue
        for present, _ in _values(body, dotted):
            if not present:
                return Refusal(400, code, f"Required parameter '{dotted.replace('[]', '')}' "
                               "is missing (null).", dotted, operation.operation_id)
    for dotted, allowed in operation.enums.items():
        for present, value in _values(body, dotted):
            if present and str(value).lower() not in {a.lower() for a in allowed}:
                return Refusal(400, code, f"The value '{value}' of parameter "
                               f"'{dotted.replace('[]', '')}' is not allowed. Allowed values "
                               f"are: {', '.join(allowed)}.", dotted, operation.operation_id)
    for rule in operation.rules:
        broken = _rule(rule, query, body)
        if broken:
            return Refusal(400, code, broken[1], broken[0], operation.operation_id)
    return None

"""Microsoft Azure provider (kind ``azure``), over azure-mgmt-compute, azure-mgmt-network
and azure-mgmt-resource, with azure-identity for credentials.

It maps Azure Resource Manager objects to cms records and does nothing else. Everything
lives in one resource group (``credentials.resource_group``, created on first boot when
missing). A boot makes what a VM needs: a virtual network and subnet when the group has
none, a Standard static public IP, a NIC (with the cloud's network security group) and
the Linux VM; it tags what it made with ``cms-vm: NAME`` so that ``destroy`` removes that
and nothing that belongs to another VM.

Credentials: subscription_id, resource_group, location; then access_token (a token from
``az account get-access-token``), or tenant_id + client_id + client_secret (a service
principal), or nothing more (the Azure CLI's login); base_url for sovereign clouds and
local endpoints. The cloud's ``default:`` block also takes:

- ``image_aliases``: NAME=publisher:offer:sku:version entries beside the built-in aliases
- ``image_offers`` (publisher:offer) or ``image_publishers``: what ``images()`` lists
- ``stop_mode``: ``deallocate`` (default) or ``poweroff``
- ``poll_interval``: seconds between polls when Azure sends no Retry-After (default 2)
"""

from __future__ import annotations

import base64
import re
import sys
import threading
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from cloudmesh.compute.abc import ComputeNodeABC, record_mapper
from cloudmesh.compute.errors import (CloudError, CmsError, ConfigError, CredentialError,
                                      NotFound, UsageError)
from cloudmesh.compute.endpoints import is_loopback_host
from cloudmesh.compute.kit.clients import client_on_first_use
from cloudmesh.compute.kit.finding import find_one
from cloudmesh.compute.kit.http import classify_http
from cloudmesh.compute.kit.origins import retry_after_seconds
from cloudmesh.compute.kit.paging import MAX_PAGES, pages
from cloudmesh.compute.lazy import require

if TYPE_CHECKING:  # the facade builds it; we only read it
    from cloudmesh.compute.boot import BootSpec

DIST = "cloudmesh-azure"

#: the instance view's PowerState/... -> cms status
NODE_STATE_MAP = {
    "starting": "booting",
    "running": "running",
    "stopping": "stopping",
    "stopped": "stopped",
    "deallocating": "stopping",
    "deallocated": "stopped",
}
#: VirtualMachineImage properties.architecture -> cms arch
ARCHITECTURES = {"x64": "x86_64", "arm64": "arm64"}
#: provisioning states that say more than the power state
PROVISIONING_MAP = {"creating": "booting", "deleting": "deleting", "failed": "error"}

#: friendly names -> marketplace URNs (publisher:offer:sku:version), as `az vm create`
#: knows them; a cloud adds its own under default.image_aliases
IMAGE_ALIASES = {
    "ubuntu-24.04": "Canonical:ubuntu-24_04-lts:server:latest",
    "ubuntu2404": "Canonical:ubuntu-24_04-lts:server:latest",
    "ubuntu-22.04": "Canonical:0001-com-ubuntu-server-jammy:22_04-lts-gen2:latest",
    "ubuntu2204": "Canonical:0001-com-ubuntu-server-jammy:22_04-lts-gen2:latest",
    "debian-12": "Debian:debian-12:12-gen2:latest",
    "debian12": "Debian:debian-12:12-gen2:latest",
}
#: the tags cms puts on what it creates
TAG_VM = "cms-vm"          # on the VM, its NIC and public IP: the VM's name
TAG_KEY = "cms-key"        # on the VM: the key's name in the local registry
TAG_CREATED = "cms-created"  # on network security groups cms made
_INTERNAL_TAGS = (TAG_VM, TAG_KEY)
_VM_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]{0,63}")
_ARM = "https://management.azure.com"
# sovereign clouds: ARM endpoint host -> login authority
_AUTHORITIES = {
    "management.chinacloudapi.cn": "login.chinacloudapi.cn",
    "management.usgovcloudapi.net": "login.microsoftonline.us",
}
_PROTOCOLS = {"tcp": "Tcp", "udp": "Udp", "icmp": "Icmp", "all": "*"}


def _is_loopback_http(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme.lower() == "http" and is_loopback_host(parts.hostname or "")


class _StaticToken:
    """A TokenCredential for ``credentials.access_token`` (a token the user already has,
    e.g. from ``az account get-access-token``)."""

    def __init__(self, token: str) -> None:
        self._token = token

    def get_token(self, *scopes: str, **kwargs: Any):
        from azure.core.credentials import AccessToken

        # ARM tokens live about an hour; the real expiry is inside the JWT, which we do
        # not parse: an expired one is answered 401 ExpiredAuthenticationToken
        return AccessToken(self._token, int(time.time()) + 3000)


class Provider(ComputeNodeABC):
    kind = "azure"
    credential_keys = ("subscription_id", "resource_group", "location", "tenant_id",
                       "client_id", "client_secret", "access_token", "base_url")
    unsupported = {
        "suspend": "Azure hibernates only VMs created with hibernation enabled; "
                   "use 'cms vm stop' (deallocate)",
        "resume": "Azure hibernates only VMs created with hibernation enabled; "
                  "use 'cms vm start'",
    }
    key_delivery = "inject"
    default_username = "azureuser"
    zero_config = False

    #: the most pages one list follows (kit.paging)
    max_pages = MAX_PAGES

    def __init__(self, cloud: str, spec: dict[str, Any]) -> None:
        super().__init__(cloud, spec)
        self._credential = None
        self._credential_lock = threading.Lock()
        # the bearer token goes only to the ARM endpoint (issue 21); a nextLink or an
        # operation URL elsewhere is refused by _guard_policy before a byte is sent
        self.guard.allow(self.base_url)
        #: bound of one long-running operation (a VM create takes minutes on Azure)
        self.operation_timeout = float(self.defaults.get("operation_timeout", 900))
        #: set when a boot had to create the resource group (reported in native)
        self.group_created = False
        # boots run in threads: one of them makes the group and network, the others wait
        self._setup_lock = threading.Lock()

    # ---- configuration and clients ---------------------------------------------------
    def _need(self, key: str) -> str:
        value = self.credentials.get(key)
        if not value:
            raise ConfigError(f"cloud '{self.cloud}': credentials.{key} is not set",
                              f"add {key} under compute.{self.cloud}.credentials")
        return str(value)

    @property
    def subscription(self) -> str:
        return self._need("subscription_id")

    @property
    def group(self) -> str:
        return self._need("resource_group")

    @property
    def location(self) -> str:
        return self._need("location")

    @property
    def base_url(self) -> str:
        return str(self.credentials.get("base_url") or _ARM).rstrip("/")

    def _get_credential(self):
        with self._credential_lock:
            if self._credential is None:
                self._credential = self._make_credential()
            return self._credential

    def _make_credential(self):
        creds = self.credentials
        if creds.get("access_token"):
            return _StaticToken(str(creds["access_token"]))
        identity = require("azure.identity", DIST, "azure-identity")
        if creds.get("client_secret") or creds.get("client_id"):
            missing = [k for k in ("tenant_id", "client_id", "client_secret") if not creds.get(k)]
            if missing:
                raise ConfigError(f"cloud '{self.cloud}': a service principal needs "
                                  f"credentials.{missing[0]}",
                                  "set tenant_id, client_id and client_secret, or use "
                                  "access_token, or omit them all to use 'az login'")
            if _is_loopback_http(self.base_url):
                # Microsoft's login endpoints are https only; a loopback ARM endpoint is a
                # test or an emulator, which takes a token directly
                raise ConfigError(f"cloud '{self.cloud}': a client secret cannot be used "
                                  "with a plain-http base_url",
                                  "use credentials.access_token for a local endpoint")
            host = urlsplit(self.base_url).hostname or ""
            authority = _AUTHORITIES.get(host, "login.microsoftonline.com")
            return identity.ClientSecretCredential(
                str(creds["tenant_id"]), str(creds["client_id"]), str(creds["client_secret"]),
                authority=authority)
        # no secret in the config: the Azure CLI's login, as 'az' itself uses it
        return identity.AzureCliCredential(
            tenant_id=str(creds["tenant_id"]) if creds.get("tenant_id") else "",
            process_timeout=int(max(10, self.timeout)))

    def _client_options(self, retries: int) -> dict[str, Any]:
        credential = self._get_credential()
        scope = f"{self.base_url}/.default" if self.credentials.get("base_url") \
            and not _is_loopback_http(self.base_url) else f"{_ARM}/.default"
        options: dict[str, Any] = dict(
            base_url=self.base_url, credential_scopes=[scope],
            # ARM answers with Retry-After (10 s and more); this is only the fallback
            polling_interval=float(self.defaults.get("poll_interval", 2)),
            retry_total=retries, retry_backoff_factor=0.5, retry_backoff_max=8,
            connection_timeout=min(10.0, self.timeout), read_timeout=self.timeout,
            per_retry_policies=[_guard_policy(self.guard)])
        if _is_loopback_http(self.base_url):
            options["authentication_policy"] = _loopback_policy(credential, scope)
        return options

    def _make(self, module: str, cls: str, package: str, retries: int):
        sdk = require(module, DIST, package)
        return self.translated(lambda: getattr(sdk, cls)(
            self._get_credential(), self.subscription, **self._client_options(retries)))

    @client_on_first_use
    def compute(self):
        return self._make("azure.mgmt.compute", "ComputeManagementClient",
                          "azure-mgmt-compute", self.retries)

    @client_on_first_use
    def create_compute(self):
        """A compute client that never retries, for the VM's PUT: a lost answer is
        followed by the facade's look-before-retry, not by a blind second request."""
        return self._make("azure.mgmt.compute", "ComputeManagementClient",
                          "azure-mgmt-compute", 0)

    @client_on_first_use
    def network(self):
        return self._make("azure.mgmt.network", "NetworkManagementClient",
                          "azure-mgmt-network", self.retries)

    @client_on_first_use
    def resources(self):
        return self._make("azure.mgmt.resource.resources", "ResourceManagementClient",
                          "azure-mgmt-resource", self.retries)

    # ---- errors ----------------------------------------------------------------------
    def translate_error(self, error: Exception) -> CmsError | None:
        if isinstance(error, CmsError):
            return error
        where = f"cloud '{self.cloud}'"
        try:
            exc = require("azure.core.exceptions", DIST, "azure-core")
        except ConfigError:
            return None
        # azure.identity is imported only when the config has no access_token
        identity = sys.modules.get("azure.identity")
        if identity is not None and isinstance(error, identity.CredentialUnavailableError):
            return CredentialError(f"{where}: no Azure credentials: {_first_line(error)}",
                                   "run 'az login', or set credentials.access_token or "
                                   "tenant_id, client_id and client_secret")
        if isinstance(error, exc.ClientAuthenticationError) and error.status_code is None:
            return CredentialError(f"{where}: Azure login failed: {_first_line(error)}",
                                   "check tenant_id, client_id and client_secret")
        if isinstance(error, exc.HttpResponseError):
            status = error.status_code or 0
            code, message = _arm_error(error)
            hint = None
            if status == 403 and code == "AuthorizationFailed":
                hint = ("give the identity a role (e.g. Contributor) on resource group "
                        f"{self.credentials.get('resource_group')}")
            translated = classify_http(status, code, f"Azure {code}: {message}".rstrip(": "),
                                       cloud=self.cloud, hint=hint)
            # 409 is a conflict of any kind (a VM in the wrong state, too), never
            # "already exists" by itself; these codes are ARM's transient ones
            if code in ("RetryableError", "TooManyRequests", "OperationPreempted"):
                translated.retryable = True
            return translated
        if isinstance(error, (exc.ServiceRequestError, exc.ServiceResponseError)):
            return CloudError(f"{where}: cannot reach Azure at {self.base_url}: "
                              f"{_first_line(error)}", retryable=True)
        if isinstance(error, exc.AzureError):
            return CloudError(f"{where}: {_first_line(error)}")
        return None

    def _call(self, function, *args: Any, **kwargs: Any):
        """Call the SDK, with its errors as CmsErrors."""
        return self.translated(function, *args, **kwargs)

    def _lro(self, begin, *args: Any, **kwargs: Any) -> Any:
        """Start a long-running operation and return its result once it is done (the
        poller sleeps what Azure's Retry-After says, capped at 60 s by _guard_policy);
        a refused start or a failed operation is a CmsError carrying Azure's code and
        message; an operation still running after ``operation_timeout`` a CloudError."""
        return self._finish(self._call(begin, *args, **kwargs), getattr(begin, "__name__", ""))

    def _finish(self, poller: Any, what: str) -> Any:
        self._call(poller.wait, self.operation_timeout)
        if not poller.done():
            raise CloudError(f"cloud '{self.cloud}': Azure operation {what.removeprefix('begin_')}"
                             f" did not finish within {self.operation_timeout:g} s",
                             "see the resource group's activity log in the Azure portal")
        return self._call(poller.result)

    def _all(self, list_call, what: str) -> list[Any]:
        """Every item of an ARM list, page by page through kit.paging: a nextLink that
        repeats, or more than ``max_pages`` pages, ends the list with a CloudError; a
        nextLink off the ARM endpoint is refused (also by _guard_policy)."""
        def fetch(link: str | None):
            pager = list_call().by_page(continuation_token=link)
            page = list(next(pager, []))
            return page, pager.continuation_token
        return self._call(lambda: list(pages(fetch, what=f"cloud '{self.cloud}': {what}",
                                             max_pages=self.max_pages, guard=self.guard)))

    # ---- mappers ---------------------------------------------------------------------
    @record_mapper("virtual machine")
    def _to_vm(self, vm: Any, nics: dict[str, Any], ips: dict[str, Any],
               view: Any = None) -> dict[str, Any]:
        props = vm.get("properties") or {}
        tags = dict(vm.get("tags") or {})
        view = view or props.get("instanceView") or {}
        power, provisioning = None, str(props.get("provisioningState") or "").lower()
        for status in view.get("statuses") or ():
            code = str(status.get("code") or "")
            if code.startswith("PowerState/"):
                power = code.split("/", 1)[1]
            elif code.startswith("ProvisioningState/"):
                provisioning = code.split("/")[1].lower() or provisioning
        state = power or provisioning or "unknown"
        status = PROVISIONING_MAP.get(provisioning) or NODE_STATE_MAP.get(power or "", "unknown")
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
                ip = ips.get(str(ip_id).lower()) if ip_id else None
                address = ((ip or {}).get("properties") or {}).get("ipAddress")
                if address:
                    public.append(address)
        storage = props.get("storageProfile") or {}
        image = storage.get("imageReference") or {}
        os_profile = props.get("osProfile") or {}
        metadata = {k: v for k, v in tags.items() if k not in _INTERNAL_TAGS}
        image_name = _urn(image) if image.get("publisher") else image.get("id")
        username = os_profile.get("adminUsername") or self.default_username_for(
            str(image_name or ""))
        metadata["username"] = username
        native: dict[str, Any] = {"provisioning_state": props.get("provisioningState"),
                                  "vm_id": props.get("vmId"), "resource_group": self.group,
                                  "os_disk": ((storage.get("osDisk") or {}).get("managedDisk")
                                              or {}).get("id"),
                                  "cms_created": tags.get(TAG_VM) == vm.get("name")}
        if image.get("exactVersion"):
            native["image_version"] = image["exactVersion"]
        for status_ in view.get("statuses") or ():
            if str(status_.get("code", "")).startswith("ProvisioningState/failed"):
                native["error"] = status_.get("message") or status_.get("displayStatus")
        zones = vm.get("zones") or []
        return self.vm_record(
            name=vm["name"], id=vm.get("id"), status=status, state=state,
            image=image_name, username=username,
            flavor=(props.get("hardwareProfile") or {}).get("vmSize"),
            public_ips=public, private_ips=private, key=tags.get(TAG_KEY),
            secgroups=groups, region=vm.get("location"), zone=zones[0] if zones else None,
            created=props.get("timeCreated"), metadata=metadata, native=native)

    @record_mapper("image")
    def _to_image(self, publisher: str, offer: str, sku: str, version: str,
                  os: str | None = None, arch: str | None = None) -> dict[str, Any]:
        urn = f"{publisher}:{offer}:{sku}:{version}"
        return self.image_record(name=urn, id=urn, os=os or "Linux", version=version,
                                 arch=ARCHITECTURES.get(str(arch or "x64").lower(), arch),
                                 status="available",
                                 native={"publisher": publisher, "offer": offer, "sku": sku})

    @record_mapper("VM size")
    def _to_flavor(self, size: Any) -> dict[str, Any]:
        return self.flavor_record(name=size["name"], id=size["name"],
                                  vcpus=size.get("numberOfCores"), ram_mb=size.get("memoryInMB"),
                                  disk_gb=(size.get("resourceDiskSizeInMB") or 0) // 1024)

    # ---- VMs -------------------------------------------------------------------------
    def _addresses(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The group's NICs and public IPs by lower-case id: two lists per `vm list`,
        not calls per VM."""
        nics = {str(n["id"]).lower(): n for n in self._all(
            lambda: self.network.network_interfaces.list(self.group), "NIC list")}
        ips = {str(i["id"]).lower(): i for i in self._all(
            lambda: self.network.public_ip_addresses.list(self.group), "public IP list")}
        return nics, ips

    def list(self) -> list[dict[str, Any]]:
        # VirtualMachines_List gives the models; their power states come from one
        # VirtualMachines_ListAll?statusOnly=true narrowed to this group by id. List's
        # $expand=instanceView needs a scale-set $filter (ComputeRP.json), so a
        # group-wide expand is refused by Azure (azure-rest-api-specs#42411)
        try:
            vms = self._all(lambda: self.compute.virtual_machines.list(self.group), "VM list")
        except NotFound as missing:
            if missing.code == "ResourceGroupNotFound":
                return []  # nothing was ever booted here
            raise
        if not vms:
            return []
        views = self._instance_views()
        nics, ips = self._addresses()
        return [self._to_vm(vm, nics, ips, views.get(str(vm.get("id", "")).lower()))
                for vm in vms]

    def _instance_views(self) -> dict[str, Any]:
        """The instance views of this group's VMs by lower-case id, from one status-only
        list of the subscription's VMs (a few pages whatever the number of VMs)."""
        prefix = f"/subscriptions/{self.subscription}/resourcegroups/{self.group}/".lower()
        views = {}
        for vm in self._all(lambda: self.compute.virtual_machines.list_all(
                status_only="true"), "VM status list"):
            vm_id = str(vm.get("id", "")).lower()
            if vm_id.startswith(prefix):
                views[vm_id] = (vm.get("properties") or {}).get("instanceView")
        return views

    def _get_vm(self, ref: str):
        """The VM ``ref`` names: its ARM id, or its exact name (any characters Azure
        allowed, e.g. one made in the portal). A name is unique in a resource group, so
        one GET finds it; otherwise the kit's find_one over the list says what exists."""
        is_id = ref.lower().startswith("/subscriptions/")
        name = ref.rstrip("/").rsplit("/", 1)[-1] if is_id else ref
        try:
            vm = self._call(self.compute.virtual_machines.get, self.group, name,
                            expand="instanceView")
            if not is_id or str(vm.get("id", "")).lower() == ref.rstrip("/").lower():
                return vm
        except NotFound as missing:
            if missing.code not in ("ResourceNotFound", "ResourceGroupNotFound", "NotFound"):
                raise
        found = find_one(self.list(), ref, cloud=self.cloud)
        return self._call(self.compute.virtual_machines.get, self.group, found["name"],
                          expand="instanceView")

    def _vm_of(self, vm: Any) -> dict[str, Any]:
        """A VM's record, reading only its own NICs and public IPs."""
        nics: dict[str, Any] = {}
        ips: dict[str, Any] = {}
        for ref in ((vm.get("properties") or {}).get("networkProfile") or {}).get(
                "networkInterfaces") or ():
            try:
                nic = self._call(self._get_by_id, ref["id"], "network_interfaces")
            except NotFound:
                continue
            nics[str(nic["id"]).lower()] = nic
            for config in (nic.get("properties") or {}).get("ipConfigurations") or ():
                ip_id = ((config.get("properties") or {}).get("publicIPAddress") or {}).get("id")
                if ip_id:
                    try:
                        ip = self._call(self._get_by_id, ip_id, "public_ip_addresses")
                        ips[str(ip["id"]).lower()] = ip
                    except NotFound:
                        pass
        return self._to_vm(vm, nics, ips)

    def _get_by_id(self, resource_id: str, operations: str):
        parts = resource_id.split("/")
        return getattr(self.network, operations).get(parts[4], parts[-1])

    def info(self, name: str) -> dict[str, Any]:
        return self._vm_of(self._get_vm(name))

    def check_name(self, name: str) -> None:
        if not _VM_NAME.fullmatch(name) or name.endswith((".", "-")):
            raise UsageError(f"'{name}' is not a valid Azure VM name",
                             "use 1-64 letters, digits, '-' and '.', starting with a letter "
                             "or digit and not ending with '.' or '-' (no '_')")

    def _ensure_group(self) -> None:
        try:
            self._call(self.resources.resource_groups.get, self.group)
        except NotFound:
            self._call(self.resources.resource_groups.create_or_update, self.group,
                       {"location": self.location, "tags": {TAG_CREATED: "true"}})
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
            body = {"location": self.location, "tags": {TAG_CREATED: "true"},
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

    def create(self, spec: BootSpec) -> dict[str, Any]:
        if not spec.key:
            raise UsageError("an Azure Linux VM needs an SSH key (cms disables password "
                             "login)", "give --key or set default.key")
        image = self.resolve_image(spec.image)["native"]
        size = self.flavor(spec.flavor)["name"]
        with self._setup_lock:
            self._ensure_group()
            subnet_id = self._subnet_id(spec.network, spec.subnet)
        nsg_id = self._nsg_id(list(spec.secgroups or []))
        name, made = spec.name, []
        owned = {TAG_VM: name}
        try:
            config: dict[str, Any] = {"name": "ipconfig1", "properties": {
                "subnet": {"id": subnet_id}, "privateIPAllocationMethod": "Dynamic"}}
            if spec.public_ip:
                ip_body: dict[str, Any] = {
                    "location": self.location, "tags": owned,
                    # Basic, the API's default, has no quota any more
                    "sku": {"name": "Standard", "tier": "Regional"},
                    "properties": {"publicIPAllocationMethod": "Static",
                                   "publicIPAddressVersion": "IPv4"}}
                if spec.zone:
                    ip_body["zones"] = [spec.zone]
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
            body = self._vm_body(spec, image, size, nic["id"])
            poller = self._call(self.create_compute.virtual_machines.begin_create_or_update,
                                self.group, name, body)
        except CmsError as error:
            if not error.retryable:  # the VM does not exist: undo what was made for it
                self._undo(made)
            raise
        vm = self._finish(poller, "begin_create_or_update")
        record = self._vm_of(self._call(self.compute.virtual_machines.get, self.group,
                                         name, expand="instanceView") or vm)
        if self.group_created:
            record.setdefault("native", {})["resource_group_created"] = self.group
        return record

    def _vm_body(self, spec: BootSpec, image: dict, size: str, nic_id: str) -> dict[str, Any]:
        tags = {str(k): str(v) for k, v in (spec.metadata or {}).items()}
        tags.update({TAG_VM: spec.name, TAG_KEY: spec.key["name"]})
        os_disk: dict[str, Any] = {"name": f"{spec.name}-osdisk", "createOption": "FromImage",
                                   "deleteOption": "Delete",
                                   "managedDisk": {"storageAccountType": "StandardSSD_LRS"}}
        if spec.disk_gb:
            os_disk["diskSizeGB"] = int(spec.disk_gb)
        os_profile: dict[str, Any] = {
            # a Linux host name: at most 64 characters
            "computerName": spec.name[:64], "adminUsername": spec.username,
            "linuxConfiguration": {
                "disablePasswordAuthentication": True,
                "ssh": {"publicKeys": [{
                    # Azure accepts only this path for the key
                    "path": f"/home/{spec.username}/.ssh/authorized_keys",
                    "keyData": spec.key["public_key"].strip()}]}}}
        if spec.userdata:
            os_profile["customData"] = base64.b64encode(spec.userdata.encode()).decode()
        body: dict[str, Any] = {
            "location": self.location, "tags": tags,
            "properties": {
                "hardwareProfile": {"vmSize": size},
                "storageProfile": {"imageReference": {
                    "publisher": image["publisher"], "offer": image["offer"],
                    "sku": image["sku"], "version": image["version"]}, "osDisk": os_disk},
                "osProfile": os_profile,
                "networkProfile": {"networkInterfaces": [{
                    "id": nic_id, "properties": {"primary": True, "deleteOption": "Delete"}}]}}}
        if spec.zone:
            body["zones"] = [spec.zone]
        return body

    def _undo(self, made: list[tuple[str, str]]) -> list[str]:
        """Delete what a boot or a destroy made, newest first (a NIC before its IP, as
        Azure requires); the names it could not remove."""
        left = []
        for operations, resource_id in reversed(made):
            parts = resource_id.split("/")
            try:
                self._lro(getattr(self.network if operations != "disks" else self.compute,
                                  operations).begin_delete, parts[4], parts[-1])
            except NotFound:
                pass
            except CmsError as error:
                left.append(f"{parts[-1]} ({error.message})")
        return left

    def _action(self, name: str, begin: str, **kwargs: Any) -> dict[str, Any]:
        vm = self._get_vm(name)
        self._lro(getattr(self.compute.virtual_machines, begin), self.group, vm["name"],
                  **kwargs)
        return self.info(vm["name"])

    def start(self, name: str) -> dict[str, Any]:
        return self._action(name, "begin_start")

    def stop(self, name: str) -> dict[str, Any]:
        # deallocate: the VM stops costing compute; default.stop_mode: poweroff keeps
        # its host (and its billing)
        mode = str(self.defaults.get("stop_mode", "deallocate")).lower()
        if mode in ("poweroff", "power-off", "power_off"):
            return self._action(name, "begin_power_off")
        if mode != "deallocate":
            raise ConfigError(f"cloud '{self.cloud}': default.stop_mode is '{mode}'",
                              "use deallocate (the default) or poweroff")
        return self._action(name, "begin_deallocate")

    def reboot(self, name: str) -> dict[str, Any]:
        return self._action(name, "begin_restart")

    def destroy(self, name: str) -> dict[str, Any]:
        try:
            vm = self._get_vm(name)
        except NotFound:
            # an earlier destroy may have removed the VM but not all of its NIC and IP:
            # remove those leftovers (cms tagged them with the name), else say NotFound
            left = self._leftovers(name)
            if not left:
                raise
            failed = self._undo(left)
            if failed:
                raise CloudError(f"cloud '{self.cloud}': VM '{name}' is gone but these "
                                 f"resources it used are left: {'; '.join(failed)}",
                                 f"remove them in resource group '{self.group}'") from None
            return self.vm_record(name=name, status="terminated", state="deleted",
                                  native={"removed": [r.rsplit("/", 1)[-1] for _, r in left]})
        record = self._vm_of(vm)
        vm_name = vm["name"]
        props = vm.get("properties") or {}
        # what boot made for this VM: its NICs and their public IPs that carry our tag
        # with this VM's name, and its OS disk if cms created the VM
        made: list[tuple[str, str]] = []
        ours = (vm.get("tags") or {}).get(TAG_VM) == vm_name
        for ref in (props.get("networkProfile") or {}).get("networkInterfaces") or ():
            try:
                nic = self._call(self._get_by_id, ref["id"], "network_interfaces")
            except NotFound:
                continue
            if (nic.get("tags") or {}).get(TAG_VM) != vm_name:
                continue
            for config in (nic.get("properties") or {}).get("ipConfigurations") or ():
                ip_id = ((config.get("properties") or {}).get("publicIPAddress") or {}).get("id")
                if ip_id:
                    try:
                        ip = self._call(self._get_by_id, ip_id, "public_ip_addresses")
                    except NotFound:
                        continue
                    if (ip.get("tags") or {}).get(TAG_VM) == vm_name:
                        made.append(("public_ip_addresses", ip["id"]))
            made.append(("network_interfaces", nic["id"]))
        disk_id = ((props.get("storageProfile") or {}).get("osDisk", {}).get("managedDisk")
                   or {}).get("id")
        self._lro(self.compute.virtual_machines.begin_delete, self.group, vm_name)
        # the VM is gone: now its NIC may go, then the IP that was on the NIC
        left = self._undo(made)
        if ours and disk_id:
            left += self._undo([("disks", disk_id)])
        record.update(status="terminated", state="deleted")
        if left:
            raise CloudError(f"cloud '{self.cloud}': VM '{vm_name}' is deleted but these "
                             f"resources it used are left: {'; '.join(left)}",
                             f"remove them in resource group '{self.group}'")
        return record

    def _leftovers(self, name: str) -> list[tuple[str, str]]:
        """NICs and public IPs cms made for a VM of this name that no VM uses any more,
        in the order to delete them (IPs after the NICs that held them)."""
        try:
            nics, ips = self._addresses()
        except NotFound:
            return []
        free_nics = [n["id"] for n in nics.values()
                     if (n.get("tags") or {}).get(TAG_VM) == name
                     and not (n.get("properties") or {}).get("virtualMachine")]
        found = []
        for ip in ips.values():
            holder = ((ip.get("properties") or {}).get("ipConfiguration") or {}).get("id", "")
            # free, or on one of those NICs: never an IP someone attached elsewhere
            if (ip.get("tags") or {}).get(TAG_VM) == name and (
                    not holder or holder.lower().split("/ipconfigurations/")[0]
                    in {n.lower() for n in free_nics}):
                found.append(("public_ip_addresses", ip["id"]))
        return found + [("network_interfaces", n) for n in free_nics]  # NICs go first

    def metadata_set(self, name: str, metadata: dict[str, str]) -> dict[str, str]:
        vm = self._get_vm(name)
        bad = [k for k in metadata if k in _INTERNAL_TAGS or k == "username"]
        if bad:
            raise UsageError(f"the metadata key '{bad[0]}' is kept by cms; it cannot be set")
        tags = {**(vm.get("tags") or {}), **{str(k): str(v) for k, v in metadata.items()}}
        self._lro(self.compute.virtual_machines.begin_update, self.group, vm["name"],
                  {"tags": tags})
        return self.metadata_get(vm["name"])

    # ---- images and flavors ----------------------------------------------------------
    def _aliases(self) -> dict[str, str]:
        """Friendly image names: the built-in ones and default.image_aliases, a list of
        NAME=URN (e.g. ``jammy=Canonical:0001-com-ubuntu-server-jammy:22_04-lts-gen2:latest``)."""
        aliases = dict(IMAGE_ALIASES)
        extra = self.defaults.get("image_aliases") or []
        if isinstance(extra, dict):
            items = [f"{k}={v}" for k, v in extra.items()]
        else:
            items = [extra] if isinstance(extra, str) else list(extra)
        for item in items:
            for entry in str(item).split(","):
                name, sep, urn = entry.partition("=")
                if not sep or not name.strip() or urn.count(":") != 3:
                    raise ConfigError(f"cloud '{self.cloud}': default.image_aliases entry "
                                      f"'{entry.strip()}' is not NAME=publisher:offer:sku:version")
                aliases[name.strip().lower()] = urn.strip()
        return aliases

    def _versions(self, publisher: str, offer: str, sku: str, newest_only: bool) -> list:
        """The versions of one SKU with their properties (architecture), newest first."""
        options: dict[str, Any] = {"expand": "properties"}
        if newest_only:
            options.update(top=1, orderby="name desc")
        versions = self._call(self.compute.virtual_machine_images.list, self.location,
                              publisher, offer, sku, **options)
        return sorted(versions or (), key=lambda v: _version_key(v["name"]), reverse=True)

    def _latest(self, publisher: str, offer: str, sku: str) -> str:
        versions = self._versions(publisher, offer, sku, newest_only=True)
        if not versions:
            raise NotFound(f"image {publisher}:{offer}:{sku} has no versions in "
                           f"{self.location} on cloud '{self.cloud}'")
        return versions[0]["name"]

    def resolve_image(self, ref: str) -> dict[str, Any]:
        """A marketplace URN publisher:offer:sku:version (``latest`` resolved) or a
        friendly alias (ubuntu-24.04, Ubuntu2404, debian-12, default.image_aliases)."""
        urn = self._aliases().get(ref.lower(), ref)
        parts = urn.split(":")
        if len(parts) != 4 or not all(parts):
            raise NotFound(f"no image '{ref}' on cloud '{self.cloud}'",
                           "give a URN publisher:offer:sku:version or an alias: "
                           + ", ".join(sorted(self._aliases())))
        publisher, offer, sku, version = parts
        try:
            if version.lower() == "latest":
                version = self._latest(publisher, offer, sku)
            found = self._call(self.compute.virtual_machine_images.get, self.location,
                               publisher, offer, sku, version)
        except NotFound:
            raise NotFound(f"no image '{ref}' in {self.location} on cloud '{self.cloud}'",
                           f"see 'cms image list --cloud={self.cloud}'") from None
        props = found.get("properties") or {}
        os_name = (props.get("osDiskImage") or {}).get("operatingSystem")
        record = self._to_image(publisher, offer, sku, version, os_name,
                                props.get("architecture"))
        record["native"]["version"] = version
        return record

    def image(self, name: str) -> dict[str, Any]:
        return self.resolve_image(name)

    def images(self, all_builds: bool = False) -> list[dict[str, Any]]:
        """The newest version of every SKU of the configured offers (every version with
        ``all_builds``): default.image_offers (publisher:offer), else every offer of
        default.image_publishers, else the offers the aliases name. Never a crawl of the
        whole marketplace."""
        offers: list[tuple[str, str]] = []
        configured = self.defaults.get("image_offers")
        publishers = self.defaults.get("image_publishers")
        if configured:
            for item in [configured] if isinstance(configured, str) else configured:
                publisher, _, offer = str(item).partition(":")
                offers.append((publisher, offer))
        elif publishers:
            for publisher in [publishers] if isinstance(publishers, str) else publishers:
                offers += [(str(publisher), o["name"]) for o in self._call(
                    self.compute.virtual_machine_images.list_offers, self.location,
                    str(publisher))]
        else:
            offers = sorted({tuple(u.split(":")[:2]) for u in self._aliases().values()})
        records = []
        for publisher, offer in offers:
            for sku in self._call(self.compute.virtual_machine_images.list_skus,
                                  self.location, publisher, offer):
                for version in self._versions(publisher, offer, sku["name"],
                                              newest_only=not all_builds):
                    props = version.get("properties") or {}
                    records.append(self._to_image(
                        publisher, offer, sku["name"], version["name"],
                        (props.get("osDiskImage") or {}).get("operatingSystem"),
                        props.get("architecture")))
        return records

    def flavors(self) -> list[dict[str, Any]]:
        sizes = self._call(lambda: list(self.compute.virtual_machine_sizes.list(self.location)))
        return sorted((self._to_flavor(s) for s in sizes), key=lambda f: f["name"])

    def flavor(self, name: str) -> dict[str, Any]:
        for record in self.flavors():
            if record["name"].lower() == name.lower():
                return record
        raise NotFound(f"no VM size '{name}' in {self.location} on cloud '{self.cloud}'",
                       f"see 'cms flavor list --cloud={self.cloud}'")

    # ---- SSH public key resources ----------------------------------------------------
    @record_mapper("SSH public key")
    def _to_key(self, key: Any) -> dict[str, Any]:
        from cloudmesh.compute.keys import fingerprint

        public_key = (key.get("properties") or {}).get("publicKey")
        try:
            print_ = fingerprint(public_key) if public_key else None
        except CmsError:
            print_ = None  # a key type cms cannot parse
        return self.key_record(name=key["name"], fingerprint=print_,
                               native={"id": key.get("id")})

    def keys(self) -> list[dict[str, Any]]:
        try:
            found = self._all(lambda: self.compute.ssh_public_keys.list_by_resource_group(
                self.group), "key list")
        except NotFound:
            return []
        return sorted((self._to_key(k) for k in found), key=lambda k: k["name"])

    def key_upload(self, name: str, public_key: str) -> dict[str, Any]:
        self._ensure_group()
        key = self._call(self.compute.ssh_public_keys.create, self.group, name, {
            "location": self.location, "properties": {"publicKey": public_key.strip()}})
        return self._to_key(key)

    def key_delete(self, name: str) -> None:
        try:
            self._call(self.compute.ssh_public_keys.get, self.group, name)
        except NotFound:
            raise NotFound(f"no key '{name}' on cloud '{self.cloud}'") from None
        self._call(self.compute.ssh_public_keys.delete, self.group, name)

    # ---- network security groups -----------------------------------------------------
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
                                    native={"cms_created": tags.get(TAG_CREATED) == "true"})

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
        body = {"location": self.location,
                "tags": {TAG_CREATED: "true", "description": description[:256]},
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

    # ---- health ----------------------------------------------------------------------
    def check(self) -> str:
        sizes = self._call(lambda: list(self.compute.virtual_machine_sizes.list(self.location)))
        try:
            self._call(self.resources.resource_groups.get, self.group)
            group = f"resource group {self.group}"
        except NotFound:
            group = f"resource group {self.group} does not exist yet (the first boot creates it)"
        return f"subscription {self.subscription}, {self.location}: {len(sizes)} VM sizes; {group}"


def _guard_policy(guard):
    """An azure-core policy run before every attempt of every request of the clients
    (first pages, nextLink pages, Azure-AsyncOperation and Location polls): a URL off the
    configured origins is refused before a byte is sent (issue 21), and an answer's
    Retry-After is capped at 60 s so no poll sleeps a day."""
    policies = require("azure.core.pipeline.policies", DIST, "azure-core")

    class OriginGuardPolicy(policies.SansIOHTTPPolicy):
        def on_request(self, request):
            guard.check(request.http_request.url)

        def on_response(self, request, response):
            headers = response.http_response.headers
            for name in ("Retry-After", "retry-after-ms", "x-ms-retry-after-ms"):
                if name in headers:
                    seconds = retry_after_seconds(headers[name] if name == "Retry-After"
                                                  else str(float(headers[name]) / 1000))
                    if seconds is None:
                        del headers[name]
                    elif name == "Retry-After":
                        headers[name] = str(int(seconds))
                    else:
                        headers[name] = str(int(seconds * 1000))

    return OriginGuardPolicy()


def _loopback_policy(credential, scope: str):
    """ARM's bearer-token policy, allowed over plain http only for loopback URLs (a
    test's fake or an emulator): azure-core refuses bearer tokens without TLS."""
    policies = require("azure.mgmt.core.policies", DIST, "azure-mgmt-core")

    class LoopbackBearerPolicy(policies.ARMChallengeAuthenticationPolicy):
        def on_request(self, request):
            if _is_loopback_http(request.http_request.url):
                request.context["enforce_https"] = False
            return super().on_request(request)

    return LoopbackBearerPolicy(credential, scope)


def _arm_error(error: Exception) -> tuple[str, str]:
    """ARM's error code and message from an HttpResponseError."""
    odata = getattr(error, "error", None)
    code = getattr(odata, "code", None)
    message = getattr(odata, "message", None)
    if not code:
        response = getattr(error, "response", None)
        try:
            body = response.json() if response is not None else {}
            inner = body.get("error") or {}
            code, message = inner.get("code"), inner.get("message")
        except Exception:  # not JSON: keep the SDK's text
            pass
    if not code:
        code = str(getattr(error, "status_code", None) or "Error")
        message = message or (getattr(error, "reason", None) or _first_line(error))
    return str(code), " ".join(str(message or "").split())


def _first_line(error: Exception) -> str:
    text = str(getattr(error, "message", None) or error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _urn(image: dict) -> str:
    version = image.get("exactVersion") or image.get("version") or "latest"
    return f"{image['publisher']}:{image['offer']}:{image['sku']}:{version}"


def _version_key(version: str) -> tuple:
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in version.split("."))


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

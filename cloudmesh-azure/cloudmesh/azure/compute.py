"""Microsoft Azure provider (kind ``azure``) over azure-mgmt-compute/-network/-resource.

It maps Azure Resource Manager objects to cms records and does nothing else. Everything
lives in one resource group (``credentials.resource_group``, made on first boot). What a
VM needs (vnet, NIC, public IP, security groups, cleanup) is network.py, marketplace
images images.py, SSH keys and the osProfile access.py, the azure-core plumbing
(credentials, origin guard, bounded polling) arm.py.

Credentials: subscription_id, resource_group, location; then access_token, or tenant_id +
client_id + client_secret, or nothing more (the Azure CLI's login); base_url for
sovereign clouds and local endpoints. ``default:`` also takes image_aliases
(NAME=publisher:offer:sku:version), image_offers (publisher:offer) or image_publishers,
stop_mode (deallocate or poweroff), poll_interval (s between polls when Azure asks no
pause, 2) and operation_timeout (s one long-running operation may take, 900).
"""

from __future__ import annotations

import re
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

from cloudmesh.azure import arm
from cloudmesh.azure.access import SshPublicKeys, os_profile
from cloudmesh.azure.images import MarketplaceImages
from cloudmesh.azure.network import LEGACY_VM_TAG, AzureNetwork, SecurityGroups, vm_addresses
from cloudmesh.compute.abc import ComputeNodeABC, record_mapper
from cloudmesh.compute.errors import (NOT_SET_UP, CloudError, CmsError, ConfigError,
                                      CredentialError, NotFound, UsageError)
from cloudmesh.compute.kit.clients import client_on_first_use
from cloudmesh.compute.kit.finding import find_one
from cloudmesh.compute.kit.http import classify_http
from cloudmesh.compute.kit.markers import OWNER_KEY, marker, owned_by
from cloudmesh.compute.kit.paging import MAX_PAGES, pages
from cloudmesh.compute.lazy import require
from cloudmesh.compute.settings import seconds_setting

if TYPE_CHECKING:  # the facade builds it; we only read it
    from cloudmesh.compute.bootspec import BootSpec

DIST = arm.DIST

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
#: seconds between two polls of an operation when Azure asks for no pause (default.poll_interval)
POLL_INTERVAL = 2.0
PROVISIONING_MAP = {"creating": "booting", "deleting": "deleting", "failed": "error"}
#: the tag on a VM naming the cms key it was booted with (record data, not ownership)
TAG_KEY = "cms-key"
#: tags cms keeps for itself: never metadata, never set by `cms vm metadata`
_INTERNAL_TAGS = (OWNER_KEY, LEGACY_VM_TAG, TAG_KEY)
_VM_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]{0,63}")


class Provider(AzureNetwork, SecurityGroups, SshPublicKeys, MarketplaceImages,
               ComputeNodeABC):
    kind = "azure"
    credential_keys = ("subscription_id", "resource_group", "location", "tenant_id",
                       "client_id", "client_secret", "access_token", "base_url")
    #: default: keys beyond the common ones (cloudmesh.compute.settings)
    settings = {"image_aliases": (list, dict), "image_offers": list, "image_publishers": list,
                "stop_mode": str, "poll_interval": float, "operation_timeout": float}
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
    #: what long-running operations wait with (kit.polling's clock and sleep; a test
    #: gives its own to check the pauses without sleeping them)
    poll_clock = staticmethod(time.monotonic)
    poll_sleep = staticmethod(time.sleep)

    def __init__(self, cloud: str, spec: dict[str, Any]) -> None:
        super().__init__(cloud, spec)
        # the bearer token goes only to the ARM endpoint (issue 21); a nextLink or an
        # operation URL elsewhere is refused by arm.guard_policy before a byte is sent
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
        return str(self.credentials.get("base_url") or arm.ARM).rstrip("/")

    @client_on_first_use
    def credential(self):
        """One credential for all clients (an Azure CLI login runs ``az`` once)."""
        return arm.make_credential(self.cloud, self.credentials, self.base_url, self.timeout)

    def _make(self, module: str, cls: str, package: str, retries: int):
        sdk = require(module, DIST, package)

        def make():
            credential = self.credential
            # ARM answers with Retry-After (10 s and more); poll_interval is the fallback
            return getattr(sdk, cls)(credential, self.subscription, **arm.client_options(
                credential, self.base_url, bool(self.credentials.get("base_url")),
                self.guard, retries, self.timeout,
                seconds_setting(self.defaults, "poll_interval", POLL_INTERVAL)))
        return self.translated(make)

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
            return CredentialError(f"{where}: no Azure credentials: {arm.first_line(error)}",
                                   "run 'az login', or set credentials.access_token or "
                                   "tenant_id, client_id and client_secret",
                                   code=NOT_SET_UP)  # no login anywhere, not a refusal
        if isinstance(error, exc.ClientAuthenticationError) and error.status_code is None:
            return CredentialError(f"{where}: Azure login failed: {arm.first_line(error)}",
                                   "check tenant_id, client_id and client_secret")
        if isinstance(error, exc.HttpResponseError):
            status = error.status_code or 0
            code, message = arm.arm_error(error)
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
                              f"{arm.first_line(error)}", retryable=True)
        if isinstance(error, exc.AzureError):
            return CloudError(f"{where}: {arm.first_line(error)}")
        return None

    def _call(self, function, *args: Any, **kwargs: Any):
        """Call the SDK, with its errors as CmsErrors."""
        return self.translated(function, *args, **kwargs)

    def _begin(self, begin, *args: Any, **kwargs: Any) -> Any:
        """Start a long-running operation; its poller waits with the kit's poll_until
        (Retry-After honoured up to 60 s, ``operation_timeout`` as the deadline)."""
        what = f"cloud '{self.cloud}': Azure operation " + getattr(
            begin, "__name__", "").removeprefix("begin_")
        polling = arm.bounded_polling(
            what=what, timeout=self.operation_timeout,
            interval=seconds_setting(self.defaults, "poll_interval", POLL_INTERVAL),
            clock=self.poll_clock, sleep=self.poll_sleep)
        return self._call(begin, *args, polling=polling, **kwargs)

    def _lro(self, begin, *args: Any, **kwargs: Any) -> Any:
        """Run a long-running operation to its end and return its result: a refused start
        or a failed operation is a CmsError with Azure's code and message, one still
        running after ``operation_timeout`` a WaitTimeout."""
        return self._finish(self._begin(begin, *args, **kwargs))

    def _finish(self, poller: Any) -> Any:
        # the poll loop ends itself at operation_timeout; this bounds the wait for its
        # thread (one more status request) so result() can never block for ever
        limit = self.operation_timeout + self.timeout + 5
        self._call(poller.wait, limit)
        if not poller.done():
            raise CloudError(f"cloud '{self.cloud}': an Azure operation did not finish "
                             f"within {limit:g} s",
                             "see the resource group's activity log in the Azure portal")
        return self._call(poller.result)

    def _all(self, list_call, what: str) -> list[Any]:
        """Every item of an ARM list, page by page through kit.paging: a nextLink that
        repeats, or more than ``max_pages`` pages, ends the list with a CloudError; a
        nextLink off the ARM endpoint is refused (also by arm.guard_policy)."""
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
        public, private, groups = vm_addresses(props, nics, ips)
        storage = props.get("storageProfile") or {}
        image = storage.get("imageReference") or {}
        login = props.get("osProfile") or {}
        metadata = {k: v for k, v in tags.items() if k not in _INTERNAL_TAGS}
        image_name = _urn(image) if image.get("publisher") else image.get("id")
        username = login.get("adminUsername") or self.default_username_for(
            str(image_name or ""))
        metadata["username"] = username
        native: dict[str, Any] = {"provisioning_state": props.get("provisioningState"),
                                  "vm_id": props.get("vmId"), "resource_group": self.group,
                                  "os_disk": ((storage.get("osDisk") or {}).get("managedDisk")
                                              or {}).get("id"),
                                  "cms_created": owned_by(self._owner(vm), str(
                                      vm.get("id") or "").lower(), attached_to_vm=True)}
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
        return self._to_vm(vm, *self._addresses_of(vm))

    def info(self, name: str) -> dict[str, Any]:
        return self._vm_of(self._get_vm(name))

    def check_name(self, name: str) -> None:
        if not _VM_NAME.fullmatch(name) or name.endswith((".", "-")):
            raise UsageError(f"'{name}' is not a valid Azure VM name",
                             "use 1-64 letters, digits, '-' and '.', starting with a letter "
                             "or digit and not ending with '.' or '-' (no '_')")

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
        made: list[tuple[str, str]] = []
        try:
            nic_id = self._make_nic(spec.name, subnet_id, nsg_id, spec.public_ip, spec.zone,
                                    made)
            poller = self._begin(self.create_compute.virtual_machines.begin_create_or_update,
                                 self.group, spec.name, self._vm_body(spec, image, size, nic_id))
        except CmsError as error:
            if not error.retryable:  # the VM does not exist: undo what was made for it
                self._undo(made)
            raise
        vm = self._finish(poller)
        record = self._vm_of(self._call(self.compute.virtual_machines.get, self.group,
                                         spec.name, expand="instanceView") or vm)
        if self.group_created:
            record.setdefault("native", {})["resource_group_created"] = self.group
        return record

    def _vm_body(self, spec: BootSpec, image: dict, size: str, nic_id: str) -> dict[str, Any]:
        tags = {str(k): str(v) for k, v in (spec.metadata or {}).items()}
        tags.update({**marker(self._vm_id(spec.name)), TAG_KEY: spec.key["name"]})
        os_disk: dict[str, Any] = {"name": f"{spec.name}-osdisk", "createOption": "FromImage",
                                   "deleteOption": "Delete",
                                   "managedDisk": {"storageAccountType": "StandardSSD_LRS"}}
        if spec.disk_gb:
            os_disk["diskSizeGB"] = int(spec.disk_gb)
        body: dict[str, Any] = {
            "location": self.location, "tags": tags,
            "properties": {
                "hardwareProfile": {"vmSize": size},
                "storageProfile": {"imageReference": {
                    "publisher": image["publisher"], "offer": image["offer"],
                    "sku": image["sku"], "version": image["version"]}, "osDisk": os_disk},
                "osProfile": os_profile(spec),
                "networkProfile": {"networkInterfaces": [{
                    "id": nic_id, "properties": {"primary": True, "deleteOption": "Delete"}}]}}}
        if spec.zone:
            body["zones"] = [spec.zone]
        return body

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
            # remove those leftovers (marked as the VM's), else say NotFound
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
        made = self._owned_by_vm(vm)  # read before the VM goes: then nothing is attached
        self._lro(self.compute.virtual_machines.begin_delete, self.group, vm["name"])
        # the VM is gone: now its NIC may go, then the IP that was on the NIC, the disk
        left = self._undo(made)
        record.update(status="terminated", state="deleted")
        if left:
            raise CloudError(f"cloud '{self.cloud}': VM '{vm['name']}' is deleted but these "
                             f"resources it used are left: {'; '.join(left)}",
                             f"remove them in resource group '{self.group}'")
        return record

    def metadata_set(self, name: str, metadata: dict[str, str]) -> dict[str, str]:
        vm = self._get_vm(name)
        bad = [k for k in metadata if k in _INTERNAL_TAGS or k == "username"]
        if bad:
            raise UsageError(f"the metadata key '{bad[0]}' is kept by cms; it cannot be set")
        tags = {**(vm.get("tags") or {}), **{str(k): str(v) for k, v in metadata.items()}}
        self._lro(self.compute.virtual_machines.begin_update, self.group, vm["name"],
                  {"tags": tags})
        return self.metadata_get(vm["name"])

    # ---- flavors ---------------------------------------------------------------------
    def flavors(self) -> list[dict[str, Any]]:
        sizes = self._call(lambda: list(self.compute.virtual_machine_sizes.list(self.location)))
        return sorted((self._to_flavor(s) for s in sizes), key=lambda f: f["name"])

    def flavor(self, name: str) -> dict[str, Any]:
        for record in self.flavors():
            if record["name"].lower() == name.lower():
                return record
        raise NotFound(f"no VM size '{name}' in {self.location} on cloud '{self.cloud}'",
                       f"see 'cms flavor list --cloud={self.cloud}'")

    # ---- health ----------------------------------------------------------------------
    def check(self) -> str:
        sizes = self._call(lambda: list(self.compute.virtual_machine_sizes.list(self.location)))
        try:
            self._call(self.resources.resource_groups.get, self.group)
            group = f"resource group {self.group}"
        except NotFound:
            group = f"resource group {self.group} does not exist yet (the first boot creates it)"
        return f"subscription {self.subscription}, {self.location}: {len(sizes)} VM sizes; {group}"

    def regions(self) -> list[str]:
        """What ``--region=all`` spans on Azure: every resource group of the subscription
        (cms keeps a cloud's VMs, keys and groups in one resource group, the region key)."""
        groups = self._all(lambda: self.resources.resource_groups.list(), "resource groups")
        return sorted(group.name for group in groups)




def _urn(image: dict) -> str:
    version = image.get("exactVersion") or image.get("version") or "latest"
    return f"{image['publisher']}:{image['offer']}:{image['sku']}:{version}"

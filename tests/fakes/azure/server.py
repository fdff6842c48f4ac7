"""A stateful fake of the Azure Resource Manager APIs the azure provider uses, an HTTP
server on 127.0.0.1 driven through the real azure-mgmt-* SDKs with ``base_url``.

It follows the REST specifications in Azure/azure-rest-api-specs at the api-versions the
installed SDKs send:

- specification/compute/resource-manager/Microsoft.Compute/Compute/stable/2026-04-01/
  ComputeRP.json (virtualMachines: CreateOrUpdate, Get with $expand=instanceView,
  InstanceView, List with $expand, ListAll, Start, Deallocate, PowerOff, Restart, Delete;
  sshPublicKeys; locations/vmSizes; locations/publishers/.../versions) and its examples
  (VirtualMachine_Get_InstanceView.json, VirtualMachine_Create_*.json,
  VirtualMachine_Restart_MaximumSet_Gen.json); disks from
  specification/compute/resource-manager/Microsoft.Compute/DiskRP/stable/, at the
  2026-03-02 api-version the SDK sends for them;
- specification/network/resource-manager/Microsoft.Network/Network/stable/2026-03-01/
  (virtualNetwork.json, networkInterface.json, publicIpAddress.json,
  networkSecurityGroup.json);
- specification/resources/resource-manager/Microsoft.Resources/ at 2025-04-01
  (resourceGroups: Get, CheckExistence, CreateOrUpdate).

Installed SDKs and the api-versions they send: azure-mgmt-compute 39 (2026-04-01; disks
2026-03-02), azure-mgmt-network 33.1 (2026-03-01), azure-mgmt-resource 26 (2025-04-01).

What it does as ARM does:
- every request needs ``Authorization: Bearer <token>`` (401 AuthenticationFailed /
  InvalidAuthenticationToken), the right subscription (404 SubscriptionNotFound) and a
  known api-version for its namespace (400 NoRegisteredProviderFound);
- errors are ARM's JSON ``{"error": {"code", "message"}}`` with ARM's codes and texts;
- lists page: ``{"value": [...], "nextLink": ...$skiptoken=N}`` (``page_size``);
- PUT, DELETE and POST actions on VMs, NICs, public IPs, virtual networks, NSGs and disks
  are long-running: 201/202 with ``Azure-AsyncOperation`` (and ``Location`` for DELETE and
  POST) and ``Retry-After``; the operation resource answers ``InProgress`` until
  ``op_seconds`` have passed, then ``Succeeded`` or ``Failed`` with the error;
- a VM's power state lives only in its instance view; a deallocated VM cannot be
  restarted (409 OperationNotAllowed);
- a NIC attached to a VM cannot be deleted (400 NicInUse), nor a public IP on a NIC
  (400 PublicIPAddressCannotBeDeleted), nor an attached disk (409 OperationNotAllowed),
  nor an NSG still on a NIC (400 InUseNetworkSecurityGroupCannotBeDeleted);
- public IPs must be Standard and Static (the API's default, Basic, has no quota);
- a VM's OS disk is a Microsoft.Compute/disks resource left behind on VM delete unless
  ``osDisk.deleteOption`` is Delete; NICs likewise (``networkInterfaces[].deleteOption``);
- Linux VMs with ``disablePasswordAuthentication`` need SSH keys whose path is
  /home/{adminUsername}/.ssh/authorized_keys; reserved admin names are refused.

Addresses: public IPs are 127.0.0.N (N from 2), so a test can run an sshd there; private
IPs come from the subnet's prefix.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from . import spec

API_VERSIONS = {
    "microsoft.compute": {"2026-04-01", "2026-03-02", "2026-03-03"},
    "microsoft.network": {"2026-03-01"},
    "resources": {"2025-04-01"},
}
# names Azure refuses as adminUsername (ComputeRP's osProfile.adminUsername rules)
RESERVED_USERNAMES = {
    "administrator", "admin", "user", "user1", "test", "user2", "test1", "user3", "admin1",
    "1", "123", "a", "actuser", "adm", "admin2", "aspnet", "backup", "console", "david",
    "guest", "john", "owner", "root", "server", "sql", "support", "support_388945a0",
    "sys", "test2", "test3", "user4", "user5"}

DEFAULT_IMAGES = {
    # publisher -> offer -> sku -> versions
    "Canonical": {
        "ubuntu-24_04-lts": {"server": ["24.04.202409030", "24.04.202411030"],
                             "server-gen1": ["24.04.202411030"]},
        "0001-com-ubuntu-server-jammy": {"22_04-lts-gen2": ["22.04.202410020"]},
    },
    "Debian": {"debian-12": {"12-gen2": ["0.20241004.1872"]}},
}
DEFAULT_SIZES = [
    {"name": "Standard_B1s", "numberOfCores": 1, "osDiskSizeInMB": 1047552,
     "resourceDiskSizeInMB": 4096, "memoryInMB": 1024, "maxDataDiskCount": 2},
    {"name": "Standard_B2s", "numberOfCores": 2, "osDiskSizeInMB": 1047552,
     "resourceDiskSizeInMB": 8192, "memoryInMB": 4096, "maxDataDiskCount": 4},
    {"name": "Standard_D2s_v3", "numberOfCores": 2, "osDiskSizeInMB": 1047552,
     "resourceDiskSizeInMB": 16384, "memoryInMB": 8192, "maxDataDiskCount": 4},
]

_TYPES = {  # lower-case path segment -> (namespace, ARM type)
    "virtualmachines": "Microsoft.Compute/virtualMachines",
    "disks": "Microsoft.Compute/disks",
    "sshpublickeys": "Microsoft.Compute/sshPublicKeys",
    "networkinterfaces": "Microsoft.Network/networkInterfaces",
    "publicipaddresses": "Microsoft.Network/publicIPAddresses",
    "virtualnetworks": "Microsoft.Network/virtualNetworks",
    "networksecuritygroups": "Microsoft.Network/networkSecurityGroups",
}


class ArmError(Exception):
    def __init__(self, status: int, code: str, message: str,
                 headers: dict[str, str] | None = None, target: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.target = status, code, message, target
        self.headers = headers or {}


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat()


def _version_key(version: str) -> tuple:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"[.]", version))


class AzureFake:
    """The fake ARM. ``start()`` returns its base URL; tests read and seed its state."""

    def __init__(self, subscription: str = "00000000-0000-0000-0000-000000000001",
                 token: str | None = None, op_seconds: float = 0.2,
                 retry_after: str = "1", page_size: int = 50) -> None:
        self.subscription = subscription
        self._made_with = {"token": token or f"fake-arm-token-{uuid.uuid4().hex}",
                           "op_seconds": op_seconds, "retry_after": retry_after,
                           "page_size": page_size}
        self.lock = threading.RLock()
        self.server: ThreadingHTTPServer | None = None
        self.reset()

    def reset(self) -> None:
        """Back to the state the fake was made with: no groups, resources, operations,
        requests, violations or injected faults, the constructor's timings, token and page
        size. The server and its url stay, so one fake can serve test after test."""
        with self.lock:  # not in the middle of a request still being answered
            made = self._made_with
            token, op_seconds, retry_after, page_size = (
                made["token"], made["op_seconds"], made["retry_after"], made["page_size"])
            #: bearer tokens the fake accepts
            self.tokens = {token}
            self.op_seconds = op_seconds
            #: the clock operations run on (a test gives a virtual one to decide, without
            #: sleeping, when an operation ends)
            self.clock = time.monotonic
            #: the Retry-After header of long-running operations (ARM sends integers)
            self.retry_after = retry_after
            self.page_size = page_size
            self.images = json.loads(json.dumps(DEFAULT_IMAGES))
            self.sizes = list(DEFAULT_SIZES)
            self.reserved_usernames = set(RESERVED_USERNAMES)
            #: (code, message) the next VM creation fails with, after its operation ran
            self.fail_next_provisioning: tuple[str, str] | None = None
            #: resource name -> (status, code, message) its DELETE is refused with
            self.refuse_delete: dict[str, tuple[int, str, str]] = {}
            self.groups: dict[str, dict] = {}           # lower name -> resource group
            self.resources: dict[str, dict] = {}        # lower id -> resource JSON
            self.operations: dict[str, dict] = {}
            self.requests: list[tuple[str, str]] = []   # (method, path) seen
            #: requests outside the API description (see spec.py), each answered 400 as ARM
            #: does; a test's fixture fails when one is left here
            self.violations: list[str] = []
            #: VM name (lower) -> restarts the fake has carried out
            self.reboots: dict[str, int] = {}
            self._next_public = 0
            self._private: dict[str, int] = {}

    @property
    def token(self) -> str:
        return next(iter(self.tokens))

    # ---- life cycle ----------------------------------------------------------------
    def start(self) -> str:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def setup(self) -> None:
                super().setup()
                # headers and body go out in two writes: without this, Nagle's algorithm
                # and the client's delayed ACK add 40 ms to every answer
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, headers, payload = fake.handle(
                    self.command, self.path, dict(self.headers.items()), body)
                data = b"" if payload is None else json.dumps(payload).encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                if data:
                    self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = do_HEAD = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        return self.url

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()

    # ---- helpers for tests ---------------------------------------------------------
    def rid(self, group: str, type_: str, name: str) -> str:
        return (f"/subscriptions/{self.subscription}/resourceGroups/{group}/providers/"
                f"{type_}/{name}")

    def get(self, group: str, type_: str, name: str) -> dict | None:
        with self.lock:
            self._settle()
            return self.resources.get(self.rid(group, type_, name).lower())

    def of_type(self, type_: str, group: str | None = None) -> list[dict]:
        with self.lock:
            self._settle()
            return [r for r in self.resources.values() if r["type"].lower() == type_.lower()
                    and (group is None or _group_of(r["id"]).lower() == group.lower())]

    def vm(self, group: str, name: str) -> dict | None:
        return self.get(group, "Microsoft.Compute/virtualMachines", name)

    def seed_vms(self, group: str, count: int, location: str = "eastus",
                 prefix: str = "seed", tags: dict | None = None) -> list[str]:
        """Put ``count`` running VMs (each with a NIC and public IP) straight into the
        state, as if someone had made them outside cms."""
        names = []
        with self.lock:
            self._ensure_group(group, location)
            for i in range(count):
                name = f"{prefix}-{i:04d}"
                ip = self._put_now(group, "Microsoft.Network/publicIPAddresses", f"{name}-ip",
                                   {"location": location, "sku": {"name": "Standard"},
                                    "properties": {"publicIPAllocationMethod": "Static"}})
                vnet = self._seed_vnet(group, location)
                nic = self._put_now(group, "Microsoft.Network/networkInterfaces", f"{name}-nic",
                                    {"location": location, "properties": {"ipConfigurations": [
                                        {"name": "ipconfig1", "properties": {
                                            "subnet": {"id": vnet["properties"]["subnets"][0]["id"]},
                                            "publicIPAddress": {"id": ip["id"]}}}]}})
                self._put_now(group, "Microsoft.Compute/virtualMachines", name, {
                    "location": location, "tags": dict(tags or {}),
                    "properties": {
                        "hardwareProfile": {"vmSize": "Standard_B1s"},
                        "storageProfile": {"imageReference": {
                            "publisher": "Canonical", "offer": "ubuntu-24_04-lts",
                            "sku": "server", "version": "latest"},
                            "osDisk": {"createOption": "FromImage"}},
                        "osProfile": {"computerName": name, "adminUsername": "azureuser",
                                      "linuxConfiguration": {
                                          "disablePasswordAuthentication": True,
                                          "ssh": {"publicKeys": [{
                                              "path": "/home/azureuser/.ssh/authorized_keys",
                                              "keyData": "ssh-ed25519 AAAAseed seed"}]}}},
                        "networkProfile": {"networkInterfaces": [{"id": nic["id"]}]}}})
                names.append(name)
        return names

    def _seed_vnet(self, group: str, location: str) -> dict:
        existing = self.resources.get(
            self.rid(group, "Microsoft.Network/virtualNetworks", "seed-vnet").lower())
        if existing:
            return existing
        return self._put_now(group, "Microsoft.Network/virtualNetworks", "seed-vnet", {
            "location": location, "properties": {
                "addressSpace": {"addressPrefixes": ["10.9.0.0/16"]},
                "subnets": [{"name": "default", "properties": {"addressPrefix": "10.9.0.0/20"}}]}})

    def _put_now(self, group: str, type_: str, name: str, body: dict) -> dict:
        """Create a resource with its operation already finished."""
        resource, finish = self._create(group, type_, name, body)
        finish()
        return resource

    # ---- dispatch ------------------------------------------------------------------
    def handle(self, method: str, raw_path: str, headers: dict[str, str],
               body: bytes) -> tuple[int, dict[str, str], Any]:
        split = urlsplit(raw_path)
        path = split.path.rstrip("/")
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        # links go to the host the client asked (behind a reverse proxy: the proxy's)
        host = next((v for k, v in headers.items() if k.lower() == "x-forwarded-host" and v),
                    None) or next((v for k, v in headers.items() if k.lower() == "host"),
                                  "127.0.0.1")
        base = f"http://{host}"
        out_headers = {"x-ms-request-id": str(uuid.uuid4()),
                       "x-ms-correlation-request-id": str(uuid.uuid4())}
        with self.lock:
            self.requests.append((method, raw_path))
        try:
            self._authenticate(headers)
            parsed = json.loads(body) if body else None
            refusal = spec.check(method, path, query, parsed)
            if refusal is not None:
                with self.lock:
                    self.violations.append(f"{method} {raw_path}: {refusal.message}")
                raise ArmError(refusal.status, refusal.code, refusal.message,
                               target=refusal.target)
            with self.lock:
                self._settle()
                status, extra, payload = self._route(method, path, query, parsed, base)
            out_headers.update(extra)
            return status, out_headers, payload
        except ArmError as error:
            out_headers.update(error.headers)
            payload = {"code": error.code, "message": error.message}
            if error.target:
                payload["target"] = error.target
            return error.status, out_headers, {"error": payload}
        except json.JSONDecodeError as error:
            return 400, out_headers, {"error": {"code": "InvalidRequestContent",
                                                "message": f"The request content was invalid "
                                                           f"and could not be deserialized: {error}"}}

    def _authenticate(self, headers: dict[str, str]) -> None:
        auth = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        challenge = {"WWW-Authenticate": 'Bearer authorization_uri="https://login.microsoftonline'
                                         '.com/common", error="invalid_token"'}
        if not auth.startswith("Bearer "):
            raise ArmError(401, "AuthenticationFailed", "Authentication failed. The "
                           "'Authorization' header is missing.", challenge)
        if auth[len("Bearer "):] not in self.tokens:
            raise ArmError(401, "InvalidAuthenticationToken",
                           "The access token is invalid.", challenge)

    def _check_api_version(self, namespace: str, query: dict) -> None:
        version = query.get("api-version")
        if not version:
            raise ArmError(400, "MissingApiVersionParameter",
                           "The api-version query parameter (?api-version=) is required for "
                           "all requests.")
        if version not in API_VERSIONS.get(namespace, set()):
            raise ArmError(400, "NoRegisteredProviderFound",
                           f"No registered resource provider found for location 'eastus' and "
                           f"API version '{version}' for type '{namespace}'. The supported "
                           f"api-versions are '{', '.join(sorted(API_VERSIONS.get(namespace, ())))}'.")

    def _route(self, method: str, path: str, query: dict, body: Any,
               base: str) -> tuple[int, dict, Any]:
        parts = path.strip("/").split("/")
        low = [p.lower() for p in parts]
        if len(low) < 2 or low[0] != "subscriptions":
            raise ArmError(404, "InvalidResourceType", f"The resource type could not be found "
                           f"for path '{path}'.")
        if low[1] != self.subscription.lower():
            raise ArmError(404, "SubscriptionNotFound",
                           f"The subscription '{parts[1]}' could not be found.")
        rest, lrest = parts[2:], low[2:]
        # /subscriptions/{s}/providers/{ns}/...
        if lrest[:1] == ["providers"] and len(lrest) >= 2:
            namespace = lrest[1]
            self._check_api_version(namespace, query)
            return self._subscription_level(method, namespace, rest[2:], lrest[2:], query, base)
        if lrest == ["resourcegroups"] and method == "GET":  # ResourceGroups_List
            self._check_api_version("resources", query)
            return 200, {}, {"value": [self._group_json(name) for name in sorted(self.groups)]}
        # /subscriptions/{s}/resourcegroups/{rg}[/providers/{ns}/{type}/...]
        if lrest[:1] == ["resourcegroups"] and len(lrest) >= 2:
            group = rest[1]
            if len(lrest) == 2:
                self._check_api_version("resources", query)
                return self._resource_group(method, group, body)
            if len(lrest) >= 5 and lrest[2] == "providers":
                namespace = lrest[3]
                self._check_api_version(namespace, query)
                type_key = lrest[4]
                if type_key not in _TYPES or _TYPES[type_key].split("/")[0].lower() != namespace:
                    raise ArmError(400, "InvalidResourceType", f"The resource type '{rest[4]}' "
                                   f"could not be found in the namespace '{rest[3]}' for api "
                                   f"version '{query.get('api-version')}'.")
                return self._resource(method, group, _TYPES[type_key], rest[5:], lrest[5:],
                                      query, body, base)
        raise ArmError(404, "InvalidResourceType", f"The resource type could not be found for "
                       f"path '{path}'.")

    # ---- resource groups -----------------------------------------------------------
    def _group_json(self, name: str) -> dict:
        group = self.groups[name.lower()]
        return {"id": f"/subscriptions/{self.subscription}/resourceGroups/{group['name']}",
                "name": group["name"], "type": "Microsoft.Resources/resourceGroups",
                "location": group["location"], "tags": group.get("tags") or {},
                "properties": {"provisioningState": "Succeeded"}}

    def _ensure_group(self, name: str, location: str) -> None:
        self.groups.setdefault(name.lower(), {"name": name, "location": location})

    def _require_group(self, name: str) -> None:
        if name.lower() not in self.groups:
            raise ArmError(404, "ResourceGroupNotFound",
                           f"Resource group '{name}' could not be found.")

    def _resource_group(self, method: str, name: str, body: Any) -> tuple[int, dict, Any]:
        if method == "HEAD":
            return (204 if name.lower() in self.groups else 404), {}, None
        if method == "GET":
            self._require_group(name)
            return 200, {}, self._group_json(name)
        if method == "PUT":
            if not body or not body.get("location"):
                raise ArmError(400, "LocationRequired", "The location property is required "
                               "for this definition.")
            if not re.fullmatch(r"[-\w._()]{1,90}", name) or name.endswith("."):
                raise ArmError(400, "InvalidResourceGroup",
                               f"The provided resource group name '{name}' has these invalid "
                               "characters: ...")
            existed = name.lower() in self.groups
            self.groups[name.lower()] = {"name": name, "location": body["location"],
                                         "tags": body.get("tags") or {}}
            return (200 if existed else 201), {}, self._group_json(name)
        raise ArmError(405, "MethodNotAllowed", f"The requested method '{method}' is not "
                       "allowed here.")

    # ---- subscription-level: operations, sizes, images, list all -------------------
    def _subscription_level(self, method: str, namespace: str, rest: list[str],
                            low: list[str], query: dict, base: str) -> tuple[int, dict, Any]:
        if method != "GET":
            raise ArmError(405, "MethodNotAllowed", "The requested method is not allowed.")
        if len(low) == 4 and low[0] == "locations" and low[2] in ("operations",
                                                                  "operationresults"):
            return self._operation(rest[3], low[2] == "operationresults"
                                   or query.get("monitor") == "true")
        if namespace == "microsoft.compute":
            if low == ["virtualmachines"]:
                vms = _scale_set_filter([r for r in self.resources.values()
                                         if r["type"] == "Microsoft.Compute/virtualMachines"],
                                        query)
                return 200, {}, self._page(vms, query, base, "/subscriptions/"
                                           f"{self.subscription}/providers/Microsoft.Compute/"
                                           "virtualMachines", status_only=query.get(
                                               "statusOnly") == "true")
            if len(low) == 3 and low[0] == "locations" and low[2] == "vmsizes":
                return 200, {}, {"value": self.sizes}
            if len(low) >= 3 and low[0] == "locations" and low[2] == "publishers":
                return 200, {}, self._images(rest[1], rest[3:], query)
        raise ArmError(404, "InvalidResourceType", "The resource type could not be found.")

    def _images(self, location: str, rest: list[str], query: dict) -> Any:
        def entries(names: list[str], prefix: str) -> list[dict]:
            return [{"name": n, "location": location, "id": f"{prefix}/{n}"} for n in names]

        root = (f"/Subscriptions/{self.subscription}/Providers/Microsoft.Compute/Locations/"
                f"{location}/Publishers")
        if not rest:
            return entries(sorted(self.images), root)
        publisher = _ci_get(self.images, rest[0])
        if publisher is None:
            raise ArmError(404, "NotFound", f"Artifact: VMImage was not found.")
        if len(rest) == 4:  # publishers/{p}/artifacttypes/vmimage/offers
            return entries(sorted(publisher), f"{root}/{rest[0]}/ArtifactTypes/VMImage/Offers")
        offer = _ci_get(publisher, rest[4])
        if offer is None:
            raise ArmError(404, "NotFound", "Artifact: VMImage was not found.")
        skus_root = f"{root}/{rest[0]}/ArtifactTypes/VMImage/Offers/{rest[4]}/Skus"
        if len(rest) == 6:  # .../offers/{o}/skus
            return entries(sorted(offer), skus_root)
        versions = _ci_get(offer, rest[6])
        if versions is None:
            raise ArmError(404, "NotFound", "Artifact: VMImage was not found.")
        versions = sorted(versions, key=_version_key)
        if len(rest) == 8:  # .../skus/{s}/versions
            if (query.get("$orderby") or "").lower() == "name desc":
                versions = versions[::-1]
            if query.get("$top"):
                versions = versions[:int(query["$top"])]
            listed = entries(versions, f"{skus_root}/{rest[6]}/Versions")
            if (query.get("$expand") or "").lower() == "properties":
                for entry in listed:  # VirtualMachineImages_ListWithProperties
                    entry["properties"] = _image_properties(rest[6])
            return listed
        version = rest[8]
        if version not in versions:
            raise ArmError(404, "NotFound", "Artifact: VMImage was not found.")
        return {"name": version, "location": location,
                "id": f"{skus_root}/{rest[6]}/Versions/{version}",
                "properties": _image_properties(rest[6])}

    def _operation(self, op_id: str, result: bool) -> tuple[int, dict, Any]:
        op = self.operations.get(op_id)
        if op is None:
            raise ArmError(404, "NotFound", f"The operation '{op_id}' was not found.")
        retry = {"Retry-After": self.retry_after}
        if result:  # the Location URL: 202 while running, then the outcome
            if op["status"] == "InProgress":
                return 202, retry, None
            if op["status"] == "Failed":
                error = op["error"]
                raise ArmError(op.get("http_status", 409), error["code"], error["message"])
            return (204 if op["method"] == "DELETE" else 200), {}, None
        payload = {"name": op_id, "status": op["status"], "startTime": op["start"]}
        if op["status"] != "InProgress":
            payload["endTime"] = op.get("end")
        if op["status"] == "Failed":
            payload["error"] = op["error"]
        return 200, (retry if op["status"] == "InProgress" else {}), payload

    # ---- long-running operations ---------------------------------------------------
    def _begin(self, namespace: str, location: str, method: str, finish, base: str,
               fail: tuple[str, str] | None = None) -> dict[str, str]:
        """Start an operation that ends ``op_seconds`` from now by calling ``finish``;
        return the headers that point at it."""
        op_id = str(uuid.uuid4())
        self.operations[op_id] = {"status": "InProgress", "done_at": self.clock()
                                  + self.op_seconds, "finish": finish, "fail": fail,
                                  "start": now_iso(), "method": method}
        ns = "Microsoft.Compute" if namespace.lower() == "microsoft.compute" else "Microsoft.Network"
        version = "2026-04-01" if ns == "Microsoft.Compute" else "2026-03-01"
        prefix = f"{base}/subscriptions/{self.subscription}/providers/{ns}/locations/{location}"
        headers = {"Azure-AsyncOperation": f"{prefix}/operations/{op_id}?api-version={version}",
                   "Retry-After": self.retry_after}
        if method in ("DELETE", "POST"):
            if ns == "Microsoft.Compute":
                headers["Location"] = (f"{prefix}/operations/{op_id}?monitor=true&"
                                       f"api-version={version}")
            else:
                headers["Location"] = f"{prefix}/operationResults/{op_id}?api-version={version}"
        return headers

    def _settle(self) -> None:
        """Finish every operation whose time has come."""
        moment = self.clock()
        for op in self.operations.values():
            if op["status"] == "InProgress" and op["done_at"] <= moment:
                op["end"] = now_iso()
                if op["fail"]:
                    code, message = op["fail"]
                    op["status"], op["error"] = "Failed", {"code": code, "message": message}
                    op["finish"](failed=(code, message))
                else:
                    op["status"] = "Succeeded"
                    op["finish"]()
                op["finish"] = None

    # ---- resources -----------------------------------------------------------------
    def _page(self, items: list[dict], query: dict, base: str, path: str,
              status_only: bool = False) -> dict:
        start = int(query.get("$skiptoken") or 0)
        chunk = items[start:start + self.page_size]
        expand = (query.get("$expand") or "").lower() == "instanceview"
        value = [self._view(r, expand=expand, status_only=status_only) for r in chunk]
        page: dict[str, Any] = {"value": value}
        if start + self.page_size < len(items):
            extra = "".join(f"&{k}={v}" for k, v in query.items()
                            if k not in ("$skiptoken", "api-version"))
            page["nextLink"] = (f"{base}{path}?api-version={query['api-version']}{extra}"
                                f"&$skiptoken={start + self.page_size}")
        return page

    def _view(self, resource: dict, expand: bool = False, status_only: bool = False) -> dict:
        """The JSON of a resource as GET shows it (internal fields removed)."""
        shown = {k: v for k, v in resource.items() if not k.startswith("_")}
        if resource["type"] == "Microsoft.Compute/virtualMachines":
            props = dict(shown["properties"])
            if expand or status_only:
                props["instanceView"] = self._instance_view(resource)
            if status_only:
                return {"id": shown["id"], "name": shown["name"], "type": shown["type"],
                        "location": shown["location"],
                        "properties": {"instanceView": props["instanceView"]}}
            shown["properties"] = props
        return json.loads(json.dumps(shown))

    def _instance_view(self, vm: dict) -> dict:
        state = vm["_state"]
        provisioning = vm["properties"]["provisioningState"].lower()
        statuses = [{"code": f"ProvisioningState/{provisioning}"
                     + (f"/{state['error'][0]}" if state.get("error") else ""),
                     "level": "Error" if state.get("error") else "Info",
                     "displayStatus": "Provisioning failed" if state.get("error") else
                     ("Provisioning succeeded" if provisioning == "succeeded"
                      else f"{provisioning.capitalize()}"),
                     "time": vm["_state"].get("changed", now_iso())}]
        if state.get("error"):
            statuses[0]["message"] = state["error"][1]
        if state.get("power"):
            statuses.append({"code": f"PowerState/{state['power']}", "level": "Info",
                             "displayStatus": f"VM {state['power']}"})
        return {"computerName": vm["properties"].get("osProfile", {}).get("computerName"),
                "osName": "ubuntu", "osVersion": "24.04", "statuses": statuses,
                "hyperVGeneration": "V2"}

    def _resource(self, method: str, group: str, type_: str, rest: list[str],
                  low: list[str], query: dict, body: Any, base: str) -> tuple[int, dict, Any]:
        collection = f"/subscriptions/{self.subscription}/resourceGroups/{group}/providers/{type_}"
        if not rest:  # the collection
            if method != "GET":
                raise ArmError(405, "MethodNotAllowed", "The requested method is not allowed.")
            self._require_group(group)
            items = [r for r in self.resources.values() if r["type"] == type_
                     and _group_of(r["id"]).lower() == group.lower()]
            return 200, {}, self._page(_scale_set_filter(items, query), query, base,
                                       collection)
        name = rest[0]
        rid = f"{collection}/{name}"
        resource = self.resources.get(rid.lower())
        if len(rest) == 1:
            if method == "GET":
                if resource is None:
                    self._not_found(group, type_, name)
                expand = (query.get("$expand") or "").lower() == "instanceview"
                return 200, {}, self._view(resource, expand=expand)
            if method == "PUT":
                self._require_group(group)
                return self._put(group, type_, name, body or {}, base)
            if method == "DELETE":
                if resource is None:
                    return 204, {}, None
                return self._delete(resource, base)
            if method == "PATCH" and resource is not None:
                if "tags" in (body or {}):
                    resource["tags"] = body["tags"]
                return 200, {}, self._view(resource)
            raise ArmError(405, "MethodNotAllowed", "The requested method is not allowed.")
        if resource is None:
            self._not_found(group, type_, name)
        if type_ == "Microsoft.Compute/virtualMachines":
            if len(rest) == 2 and low[1] == "instanceview" and method == "GET":
                return 200, {}, self._instance_view(resource)
            if len(rest) == 2 and method == "POST" and low[1] in (
                    "start", "deallocate", "poweroff", "restart"):
                return self._vm_action(resource, low[1], base)
        if type_ == "Microsoft.Network/virtualNetworks" and len(rest) >= 2 \
                and low[1] == "subnets":
            subnets = resource["properties"]["subnets"]
            if len(rest) == 2 and method == "GET":
                return 200, {}, {"value": subnets}
            if len(rest) == 3 and method == "GET":
                subnet = next((s for s in subnets if s["name"].lower() == low[2]), None)
                if subnet is None:
                    raise ArmError(404, "NotFound", f"Resource {rid}/subnets/{rest[2]} not found.")
                return 200, {}, subnet
        raise ArmError(404, "InvalidResourceType", "The resource type could not be found.")

    def _not_found(self, group: str, type_: str, name: str) -> None:
        self._require_group(group)
        raise ArmError(404, "ResourceNotFound",
                       f"The Resource '{type_}/{name}' under resource group '{group}' was not "
                       "found. For more details please go to https://aka.ms/ARMResourceNotFoundFix")

    def _put(self, group: str, type_: str, name: str, body: dict,
             base: str) -> tuple[int, dict, Any]:
        rid = self.rid(group, type_, name).lower()
        existing = self.resources.get(rid)
        if existing is not None:
            return self._update(existing, body, base)
        resource, finish = self._create(group, type_, name, body)
        namespace = type_.split("/")[0]
        if type_ == "Microsoft.Compute/sshPublicKeys":
            finish()
            return 201, {}, self._view(resource)
        fail = None
        if type_ == "Microsoft.Compute/virtualMachines" and self.fail_next_provisioning:
            fail, self.fail_next_provisioning = self.fail_next_provisioning, None
        headers = self._begin(namespace, resource["location"], "PUT", finish, base, fail)
        return 201, headers, self._view(resource)

    def _update(self, resource: dict, body: dict, base: str) -> tuple[int, dict, Any]:
        """A PUT on an existing resource: ARM's create-or-update. Only what cms changes
        (tags, NSG rules) is applied; a VM or NIC PUT is answered as is (idempotent)."""
        if "tags" in body:
            resource["tags"] = body["tags"]
        if resource["type"] == "Microsoft.Network/networkSecurityGroups":
            rules = (body.get("properties") or {}).get("securityRules") or []
            self._check_rules(rules)
            resource["properties"]["securityRules"] = [
                self._rule(resource["id"], r) for r in rules]
            resource["properties"]["provisioningState"] = "Updating"

            def finish(failed=None) -> None:
                resource["properties"]["provisioningState"] = "Succeeded"
            headers = self._begin("Microsoft.Network", resource["location"], "PUT", finish, base)
            return 200, headers, self._view(resource)
        return 200, {}, self._view(resource)

    # creation: validate, build the resource in its transitional state, and return the
    # function that completes it when its operation ends
    def _create(self, group: str, type_: str, name: str, body: dict):
        location = body.get("location")
        if not location:
            raise ArmError(400, "LocationRequired",
                           "The location property is required for this definition.")
        resource: dict[str, Any] = {
            "id": self.rid(group, type_, name), "name": name, "type": type_,
            "location": location, "tags": dict(body.get("tags") or {}),
            "properties": json.loads(json.dumps(body.get("properties") or {}))}
        if body.get("zones"):
            resource["zones"] = list(body["zones"])
        props = resource["properties"]
        creator = {
            "Microsoft.Compute/virtualMachines": self._create_vm,
            "Microsoft.Compute/sshPublicKeys": self._create_key,
            "Microsoft.Network/publicIPAddresses": self._create_public_ip,
            "Microsoft.Network/networkInterfaces": self._create_nic,
            "Microsoft.Network/virtualNetworks": self._create_vnet,
            "Microsoft.Network/networkSecurityGroups": self._create_nsg,
        }.get(type_)
        if creator is None:
            raise ArmError(400, "InvalidResourceType", f"cannot create {type_} here")
        finish = creator(group, name, resource, body)
        if type_ != "Microsoft.Compute/sshPublicKeys":
            props["provisioningState"] = props.get("provisioningState") or "Updating"
        self.resources[resource["id"].lower()] = resource
        return resource, finish

    def _create_key(self, group: str, name: str, resource: dict, body: dict):
        key = resource["properties"].get("publicKey") or ""
        if not re.match(r"^(ssh-rsa|ssh-ed25519|ecdsa-sha2-nistp\d+) [A-Za-z0-9+/=]+( .*)?$", key):
            raise ArmError(400, "InvalidParameter", "The value of parameter publicKey is "
                           "invalid.")

        def finish(failed=None) -> None:
            pass
        return finish

    def _create_public_ip(self, group: str, name: str, resource: dict, body: dict):
        props = resource["properties"]
        sku = (body.get("sku") or {}).get("name", "Basic")
        if sku.lower() == "basic":
            raise ArmError(400, "IPv4BasicSkuPublicIpCountLimitReached",
                           "Cannot create more than 0 IPv4 Basic SKU public IP addresses for "
                           "this subscription in this region.")
        method = props.get("publicIPAllocationMethod", "Dynamic")
        if method.lower() != "static":
            raise ArmError(400, "StandardSkuPublicIPAddressesMustBeStatic",
                           f"Standard sku publicIp {resource['id']} must have AllocationMethod "
                           "set to Static.")
        resource["sku"] = {"name": "Standard", "tier": "Regional"}
        props.update(publicIPAddressVersion="IPv4", idleTimeoutInMinutes=4,
                     resourceGuid=str(uuid.uuid4()))

        def finish(failed=None) -> None:
            props["ipAddress"] = self._public_address()
            props["provisioningState"] = "Succeeded"
        return finish

    def _public_address(self) -> str:
        n = self._next_public
        self._next_public += 1
        return f"127.0.{n // 250}.{n % 250 + 2}"  # 127.0.0.2, 127.0.0.3, ...

    def _create_vnet(self, group: str, name: str, resource: dict, body: dict):
        props = resource["properties"]
        if not (props.get("addressSpace") or {}).get("addressPrefixes"):
            raise ArmError(400, "InvalidRequestFormat", "addressSpace is required.")
        subnets = []
        for subnet in props.get("subnets") or []:
            if not (subnet.get("properties") or {}).get("addressPrefix"):
                raise ArmError(400, "InvalidRequestFormat",
                               f"Subnet {subnet.get('name')} has no addressPrefix.")
            subnets.append({"name": subnet["name"], "id": f"{resource['id']}/subnets/{subnet['name']}",
                            "properties": {**subnet["properties"], "provisioningState": "Succeeded"}})
        props["subnets"] = subnets

        def finish(failed=None) -> None:
            props["provisioningState"] = "Succeeded"
        return finish

    def _find_subnet(self, subnet_id: str) -> dict | None:
        vnet_id, _, subnet_name = subnet_id.rpartition("/subnets/")
        vnet = self.resources.get(vnet_id.lower())
        if vnet is None:
            return None
        return next((s for s in vnet["properties"]["subnets"]
                     if s["name"].lower() == subnet_name.lower()), None)

    def _create_nic(self, group: str, name: str, resource: dict, body: dict):
        props = resource["properties"]
        configs = props.get("ipConfigurations") or []
        if not configs:
            raise ArmError(400, "InvalidRequestFormat", "A network interface needs at least "
                           "one IP configuration.")
        claimed = []
        for i, config in enumerate(configs):
            cprops = config.setdefault("properties", {})
            config["id"] = f"{resource['id']}/ipConfigurations/{config.get('name', f'ipconfig{i + 1}')}"
            subnet_ref = (cprops.get("subnet") or {}).get("id", "")
            subnet = self._find_subnet(subnet_ref)
            if subnet is None:
                raise ArmError(400, "InvalidResourceReference",
                               f"Resource {subnet_ref} referenced by resource {resource['id']} "
                               "was not found. Please make sure that the referenced resource "
                               "exists, and that both resources are in the same region.")
            ip_ref = (cprops.get("publicIPAddress") or {}).get("id")
            if ip_ref:
                ip = self.resources.get(ip_ref.lower())
                if ip is None:
                    raise ArmError(400, "InvalidResourceReference",
                                   f"Resource {ip_ref} referenced by resource {resource['id']} "
                                   "was not found.")
                if ip["properties"].get("ipConfiguration"):
                    raise ArmError(400, "PublicIPAddressInUse",
                                   f"Resource {ip_ref} is already in use by "
                                   f"{ip['properties']['ipConfiguration']['id']}.")
                claimed.append((ip, config["id"]))
            cprops["privateIPAddress"] = self._private_address(subnet)
            cprops.setdefault("privateIPAllocationMethod", "Dynamic")
            cprops.setdefault("primary", i == 0)
            subnet["properties"].setdefault("ipConfigurations", []).append({"id": config["id"]})
        nsg_ref = (props.get("networkSecurityGroup") or {}).get("id")
        nsg = None
        if nsg_ref:
            nsg = self.resources.get(nsg_ref.lower())
            if nsg is None:
                raise ArmError(400, "InvalidResourceReference",
                               f"Resource {nsg_ref} referenced by resource {resource['id']} was "
                               "not found.")
            nsg["properties"].setdefault("networkInterfaces", []).append({"id": resource["id"]})
        for ip, config_id in claimed:
            ip["properties"]["ipConfiguration"] = {"id": config_id}
        props["macAddress"] = "00-0D-3A-%02X-%02X-%02X" % tuple(uuid.uuid4().bytes[:3])
        props.setdefault("enableAcceleratedNetworking", False)

        def finish(failed=None) -> None:
            props["provisioningState"] = "Succeeded"
        return finish

    def _private_address(self, subnet: dict) -> str:
        prefix = subnet["properties"]["addressPrefix"]
        network = prefix.split("/")[0].rsplit(".", 1)[0]
        n = self._private.get(prefix, 4)  # Azure reserves .0 to .3
        self._private[prefix] = n + 1
        return f"{network}.{n}"

    def _create_nsg(self, group: str, name: str, resource: dict, body: dict):
        props = resource["properties"]
        rules = props.get("securityRules") or []
        self._check_rules(rules)
        props["securityRules"] = [self._rule(resource["id"], r) for r in rules]
        props["defaultSecurityRules"] = [
            self._rule(resource["id"], {"name": n, "properties": {
                "protocol": "*", "sourcePortRange": "*", "destinationPortRange": "*",
                "sourceAddressPrefix": src, "destinationAddressPrefix": dst, "access": access,
                "priority": priority, "direction": direction}}, "defaultSecurityRules")
            for n, src, dst, access, priority, direction in (
                ("AllowVnetInBound", "VirtualNetwork", "VirtualNetwork", "Allow", 65000, "Inbound"),
                ("AllowAzureLoadBalancerInBound", "AzureLoadBalancer", "*", "Allow", 65001, "Inbound"),
                ("DenyAllInBound", "*", "*", "Deny", 65500, "Inbound"),
                ("AllowVnetOutBound", "VirtualNetwork", "VirtualNetwork", "Allow", 65000, "Outbound"),
                ("AllowInternetOutBound", "*", "Internet", "Allow", 65001, "Outbound"),
                ("DenyAllOutBound", "*", "*", "Deny", 65500, "Outbound"))]
        props["resourceGuid"] = str(uuid.uuid4())

        def finish(failed=None) -> None:
            props["provisioningState"] = "Succeeded"
        return finish

    @staticmethod
    def _check_rules(rules: list[dict]) -> None:
        seen: dict[tuple, str] = {}
        for rule in rules:
            p = rule.get("properties") or {}
            priority = p.get("priority")
            if not isinstance(priority, int) or not 100 <= priority <= 4096:
                raise ArmError(400, "SecurityRuleInvalidPriority",
                               f"Security rule {rule.get('name')} has invalid Priority "
                               f"{priority}. Value provided: {priority} Allowed range 100-4096.")
            if p.get("direction") not in ("Inbound", "Outbound"):
                raise ArmError(400, "SecurityRuleInvalidDirection",
                               f"Security rule {rule.get('name')} has invalid Direction.")
            if p.get("protocol") not in ("Tcp", "Udp", "Icmp", "Esp", "Ah", "*"):
                raise ArmError(400, "SecurityRuleInvalidProtocol",
                               f"Security rule {rule.get('name')} has invalid Protocol.")
            key = (priority, p["direction"])
            if key in seen:
                raise ArmError(400, "SecurityRuleConflict",
                               f"Security rule {rule.get('name')} conflicts with rule "
                               f"{seen[key]}. Rules cannot have the same Priority and Direction.")
            seen[key] = rule.get("name")

    @staticmethod
    def _rule(nsg_id: str, rule: dict, kind: str = "securityRules") -> dict:
        return {"name": rule["name"], "id": f"{nsg_id}/{kind}/{rule['name']}",
                "type": f"Microsoft.Network/networkSecurityGroups/{kind}",
                "properties": {**rule.get("properties", {}), "provisioningState": "Succeeded"}}

    def _create_vm(self, group: str, name: str, resource: dict, body: dict):
        props = resource["properties"]
        if not re.fullmatch(r"[^_\\/\"\[\]:|<>+=;,?*@&~!#$%^(){}' .]"
                            r"[^_\\/\"\[\]:|<>+=;,?*@&~!#$%^(){}' ]{0,63}", name) \
                or name.endswith((".", "-")):
            raise ArmError(400, "InvalidParameter",
                           f"The value '{name}' of parameter 'vmName' is invalid: virtual "
                           "machine names must be 1-64 characters, no underscores or "
                           "special characters, and must not end with '.' or '-'.")
        size = (props.get("hardwareProfile") or {}).get("vmSize")
        if size not in {s["name"] for s in self.sizes}:
            raise ArmError(409, "SkuNotAvailable",
                           f"The requested VM size '{size}' is currently not available in "
                           f"location '{resource['location']}'.")
        storage = props.get("storageProfile") or {}
        ref = storage.get("imageReference") or {}
        versions = _ci_get(_ci_get(_ci_get(self.images, ref.get("publisher", "")) or {},
                                   ref.get("offer", "")) or {}, ref.get("sku", ""))
        if not versions or (ref.get("version") != "latest" and ref.get("version") not in versions):
            raise ArmError(404, "PlatformImageNotFound",
                           f"The platform image '{ref.get('publisher')}:{ref.get('offer')}:"
                           f"{ref.get('sku')}:{ref.get('version')}' is not available. Verify "
                           "that all fields in the storage profile are correct.")
        if ref.get("version") == "latest":
            ref["exactVersion"] = max(versions, key=_version_key)
        else:
            ref["exactVersion"] = ref["version"]
        os_profile = props.get("osProfile") or {}
        user = os_profile.get("adminUsername") or ""
        if not user:
            raise ArmError(400, "InvalidParameter", "Required parameter 'adminUsername' is "
                           "missing (null).")
        if user.lower() in self.reserved_usernames or not re.fullmatch(
                r"[a-z_][a-z0-9_.-]{0,63}", user, re.IGNORECASE):
            raise ArmError(400, "InvalidParameter", "The Admin Username specified is not "
                           "allowed.")
        linux = os_profile.get("linuxConfiguration") or {}
        keys = (linux.get("ssh") or {}).get("publicKeys") or []
        if linux.get("disablePasswordAuthentication") and not keys:
            raise ArmError(400, "InvalidParameter", "Authentication using either SSH or by "
                           "user name and password must be enabled in Linux profile.")
        if not linux.get("disablePasswordAuthentication") and not os_profile.get("adminPassword"):
            raise ArmError(400, "InvalidParameter", "Required parameter 'adminPassword' is "
                           "missing (null).")
        for key in keys:
            if key.get("path") != f"/home/{user}/.ssh/authorized_keys":
                raise ArmError(400, "InvalidParameter",
                               "Destination path for SSH public keys is currently limited to "
                               f"its default value /home/{user}/.ssh/authorized_keys due to a "
                               "known issue in Linux provisioning agent.")
            if not re.match(r"^(ssh-rsa|ssh-ed25519|ecdsa-sha2-nistp\d+) ", key.get("keyData", "")):
                raise ArmError(400, "InvalidParameter", "The value of parameter "
                               "linuxConfiguration.ssh.publicKeys.keyData is invalid.")
        os_profile.pop("adminPassword", None)  # never shown back, as ARM does
        nics = (props.get("networkProfile") or {}).get("networkInterfaces") or []
        if not nics:
            raise ArmError(400, "InvalidParameter", "Required parameter "
                           "'networkProfile.networkInterfaces' is missing.")
        for ref_nic in nics:
            nic = self.resources.get(ref_nic.get("id", "").lower())
            if nic is None:
                raise ArmError(400, "InvalidResourceReference", f"Resource {ref_nic.get('id')} "
                               f"referenced by resource {resource['id']} was not found.")
            if nic["properties"].get("virtualMachine"):
                raise ArmError(400, "NicInUse", f"Network Interface {nic['id']} is used by "
                               f"existing resource {nic['properties']['virtualMachine']['id']}. "
                               "In order to delete the network interface, it must be "
                               "dissociated from the resource.")
        for ref_nic in nics:
            self.resources[ref_nic["id"].lower()]["properties"]["virtualMachine"] = {
                "id": resource["id"]}
        os_disk = storage.setdefault("osDisk", {})
        disk_name = os_disk.get("name") or f"{name}_OsDisk_1_{uuid.uuid4().hex}"
        os_disk.update(name=disk_name, osType="Linux", caching=os_disk.get("caching", "ReadWrite"))
        disk_id = self.rid(group, "Microsoft.Compute/disks", disk_name)
        os_disk.setdefault("managedDisk", {}).update(id=disk_id)
        os_disk["managedDisk"].setdefault("storageAccountType", "Premium_LRS")
        os_disk.setdefault("deleteOption", "Detach")
        self.resources[disk_id.lower()] = {
            "id": disk_id, "name": disk_name, "type": "Microsoft.Compute/disks",
            "location": resource["location"], "managedBy": resource["id"],
            "sku": {"name": os_disk["managedDisk"]["storageAccountType"]},
            "tags": {}, "properties": {
                "osType": "Linux", "diskSizeGB": os_disk.get("diskSizeGB") or 30,
                "diskState": "Attached", "provisioningState": "Succeeded",
                "timeCreated": now_iso(),
                "creationData": {"createOption": "FromImage"}}}
        props.update(vmId=str(uuid.uuid4()), timeCreated=now_iso(),
                     provisioningState="Creating")
        resource["_state"] = {"power": "starting", "changed": now_iso()}

        def finish(failed=None) -> None:
            resource["_state"]["changed"] = now_iso()
            if failed:
                props["provisioningState"] = "Failed"
                resource["_state"].update(error=failed, power="running")
            else:
                props["provisioningState"] = "Succeeded"
                resource["_state"]["power"] = "running"
        return finish

    # ---- VM actions and deletes ----------------------------------------------------
    def _vm_action(self, vm: dict, action: str, base: str) -> tuple[int, dict, Any]:
        state, props = vm["_state"], vm["properties"]
        if props["provisioningState"] in ("Creating", "Deleting"):
            raise ArmError(409, "OperationNotAllowed",
                           f"Operation '{action}' is not allowed on VM '{vm['name']}' since the "
                           f"VM is {props['provisioningState'].lower()}.")
        if action == "restart" and state["power"] in ("deallocated", "deallocating"):
            raise ArmError(409, "OperationNotAllowed",
                           f"Operation 'Restart' is not allowed on VM '{vm['name']}' since the "
                           "VM is deallocated. Start the VM first.")
        transitional, final = {"start": ("starting", "running"),
                               "deallocate": ("deallocating", "deallocated"),
                               "poweroff": ("stopping", "stopped"),
                               "restart": ("starting", "running")}[action]
        state["power"] = transitional
        props["provisioningState"] = "Updating"
        if action == "restart":
            self.reboots[vm["name"].lower()] = self.reboots.get(vm["name"].lower(), 0) + 1

        def finish(failed=None) -> None:
            state["power"] = final
            props["provisioningState"] = "Succeeded"
        headers = self._begin("Microsoft.Compute", vm["location"], "POST", finish, base)
        return 202, headers, None

    def _delete(self, resource: dict, base: str) -> tuple[int, dict, Any]:
        type_, props = resource["type"], resource["properties"]
        if resource["name"] in self.refuse_delete:
            raise ArmError(*self.refuse_delete[resource["name"]])
        if type_ == "Microsoft.Network/networkInterfaces" and props.get("virtualMachine"):
            raise ArmError(400, "NicInUse",
                           f"Network Interface {resource['id']} is used by existing resource "
                           f"{props['virtualMachine']['id']}. In order to delete the network "
                           "interface, it must be dissociated from the resource. To learn "
                           "more, see aka.ms/deletenic.")
        if type_ == "Microsoft.Network/publicIPAddresses" and props.get("ipConfiguration"):
            raise ArmError(400, "PublicIPAddressCannotBeDeleted",
                           f"Public IP address {resource['id']} can not be deleted since it is "
                           f"still allocated to resource {props['ipConfiguration']['id']}. In "
                           "order to delete the public IP, disassociate/detach the Public IP "
                           "address from the resource.  To learn how to do this, see "
                           "aka.ms/deletepublicip.")
        if type_ == "Microsoft.Compute/disks" and resource.get("managedBy"):
            raise ArmError(409, "OperationNotAllowed",
                           f"Disk {resource['name']} is attached to VM {resource['managedBy']}.")
        if type_ == "Microsoft.Network/networkSecurityGroups" and props.get("networkInterfaces"):
            raise ArmError(400, "InUseNetworkSecurityGroupCannotBeDeleted",
                           f"Network security group {resource['id']} cannot be deleted because "
                           f"it is in use by the following resources: "
                           f"{', '.join(n['id'] for n in props['networkInterfaces'])}.")
        if type_ == "Microsoft.Network/virtualNetworks" and any(
                s["properties"].get("ipConfigurations") for s in props["subnets"]):
            raise ArmError(400, "InUseSubnetCannotBeDeleted",
                           f"Subnet of {resource['id']} is in use and cannot be deleted.")
        if type_ == "Microsoft.Compute/sshPublicKeys":
            del self.resources[resource["id"].lower()]
            return 200, {}, None
        if type_ == "Microsoft.Compute/virtualMachines":
            if props["provisioningState"] == "Deleting":
                pass  # a repeated DELETE joins the running one
            props["provisioningState"] = "Deleting"
            resource["_state"]["power"] = "stopping"
        else:
            props["provisioningState"] = "Deleting"

        def finish(failed=None) -> None:
            self._remove(resource)
        namespace = type_.split("/")[0]
        headers = self._begin(namespace, resource["location"], "DELETE", finish, base)
        return 202, headers, None

    def _remove(self, resource: dict) -> None:
        """A delete's end: the resource goes, and references to it are dropped."""
        if self.resources.pop(resource["id"].lower(), None) is None:
            return
        type_, props = resource["type"], resource["properties"]
        if type_ == "Microsoft.Compute/virtualMachines":
            os_disk = props["storageProfile"]["osDisk"]
            disk = self.resources.get(os_disk["managedDisk"]["id"].lower())
            if disk:
                disk["managedBy"] = None
                disk["properties"]["diskState"] = "Unattached"
                if os_disk.get("deleteOption") == "Delete":
                    self.resources.pop(disk["id"].lower(), None)
            for ref in props["networkProfile"]["networkInterfaces"]:
                nic = self.resources.get(ref["id"].lower())
                if nic:
                    nic["properties"].pop("virtualMachine", None)
                    if (ref.get("properties") or {}).get("deleteOption") == "Delete":
                        self._remove(nic)
        elif type_ == "Microsoft.Network/networkInterfaces":
            for config in props["ipConfigurations"]:
                cprops = config["properties"]
                ip_ref = (cprops.get("publicIPAddress") or {}).get("id")
                ip = self.resources.get(ip_ref.lower()) if ip_ref else None
                if ip:
                    ip["properties"].pop("ipConfiguration", None)
                subnet = self._find_subnet((cprops.get("subnet") or {}).get("id", ""))
                if subnet:
                    subnet["properties"]["ipConfigurations"] = [
                        c for c in subnet["properties"].get("ipConfigurations", [])
                        if c["id"] != config["id"]]
            nsg_ref = (props.get("networkSecurityGroup") or {}).get("id")
            nsg = self.resources.get(nsg_ref.lower()) if nsg_ref else None
            if nsg:
                nsg["properties"]["networkInterfaces"] = [
                    n for n in nsg["properties"].get("networkInterfaces", [])
                    if n["id"].lower() != resource["id"].lower()]


def _image_properties(sku: str) -> dict:
    return {"osDiskImage": {"operatingSystem": "Linux", "sizeInGb": 30},
            "hyperVGeneration": "V2",
            "architecture": "Arm64" if "arm64" in sku.lower() else "x64",
            "imageDeprecationStatus": {"imageState": "Active"}}


def _scale_set_filter(items: list[dict], query: dict) -> list[dict]:
    """The VMs a $filter "'virtualMachineScaleSet/id' eq '<id>'" keeps (the only $filter
    VirtualMachines_List and _ListAll document; spec.py refuses any other)."""
    wanted = query.get("$filter")
    if not wanted:
        return items
    scale_set = wanted.split(" eq ", 1)[-1].strip().strip("'").lower()
    return [r for r in items if str(((r.get("properties") or {}).get(
        "virtualMachineScaleSet") or {}).get("id", "")).lower() == scale_set]


def _ci_get(mapping: dict | None, key: str) -> Any:
    """A case-insensitive dict lookup (ARM names are case-insensitive)."""
    if not mapping:
        return None
    for k, v in mapping.items():
        if k.lower() == key.lower():
            return v
    return None


def _group_of(resource_id: str) -> str:
    parts = resource_id.split("/")
    return parts[4] if len(parts) > 4 else ""


def main(argv: list[str] | None = None) -> None:
    """Run the fake as a process (for make bench): print one JSON line with its url,
    token and subscription, then serve until killed."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--seed", type=int, default=0, help="VMs to create at start")
    parser.add_argument("--group", default="rg-bench")
    parser.add_argument("--location", default="eastus")
    parser.add_argument("--page-size", type=int, default=50)
    parser.add_argument("--op-seconds", type=float, default=0.2)
    parser.add_argument("--retry-after", default="1")
    args = parser.parse_args(argv)
    fake = AzureFake(op_seconds=args.op_seconds, retry_after=args.retry_after,
                     page_size=args.page_size)
    if args.seed:
        fake.seed_vms(args.group, args.seed, location=args.location)
    fake.start()
    print(json.dumps({"url": fake.url, "token": fake.token, "subscription": fake.subscription,
                      "resource_group": args.group, "location": args.location}), flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()
        sys.exit(0)


if __name__ == "__main__":
    main()

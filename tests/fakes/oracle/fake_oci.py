"""A stateful fake of OCI Core Services (API version 20160918) on 127.0.0.1.

Follows oracle/oci-python-sdk 2.189 (the `oci` package installed here):
src/oci/core/compute_client.py, virtual_network_client.py (paths, query parameters,
headers), src/oci/core/models/*.py (JSON names: Instance, LaunchInstanceDetails,
InstanceSourceViaImageDetails, CreateVnicDetails, Image, Shape, VnicAttachment, Vnic, Vcn,
Subnet, NetworkSecurityGroup, SecurityRule, AddSecurityRuleDetails, UpdateInstanceDetails),
src/oci/identity/identity_client.py (ListAvailabilityDomains, ListRegionSubscriptions) and
src/oci/work_requests/ (WorkRequest, WorkRequestError), with Oracle's API reference for
the semantics:

- every request must carry an OCI HTTP signature (``Authorization: Signature
  version="1",keyId="TENANCY/USER/FINGERPRINT",algorithm="rsa-sha256",headers="date
  (request-target) host ...",signature="..."``, plus x-content-sha256, content-type and
  content-length for bodies). The signature itself is not verified (the fault proxy
  rewrites Host); the body hash is. A fingerprint not in ``api_keys`` (when that is set)
  answers 401 NotAuthenticated, as OCI does for a wrong key.
- lists are bare JSON arrays paged by ``limit``/``page`` and the ``opc-next-page`` header;
- errors are ``{"code", "message"}`` with OCI's codes (NotAuthorizedOrNotFound 404,
  InvalidParameter 400, IncorrectState 409, NotAuthenticated 401, ...);
- LaunchInstance answers PROVISIONING with an ``opc-work-request-id``; the instance runs
  after ``delay`` seconds (its VNIC attachment has no vnicId until then); a launch the
  fake was told to fail ends TERMINATED with a FAILED work request carrying the error;
- ``opc-retry-token`` makes a repeated launch answer the first instance;
- TerminateInstance deletes the boot volume unless ``preserveBootVolume=true``;
  TERMINATED instances stay listed.
- VNICs get private 10.0.0.N and, with assignPublicIp, public 127.0.0.N (N from 2 up),
  so tests can run an sshd on the VM's address.
"""

from __future__ import annotations

import base64
import hashlib
import heapq
import itertools
import json
import re
import threading
import time
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, unquote, urlsplit

from fakes.oracle import spec

BASE = "/20160918"
TENANCY = "ocid1.tenancy.oc1..aaaaaaaafaketenancy"
REGION = "us-phoenix-1"
ADS = ("Uocm:PHX-AD-1", "Uocm:PHX-AD-2", "Uocm:PHX-AD-3")

_AUTH_RE = re.compile(r'(\w+)="([^"]*)"')
_FINGERPRINT_RE = re.compile(r"^([0-9a-f]{2}:){15}[0-9a-f]{2}$")
_PROTOCOLS = {"all", "1", "6", "17", "58"}

IMAGES = (
    # display name, OS, version, created
    ("Oracle-Linux-9.4-2024.09.30-0", "Oracle Linux", "9", "2024-09-30T10:00:00.000Z", "x86_64"),
    ("Oracle-Linux-8.10-2024.09.30-0", "Oracle Linux", "8", "2024-09-30T09:00:00.000Z", "x86_64"),
    ("Canonical-Ubuntu-24.04-2024.10.09-0", "Canonical Ubuntu", "24.04",
     "2024-10-09T10:00:00.000Z", "x86_64"),
    ("Canonical-Ubuntu-24.04-aarch64-2024.10.09-0", "Canonical Ubuntu", "24.04",
     "2024-10-09T11:00:00.000Z", "aarch64"),
)
SHAPES = (
    # shape, ocpus, memory GB, flexible, processor, local disk GB
    ("VM.Standard2.1", 1.0, 15.0, False, "2.0 GHz Intel® Xeon® Platinum 8167M (Skylake)", 0),
    ("VM.Standard.E2.1.Micro", 1.0, 1.0, False, "2.0 GHz AMD EPYC™ 7551 (Naples)", 0),
    ("VM.Standard.E4.Flex", 1.0, 16.0, True, "2.55 GHz AMD EPYC™ 7J13 (Milan)", 0),
    ("VM.Standard.A1.Flex", 1.0, 6.0, True, "3.0 GHz Ampere® Altra™", 0),
    ("VM.DenseIO2.8", 8.0, 120.0, False, "2.0 GHz Intel® Xeon® Platinum 8167M (Skylake)",
     6400),
)


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class OciError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _not_found(what: str) -> OciError:
    return OciError(404, "NotAuthorizedOrNotFound",
                    f"Authorization failed or requested resource not found ({what}).")


class OciFake:
    """The cloud's state and its HTTP front. ``delay`` is how long a state change takes
    (PROVISIONING, STOPPING, ...); ``page_size`` the default and largest page."""

    def __init__(self, delay: float = 0.2, page_size: int = 100) -> None:
        self.delay = delay
        self.page_size = page_size
        self.lock = threading.RLock()
        #: fingerprints the fake accepts; empty: any well-formed one
        self.api_keys: set[str] = set()
        #: shape -> (code, message): launches of that shape end TERMINATED with this error
        self.launch_failures: dict[str, tuple[str, str]] = {}
        self.compartments = {TENANCY}
        #: the tenancy's region subscriptions (ListRegionSubscriptions): name -> (key,
        #: status); the first one is the home region
        self.region_subscriptions: dict[str, tuple[str, str]] = {REGION: ("PHX", "READY")}
        self.instances: dict[str, dict] = {}
        self.attachments: dict[str, dict] = {}
        self.vnics: dict[str, dict] = {}
        self.boot_volumes: dict[str, dict] = {}
        self.work_requests: dict[str, dict] = {}
        self.work_request_errors: dict[str, list[dict]] = {}
        self.nsgs: dict[str, dict] = {}
        self.rules: dict[str, list[dict]] = {}  # nsg id -> rules
        #: opc-retry-token -> (the request's digest, the first answer)
        self.retry_tokens: dict[str, tuple[str, tuple[int, Any, dict[str, str]]]] = {}
        #: instance id -> RESET/SOFTRESET actions carried out (replays not counted)
        self.reboots: dict[str, int] = {}
        #: requests outside the API description: (method, path, OCI's answer)
        self.violations: list[str] = []
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request seen
        self._events: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._host = itertools.count(0)
        self.images = {}
        for name, os_name, version, created, arch in IMAGES:
            ocid = f"ocid1.image.oc1.phx.{hashlib.sha1(name.encode()).hexdigest()[:24]}"
            self.images[ocid] = {
                "baseImageId": None, "compartmentId": None, "createImageAllowed": True,
                "definedTags": {}, "displayName": name, "freeformTags": {}, "id": ocid,
                "launchMode": "PARAVIRTUALIZED", "lifecycleState": "AVAILABLE",
                "operatingSystem": os_name, "operatingSystemVersion": version,
                "listingType": "NONE", "sizeInMBs": 47694, "billableSizeInGBs": 4,
                "timeCreated": created, "_arch": arch}
        self.shapes = {}
        for name, ocpus, memory, flexible, processor, disk in SHAPES:
            shape = {"shape": name, "processorDescription": processor, "ocpus": ocpus,
                     "memoryInGBs": memory, "isFlexible": flexible, "networkingBandwidthInGbps":
                     1.0, "maxVnicAttachments": 2, "gpus": 0, "localDisks": 1 if disk else 0,
                     "localDisksTotalSizeInGBs": float(disk) if disk else None,
                     "isLiveMigrationSupported": True, "billingType": "PAID",
                     "quotaNames": [], "isSubcore": False}
            if flexible:
                shape["ocpuOptions"] = {"min": 1.0, "max": 64.0 if "A1" not in name else 80.0}
                shape["memoryOptions"] = {"minInGBs": 1.0, "maxInGBs": 1024.0,
                                          "defaultPerOcpuInGBs": memory,
                                          "minPerOcpuInGBs": 1.0, "maxPerOcpuInGBs": 64.0}
            self.shapes[name] = shape
        self.vcns: dict[str, dict] = {}
        self.subnets: dict[str, dict] = {}
        vcn = self.add_vcn("vcn1", "10.0.0.0/16")
        self.add_subnet(vcn, "public-subnet", "10.0.0.0/24")

    # ---- set-up and inspection used by tests ---------------------------------------
    def add_vcn(self, name: str, cidr: str, compartment: str = TENANCY) -> str:
        ocid = self._ocid("vcn")
        self.vcns[ocid] = {"cidrBlock": cidr, "cidrBlocks": [cidr], "compartmentId": compartment,
                           "displayName": name, "dnsLabel": name.replace("-", "")[:15],
                           "freeformTags": {}, "definedTags": {}, "id": ocid,
                           "lifecycleState": "AVAILABLE", "timeCreated": now_iso()}
        return ocid

    def add_subnet(self, vcn: str, name: str, cidr: str, public: bool = True,
                   compartment: str = TENANCY) -> str:
        ocid = self._ocid("subnet")
        self.subnets[ocid] = {"availabilityDomain": None, "cidrBlock": cidr,
                              "ipv4CidrBlocks": [cidr], "compartmentId": compartment,
                              "displayName": name, "freeformTags": {}, "definedTags": {},
                              "id": ocid, "lifecycleState": "AVAILABLE",
                              "prohibitInternetIngress": not public,
                              "prohibitPublicIpOnVnic": not public, "securityListIds": [],
                              "timeCreated": now_iso(), "vcnId": vcn,
                              "virtualRouterIp": cidr.rsplit(".", 1)[0] + ".1"}
        return ocid

    def seed_instances(self, names: list[str], image: str = IMAGES[0][0],
                       shape: str = "VM.Standard.E2.1.Micro", running: bool = True) -> list[str]:
        """Instances already RUNNING with their VNICs (for paging tests and benchmarks),
        or (``running=False``) still PROVISIONING for ``delay`` seconds, launched through
        the same code as LaunchInstance."""
        subnet = next(iter(self.subnets))
        with self.lock:
            delay, self.delay = self.delay, 0.0 if running else self.delay
            try:
                ids = [self._launch({"compartmentId": TENANCY, "availabilityDomain": ADS[0],
                                     "shape": shape, "displayName": name,
                                     "sourceDetails": {"sourceType": "image",
                                                       "imageId": self.image_id(image)},
                                     "createVnicDetails": {"subnetId": subnet,
                                                           "assignPublicIp": True}},
                                    {})[1]["id"] for name in names]
                self._run_events()
            finally:
                self.delay = delay
        return ids

    def image_id(self, display_name: str) -> str:
        return next(i for i, image in self.images.items() if image["displayName"] == display_name)

    def instance_named(self, name: str) -> dict:
        """The newest instance with this display name (terminated ones too)."""
        with self.lock:
            self._run_events()
            found = [i for i in self.instances.values() if i["displayName"] == name]
            return max(found, key=lambda i: i["_seq"])

    # ---- helpers -------------------------------------------------------------------
    @staticmethod
    def _ocid(kind: str) -> str:
        return f"ocid1.{kind}.oc1.phx.{uuid.uuid4().hex}{uuid.uuid4().hex[:12]}"

    def _later(self, seconds: float, action: Callable[[], None]) -> None:
        heapq.heappush(self._events, (time.monotonic() + seconds, next(self._seq), action))

    def _run_events(self) -> None:
        """Apply every state change whose time has come (state moves as time passes,
        whenever someone looks)."""
        now = time.monotonic()
        while self._events and self._events[0][0] <= now:
            _, _, action = heapq.heappop(self._events)
            action()

    def _work_request(self, operation: str, compartment: str, resource: str) -> str:
        ocid = self._ocid("coreservicesworkrequest")
        self.work_requests[ocid] = {
            "operationType": operation, "status": "ACCEPTED", "id": ocid,
            "compartmentId": compartment, "percentComplete": 0.0,
            "resources": [{"actionType": "IN_PROGRESS", "entityType": "instance",
                           "identifier": resource, "entityUri": f"{BASE}/instances/{resource}"}],
            "timeAccepted": now_iso(), "timeStarted": None, "timeFinished": None}
        self.work_request_errors[ocid] = []
        return ocid

    def _finish_work_request(self, ocid: str, ok: bool, action: str,
                             error: tuple[str, str] | None = None) -> None:
        request = self.work_requests[ocid]
        request.update(status="SUCCEEDED" if ok else "FAILED", percentComplete=100.0,
                       timeStarted=request["timeStarted"] or now_iso(), timeFinished=now_iso())
        request["resources"][0]["actionType"] = action
        if error:
            self.work_request_errors[ocid].append(
                {"code": error[0], "message": error[1], "timestamp": now_iso()})

    @staticmethod
    def _public(record: dict) -> dict:
        return {k: v for k, v in record.items() if not k.startswith("_")}

    def _page(self, items: list[dict], query: dict[str, str]) -> tuple[list[dict], str | None]:
        try:
            limit = int(query.get("limit") or self.page_size)
            start = int(query["page"].split("-", 1)[1]) if query.get("page") else 0
        except (ValueError, IndexError):
            raise OciError(400, "InvalidParameter", "Invalid page or limit") from None
        if limit < 1:
            raise OciError(400, "InvalidParameter", "limit must be at least 1")
        limit = min(limit, self.page_size)
        chunk = items[start:start + limit]
        more = start + limit < len(items)
        return [self._public(i) for i in chunk], (f"page-{start + limit}" if more else None)

    def _compartment(self, query: dict[str, str], required: bool = True) -> str | None:
        compartment = query.get("compartmentId")
        if not compartment:
            if required:
                raise OciError(400, "MissingParameter", "Missing compartmentId")
            return None
        if compartment not in self.compartments:
            raise _not_found(f"compartment {compartment}")
        return compartment

    @staticmethod
    def _get(table: dict[str, dict], ocid: str, what: str) -> dict:
        record = table.get(ocid)
        if record is None:
            raise _not_found(f"{what} {ocid}")
        return record

    # ---- the API -------------------------------------------------------------------
    def handle(self, method: str, path: str, query: dict[str, str], body: Any,
               headers: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        with self.lock:
            self.requests.append((method, path))
            self._run_events()
            if not path.startswith(BASE + "/"):
                raise _not_found(f"API {path}")
            parts = [unquote(p) for p in path[len(BASE) + 1:].split("/")]
            route = (method, parts[0], len(parts))
            if parts[0] == "instances":
                return self._instances(method, parts, query, body, headers)
            if parts[0] == "vnicAttachments" and route[1:] == ("vnicAttachments", 1):
                return self._list_attachments(query)
            if route == ("GET", "vnics", 2):
                return 200, self._public(self._get(self.vnics, parts[1], "vnic")), {}
            if parts[0] == "images":
                return self._images(method, parts, query)
            if route == ("GET", "shapes", 1):
                self._compartment(query)
                page, token = self._page(sorted(self.shapes.values(),
                                                key=lambda s: s["shape"]), query)
                return 200, page, {"opc-next-page": token} if token else {}
            if route == ("GET", "availabilityDomains", 1):
                compartment = self._compartment(query)
                return 200, [{"name": ad, "id": f"ocid1.availabilitydomain.oc1..ad{n}",
                              "compartmentId": compartment} for n, ad in enumerate(ADS, 1)], {}
            if route == ("GET", "tenancies", 3) and parts[2] == "regionSubscriptions":
                if parts[1] != TENANCY:
                    raise _not_found(f"tenancy {parts[1]}")
                return 200, [{"regionKey": key, "regionName": name, "status": status,
                              "isHomeRegion": index == 0} for index, (name, (key, status))
                             in enumerate(self.region_subscriptions.items())], {}
            if route == ("GET", "vcns", 1):
                compartment = self._compartment(query)
                return self._list(self.vcns.values(), query,
                                  lambda v: v["compartmentId"] == compartment)
            if route == ("GET", "vcns", 2):
                return 200, self._public(self._get(self.vcns, parts[1], "vcn")), {}
            if route == ("GET", "subnets", 1):
                compartment = self._compartment(query)
                vcn = query.get("vcnId")
                return self._list(self.subnets.values(), query,
                                  lambda s: s["compartmentId"] == compartment
                                  and (not vcn or s["vcnId"] == vcn))
            if route == ("GET", "subnets", 2):
                return 200, self._public(self._get(self.subnets, parts[1], "subnet")), {}
            if parts[0] == "networkSecurityGroups":
                return self._nsg(method, parts, query, body)
            if parts[0] == "workRequests" and method == "GET":
                request = self._get(self.work_requests, parts[1], "work request")
                if len(parts) == 2:
                    return 200, request, {}
                if len(parts) == 3 and parts[2] == "errors":
                    page, token = self._page(self.work_request_errors[parts[1]], query)
                    return 200, page, {"opc-next-page": token} if token else {}
            raise _not_found(f"API {method} {path}")

    def _list(self, records, query, keep) -> tuple[int, list, dict]:
        name = query.get("displayName")
        state = query.get("lifecycleState")
        chosen = [r for r in records if keep(r) and (not name or r["displayName"] == name)
                  and (not state or r["lifecycleState"] == state)]
        page, token = self._page(chosen, query)
        return 200, page, {"opc-next-page": token} if token else {}

    # instances ------------------------------------------------------------------------
    def _instances(self, method, parts, query, body, headers):
        if len(parts) == 1 and method == "GET":
            compartment = self._compartment(query)
            ad = query.get("availabilityDomain")
            records = sorted(self.instances.values(), key=lambda i: -i["_seq"])  # newest first
            return self._list(records, query, lambda i: i["compartmentId"] == compartment
                              and (not ad or i["availabilityDomain"] == ad))
        if len(parts) == 1 and method == "POST":
            return self._launch(body, headers)
        if len(parts) != 2:
            raise _not_found("API")
        instance = self._get(self.instances, parts[1], "instance")
        if method == "GET":
            return 200, self._public(instance), {"etag": instance["_etag"]}
        if method == "POST":
            return self._action(instance, query.get("action", ""))
        if method == "PUT":
            return self._update(instance, body or {})
        if method == "DELETE":
            return self._terminate(instance, query.get("preserveBootVolume") == "true")
        raise _not_found(f"API {method}")

    def _launch(self, body: Any, headers: dict[str, str]):
        if not isinstance(body, dict):
            raise OciError(400, "InvalidParameter", "Request body must be a JSON object")
        for key in ("compartmentId", "availabilityDomain", "shape"):
            if not body.get(key):
                raise OciError(400, "MissingParameter", f"Missing {key}")
        compartment = body["compartmentId"]
        if compartment not in self.compartments:
            raise _not_found(f"compartment {compartment}")
        if body["availabilityDomain"] not in ADS:
            raise OciError(400, "InvalidParameter",
                           f"Invalid availabilityDomain {body['availabilityDomain']}")
        shape = self.shapes.get(body["shape"])
        if shape is None:
            raise _not_found(f"shape {body['shape']}")
        config = body.get("shapeConfig") or {}
        if shape["isFlexible"]:
            if not config.get("ocpus"):
                raise OciError(400, "InvalidParameter",
                               f"Shape {shape['shape']} requires shapeConfig with ocpus")
            ocpus = float(config["ocpus"])
            memory = float(config.get("memoryInGBs")
                           or ocpus * shape["memoryOptions"]["defaultPerOcpuInGBs"])
            if not shape["ocpuOptions"]["min"] <= ocpus <= shape["ocpuOptions"]["max"]:
                raise OciError(400, "InvalidParameter", f"ocpus {ocpus} out of range")
        else:
            if config:
                raise OciError(400, "InvalidParameter",
                               f"Shape {shape['shape']} is not flexible: no shapeConfig")
            ocpus, memory = shape["ocpus"], shape["memoryInGBs"]
        source = body.get("sourceDetails") or {}
        image_id = source.get("imageId") or body.get("imageId")
        if not image_id:
            raise OciError(400, "MissingParameter", "Missing sourceDetails.imageId")
        image = self._get(self.images, image_id, "image")
        size = source.get("bootVolumeSizeInGBs")
        if size is not None and not 50 <= int(size) <= 32768:
            raise OciError(400, "InvalidParameter",
                           "bootVolumeSizeInGBs must be between 50 and 32768")
        arm = "A1" in shape["shape"]
        if (image["_arch"] == "aarch64") != arm:
            raise OciError(400, "InvalidParameter",
                           f"Shape {shape['shape']} is not valid for image {image_id}.")
        vnic_details = body.get("createVnicDetails") or {}
        subnet = self._get(self.subnets, vnic_details.get("subnetId") or body.get("subnetId")
                           or "missing", "subnet")
        public = vnic_details.get("assignPublicIp")
        public = (not subnet["prohibitPublicIpOnVnic"]) if public is None else bool(public)
        if public and subnet["prohibitPublicIpOnVnic"]:
            raise OciError(400, "InvalidParameter",
                           "Cannot assign a public IP to a VNIC in a private subnet")
        nsg_ids = vnic_details.get("nsgIds") or []
        for nsg in nsg_ids:
            self._get(self.nsgs, nsg, "network security group")
        metadata = body.get("metadata") or {}
        if not all(isinstance(v, str) for v in metadata.values()):
            raise OciError(400, "InvalidParameter", "metadata values must be strings")
        if "user_data" in metadata:
            try:
                base64.b64decode(metadata["user_data"], validate=True)
            except ValueError:
                raise OciError(400, "InvalidParameter",
                               "metadata.user_data must be base64 encoded") from None
        ocid = self._ocid("instance")
        host = next(self._host)
        seq = next(self._seq)
        instance = {
            "availabilityDomain": body["availabilityDomain"], "compartmentId": compartment,
            "definedTags": body.get("definedTags") or {},
            "displayName": body.get("displayName") or f"instance{time.strftime('%Y%m%d%H%M')}",
            "extendedMetadata": body.get("extendedMetadata") or {},
            "faultDomain": body.get("faultDomain") or "FAULT-DOMAIN-1",
            "freeformTags": body.get("freeformTags") or {}, "id": ocid, "imageId": image_id,
            "launchMode": "PARAVIRTUALIZED", "lifecycleState": "PROVISIONING",
            "metadata": metadata, "region": "phx", "shape": shape["shape"],
            "shapeConfig": {"ocpus": ocpus, "memoryInGBs": memory,
                            "processorDescription": shape["processorDescription"],
                            "vcpus": int(ocpus * (1 if arm else 2)),
                            "networkingBandwidthInGbps": 1.0, "maxVnicAttachments": 2,
                            "gpus": 0, "localDisks": 0},
            "sourceDetails": {"sourceType": "image", "imageId": image_id,
                              "bootVolumeSizeInGBs": source.get("bootVolumeSizeInGBs")},
            "systemTags": {}, "timeCreated": now_iso(),
            "agentConfig": {"isMonitoringDisabled": False, "isManagementDisabled": False},
            "_seq": seq, "_etag": uuid.uuid4().hex}
        self.instances[ocid] = instance
        volume = self._ocid("bootvolume")
        self.boot_volumes[volume] = {"id": volume, "instanceId": ocid, "imageId": image_id,
                                     "lifecycleState": "PROVISIONING",
                                     "sizeInGBs": source.get("bootVolumeSizeInGBs") or 47}
        instance["_boot_volume"] = volume
        attachment_id, vnic_id = self._ocid("vnicattachment"), self._ocid("vnic")
        self.attachments[attachment_id] = {
            "availabilityDomain": body["availabilityDomain"], "compartmentId": compartment,
            "displayName": None, "id": attachment_id, "instanceId": ocid,
            "lifecycleState": "ATTACHING", "nicIndex": 0, "subnetId": subnet["id"],
            "timeCreated": now_iso(), "vnicId": None, "_seq": seq}
        self.vnics[vnic_id] = {
            "availabilityDomain": body["availabilityDomain"], "compartmentId": compartment,
            "definedTags": {}, "displayName": instance["displayName"], "freeformTags": {},
            "hostnameLabel": vnic_details.get("hostnameLabel"), "id": vnic_id,
            "isPrimary": True, "lifecycleState": "PROVISIONING",
            "macAddress": f"02:00:17:00:{host // 256 % 256:02X}:{host % 256:02X}",
            "nsgIds": list(nsg_ids), "privateIp": f"10.0.{host // 250}.{host % 250 + 2}",
            "publicIp": f"127.0.{host // 250}.{host % 250 + 2}" if public else None,
            "skipSourceDestCheck": False, "subnetId": subnet["id"], "timeCreated": now_iso()}
        work_request = self._work_request("LaunchInstance", compartment, ocid)
        failure = self.launch_failures.get(shape["shape"])

        def started() -> None:
            self.work_requests[work_request]["status"] = "IN_PROGRESS"
            self.work_requests[work_request]["timeStarted"] = now_iso()

        def finished() -> None:
            if instance["lifecycleState"] != "PROVISIONING":
                return  # terminated meanwhile
            if failure:
                instance["lifecycleState"] = "TERMINATED"
                self.attachments[attachment_id]["lifecycleState"] = "DETACHED"
                self.vnics[vnic_id]["lifecycleState"] = "TERMINATED"
                self.boot_volumes.pop(volume, None)
                self._finish_work_request(work_request, False, "FAILED", failure)
                return
            instance["lifecycleState"] = "RUNNING"
            self.attachments[attachment_id].update(lifecycleState="ATTACHED", vnicId=vnic_id)
            self.vnics[vnic_id]["lifecycleState"] = "AVAILABLE"
            self.boot_volumes[volume]["lifecycleState"] = "AVAILABLE"
            self._finish_work_request(work_request, True, "CREATED")

        self._later(self.delay / 3, started)
        self._later(self.delay, finished)
        return 200, self._public(instance), {"etag": instance["_etag"],
                                             "opc-work-request-id": work_request}

    def _action(self, instance: dict, action: str):
        state = instance["lifecycleState"]
        allowed = {"START": ("STOPPED", "RUNNING"), "STOP": ("RUNNING", "STOPPED"),
                   "SOFTSTOP": ("RUNNING", "STOPPED"), "RESET": ("RUNNING",),
                   "SOFTRESET": ("RUNNING",)}
        if action not in allowed and action not in ("SENDDIAGNOSTICINTERRUPT",
                                                    "DIAGNOSTICREBOOT", "REBOOTMIGRATE"):
            raise OciError(400, "InvalidParameter", f"Invalid action {action!r}")
        if state not in allowed.get(action, ("RUNNING",)):
            raise OciError(409, "IncorrectState",
                           f"Instance {instance['id']} is {state}; cannot {action}")

        def become(new_state: str) -> Callable[[], None]:
            def change() -> None:
                if instance["lifecycleState"] not in ("TERMINATING", "TERMINATED"):
                    instance["lifecycleState"] = new_state
            return change

        if action == "START" and state == "STOPPED":
            instance["lifecycleState"] = "STARTING"
            self._later(self.delay, become("RUNNING"))
        elif action in ("STOP", "SOFTSTOP") and state == "RUNNING":
            instance["lifecycleState"] = "STOPPING"
            self._later(self.delay, become("STOPPED"))
        elif action in ("RESET", "SOFTRESET"):
            self.reboots[instance["id"]] = self.reboots.get(instance["id"], 0) + 1
            instance["lifecycleState"] = "STOPPING"
            self._later(self.delay / 2, become("STARTING"))
            self._later(self.delay, become("RUNNING"))
        instance["_etag"] = uuid.uuid4().hex
        return 200, self._public(instance), {"etag": instance["_etag"]}

    def _update(self, instance: dict, body: dict):
        if instance["lifecycleState"] in ("TERMINATING", "TERMINATED"):
            raise OciError(409, "IncorrectState", f"Instance {instance['id']} is terminated")
        for key in ("displayName", "freeformTags", "definedTags", "metadata",
                    "extendedMetadata"):
            if body.get(key) is not None:
                instance[key] = body[key]
        instance["_etag"] = uuid.uuid4().hex
        return 200, self._public(instance), {"etag": instance["_etag"]}

    def _terminate(self, instance: dict, preserve: bool):
        if instance["lifecycleState"] == "TERMINATED":
            raise _not_found(f"instance {instance['id']}")
        work_request = self._work_request("TerminateInstance", instance["compartmentId"],
                                          instance["id"])
        if instance["lifecycleState"] != "TERMINATING":
            instance["lifecycleState"] = "TERMINATING"

            def gone() -> None:
                instance["lifecycleState"] = "TERMINATED"
                for attachment in self.attachments.values():
                    if attachment["instanceId"] == instance["id"]:
                        attachment["lifecycleState"] = "DETACHED"
                        vnic = self.vnics.get(attachment["vnicId"] or "")
                        if vnic:
                            vnic["lifecycleState"] = "TERMINATED"
                volume = self.boot_volumes.get(instance["_boot_volume"])
                if volume is not None:
                    if preserve:
                        volume["lifecycleState"] = "AVAILABLE"
                        volume["instanceId"] = None
                    else:
                        del self.boot_volumes[instance["_boot_volume"]]
                self._finish_work_request(work_request, True, "DELETED")

            self._later(self.delay, gone)
        else:
            self._later(self.delay, lambda: self._finish_work_request(work_request, True,
                                                                      "DELETED"))
        return 204, None, {"opc-work-request-id": work_request}

    def _list_attachments(self, query):
        compartment = self._compartment(query)
        instance, vnic = query.get("instanceId"), query.get("vnicId")
        ad = query.get("availabilityDomain")
        records = sorted(self.attachments.values(), key=lambda a: a["_seq"])
        return self._list(records, query, lambda a: a["compartmentId"] == compartment
                          and (not instance or a["instanceId"] == instance)
                          and (not vnic or a["vnicId"] == vnic)
                          and (not ad or a["availabilityDomain"] == ad))

    # images ---------------------------------------------------------------------------
    def _images(self, method, parts, query):
        if len(parts) == 2:
            return 200, self._public(self._get(self.images, parts[1], "image")), {}
        compartment = self._compartment(query)
        os_name, version = query.get("operatingSystem"), query.get("operatingSystemVersion")
        shape = query.get("shape")
        records = sorted(self.images.values(), key=lambda i: i["timeCreated"], reverse=True)
        return self._list(records, query, lambda i: i["compartmentId"] in (None, compartment)
                          and (not os_name or i["operatingSystem"] == os_name)
                          and (not version or i["operatingSystemVersion"] == version)
                          and (not shape or (i["_arch"] == "aarch64") == ("A1" in shape)))

    # network security groups -------------------------------------------------------------
    def _nsg(self, method, parts, query, body):
        if len(parts) == 1 and method == "GET":
            compartment = self._compartment(query)
            vcn = query.get("vcnId")
            return self._list(sorted(self.nsgs.values(), key=lambda g: g["timeCreated"]), query,
                              lambda g: g["compartmentId"] == compartment
                              and (not vcn or g["vcnId"] == vcn))
        if len(parts) == 1 and method == "POST":
            body = body or {}
            if not body.get("compartmentId") or not body.get("vcnId"):
                raise OciError(400, "MissingParameter", "Missing compartmentId or vcnId")
            if body["compartmentId"] not in self.compartments:
                raise _not_found(f"compartment {body['compartmentId']}")
            self._get(self.vcns, body["vcnId"], "vcn")
            ocid = self._ocid("networksecuritygroup")
            self.nsgs[ocid] = {"compartmentId": body["compartmentId"], "definedTags": {},
                               "displayName": body.get("displayName") or ocid,
                               "freeformTags": body.get("freeformTags") or {}, "id": ocid,
                               "lifecycleState": "AVAILABLE", "timeCreated": now_iso(),
                               "vcnId": body["vcnId"]}
            self.rules[ocid] = []
            return 200, self.nsgs[ocid], {"etag": uuid.uuid4().hex}
        group = self._get(self.nsgs, parts[1], "network security group")
        if len(parts) == 2 and method == "GET":
            return 200, group, {}
        if len(parts) == 2 and method == "DELETE":
            users = [v["id"] for v in self.vnics.values() if group["id"] in v["nsgIds"]
                     and v["lifecycleState"] != "TERMINATED"]
            if users:
                raise OciError(409, "Conflict",
                               f"Network security group {group['id']} has VNICs: {users[0]}")
            del self.nsgs[group["id"]], self.rules[group["id"]]
            return 204, None, {}
        if parts[2:] == ["securityRules"] and method == "GET":
            direction = query.get("direction")
            return self._list(self.rules[group["id"]], {**query, "displayName": "",
                                                         "lifecycleState": ""},
                              lambda r: not direction or r["direction"] == direction)
        if parts[2:] == ["actions", "addSecurityRules"] and method == "POST":
            added = [self._rule(r) for r in (body or {}).get("securityRules") or []]
            self.rules[group["id"]].extend(added)
            return 200, {"securityRules": added}, {}
        if parts[2:] == ["actions", "removeSecurityRules"] and method == "POST":
            ids = set((body or {}).get("securityRuleIds") or [])
            self.rules[group["id"]] = [r for r in self.rules[group["id"]] if r["id"] not in ids]
            return 200, None, {}
        raise _not_found("API")

    @staticmethod
    def _rule(details: dict) -> dict:
        direction = details.get("direction")
        if direction not in ("INGRESS", "EGRESS"):
            raise OciError(400, "InvalidParameter", f"Invalid direction {direction!r}")
        if str(details.get("protocol")) not in _PROTOCOLS:
            raise OciError(400, "InvalidParameter",
                           f"Invalid protocol {details.get('protocol')!r}")
        peer = "source" if direction == "INGRESS" else "destination"
        if not details.get(peer):
            raise OciError(400, "MissingParameter", f"Missing {peer}")
        for options in ("tcpOptions", "udpOptions"):
            ports = (details.get(options) or {}).get("destinationPortRange")
            if ports and not 1 <= ports.get("min", 0) <= ports.get("max", 0) <= 65535:
                raise OciError(400, "InvalidParameter", f"Invalid port range {ports}")
        rule = {"description": details.get("description"), "direction": direction,
                "id": uuid.uuid4().hex[:6].upper(),
                "isStateless": bool(details.get("isStateless")),
                "isValid": True, "protocol": str(details["protocol"]),
                "timeCreated": now_iso(), "icmpOptions": details.get("icmpOptions"),
                "tcpOptions": details.get("tcpOptions"), "udpOptions": details.get("udpOptions")}
        rule[peer] = details[peer]
        rule[peer + "Type"] = details.get(peer + "Type") or "CIDR_BLOCK"
        return rule

    # ---- the HTTP front ------------------------------------------------------------
    def serve(self, method: str, path: str, query_text: str, body: Any,
              headers: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        """One request: checked against the API description, answered once per retry token
        (the same token with the same request: the first answer again; with another
        request: 409), then handled."""
        query_lists = parse_qs(query_text, keep_blank_values=True)
        try:
            operation, _ = spec.check(method, path, query_lists, headers, body)
        except spec.SpecError as error:
            with self.lock:
                self.requests.append((method, path))
                self.violations.append(f"{method} {path}?{query_text}: {error.code}: "
                                       f"{error.message}")
            raise OciError(error.status, error.code, error.message) from None
        query = {k: v[-1] for k, v in query_lists.items()}
        token = headers.get("opc-retry-token")
        with self.lock:
            if token is not None:
                digest = hashlib.sha256(json.dumps([operation, path, sorted(query.items()),
                                                    body], sort_keys=True).encode()).hexdigest()
                if token in self.retry_tokens:
                    self.requests.append((method, path))
                    seen, answer = self.retry_tokens[token]
                    if seen != digest:
                        # the API errors reference: 409 for a retry token already used
                        # by a different request
                        raise OciError(409, "InvalidatedRetryToken",
                                       "The retry token was already used for a different "
                                       "request; generate a new retry token")
                    return answer
            answer = self.handle(method, path, query, body, headers)
            if token is not None and 200 <= answer[0] < 300:
                self.retry_tokens[token] = (digest, json.loads(json.dumps(answer)))
            return answer

    def check_signature(self, method: str, headers: dict[str, str], body: bytes) -> None:
        """The Authorization header must have the shape the OCI signer makes."""
        authorization = headers.get("authorization", "")
        if not authorization.startswith("Signature "):
            raise OciError(401, "NotAuthenticated",
                           "The required information to complete authentication was not "
                           "provided.")
        fields = dict(_AUTH_RE.findall(authorization))
        signed = fields.get("headers", "").split()
        needed = ["date", "(request-target)", "host"]
        if method in ("POST", "PUT", "PATCH"):
            needed += ["x-content-sha256", "content-type", "content-length"]
        key_id = fields.get("keyId", "").split("/")
        problems = [
            fields.get("version") != "1", fields.get("algorithm") != "rsa-sha256",
            not fields.get("signature"), any(h not in signed for h in needed),
            any(h != "(request-target)" and h not in headers for h in signed),
            len(key_id) != 3 or not key_id[0].startswith("ocid1.tenancy.")
            or not key_id[1].startswith("ocid1.user.") or not _FINGERPRINT_RE.match(key_id[2])]
        if any(problems):
            raise OciError(401, "NotAuthenticated",
                           "The required information to complete authentication was not "
                           "provided or was incorrect.")
        try:
            base64.b64decode(fields["signature"], validate=True)
        except ValueError:
            raise OciError(401, "NotAuthenticated", "The signature is not base64") from None
        if "x-content-sha256" in signed:
            digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
            if headers["x-content-sha256"] != digest:
                raise OciError(401, "NotAuthenticated", "x-content-sha256 does not match body")
        if self.api_keys and key_id[2] not in self.api_keys:
            raise OciError(401, "NotAuthenticated",
                           "The required information to complete authentication was not "
                           "provided or was incorrect.")

    def start(self) -> str:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # headers and body are two writes: with Nagle's algorithm the body waits for
            # the client's delayed ACK of the headers (up to 40 ms a request)
            disable_nagle_algorithm = True

            def log_message(self, *args) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                url = urlsplit(self.path)
                headers = {k.lower(): v for k, v in self.headers.items()}
                extra: dict[str, str] = {}
                try:
                    fake.check_signature(self.command, headers, raw)
                    try:
                        body = json.loads(raw) if raw else None
                    except ValueError:
                        raise OciError(400, "CannotParseRequest", "Body is not JSON") from None
                    status, payload, extra = fake.serve(self.command, url.path, url.query,
                                                        body, headers)
                except OciError as error:
                    status, payload = error.status, {"code": error.code,
                                                     "message": error.message}
                data = b"" if payload is None else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("opc-request-id", uuid.uuid4().hex.upper())
                if data:
                    self.send_header("Content-Type", "application/json")
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        # stop() waits for the serving loop's next look at its flag: every 0.01 s
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.01}, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        return self.url

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

"""The state of the fake Compute Engine: projects, zones, instances, disks, images,
machine types, networks, firewalls, project metadata and operations.

What it follows (Compute Engine API v1):
- the discovery document ``compute.v1.json`` (googleapis/discovery-artifact-manager,
  the same document google-cloud-compute 1.57 is generated from: the paths are those of
  ``google/cloud/compute_v1/services/*/transports/rest_base.py``, the JSON field names
  those of ``google/cloud/compute_v1/types/compute.py``);
- the REST reference (cloud.google.com/compute/docs/reference/rest/v1): instances.insert,
  get, list, aggregatedList, start, stop, reset, suspend, resume, delete, setMetadata,
  setTags; zoneOperations.get/wait/list; globalOperations.get/wait; images.get, list,
  getFromFamily; machineTypes.get/list; networks.get/list; firewalls.get, list, insert,
  patch, delete; projects.get, setCommonInstanceMetadata; disks.get/list; zones.get/list.

Semantics kept from the real service:
- a mutation answers at once with an Operation (PENDING/RUNNING); the work happens later
  and the operation becomes DONE, with ``error.errors[]``, ``httpErrorStatusCode`` and
  ``httpErrorMessage`` when it failed (quota and already-existing disks fail there, not on
  the call);
- instance status moves PROVISIONING -> STAGING -> RUNNING, STOPPING -> TERMINATED,
  SUSPENDING -> SUSPENDED; a deleted instance shows STOPPING, then is gone with its
  auto-delete boot disk; operations on one instance are serialised;
- ``requestId`` (a UUID) makes a repeated mutation answer the first operation;
- metadata writes carry the current fingerprint, a stale one answers 412
  conditionNotMet;
- lists page with ``maxResults`` (at most 500) and ``pageToken``; ``aggregatedList``
  answers a map of scopes (``zones/Z``), a scope without items carries the warning
  NO_RESULTS_ON_PAGE; ``filter`` takes ``field = "value"`` / ``field eq regex`` terms;
- errors are ``{"error": {"code", "message", "errors": [{"message", "domain",
  "reason"}]}}``;
- timestamps are RFC 3339 in US Pacific time (``-08:00`` / ``-07:00``), as GCE answers;
- links use ``https://www.googleapis.com/compute/v1/`` whatever endpoint was called.

Differences on purpose (so SSH tests can reach a VM): external addresses (natIP) are
127.0.0.N, N from 2 up; internal ones (networkIP) 10.128.0.N.
"""

from __future__ import annotations

import base64
import copy
import fnmatch
import hashlib
import itertools
import json
import re
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

LINK = "https://www.googleapis.com/compute/v1/"
NAME_RE = re.compile(r"[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?")
PUBLIC_IMAGE_PROJECTS = ("ubuntu-os-cloud", "debian-cloud", "rocky-linux-cloud")
MAX_PAGE = 500

try:
    from zoneinfo import ZoneInfo

    _PACIFIC: Any = ZoneInfo("America/Los_Angeles")
except Exception:  # no tz database: GCE's winter offset
    _PACIFIC = timezone(timedelta(hours=-8))


def pacific(moment: float | None = None) -> str:
    """An RFC 3339 timestamp with US Pacific offset, milliseconds, as GCE writes them."""
    when = datetime.fromtimestamp(time.time() if moment is None else moment, tz=_PACIFIC)
    return when.isoformat(timespec="milliseconds")


class ApiError(Exception):
    """An HTTP error answered in Google's JSON error shape."""

    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message

    def body(self) -> dict:
        return {"error": {"code": self.code, "message": self.message,
                          "errors": [{"message": self.message, "domain": "global",
                                      "reason": self.reason}]}}


def not_found(path: str) -> ApiError:
    return ApiError(404, "notFound", f"The resource '{path}' was not found")


def invalid(field: str, value: Any, why: str) -> ApiError:
    return ApiError(400, "invalid", f"Invalid value for field '{field}': '{value}'. {why}")


class OperationFailure(Exception):
    """Raised inside an operation's work: the operation ends DONE with this error."""

    def __init__(self, code: str, message: str, http: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.http = code, message, http


_HTTP_WORDS = {400: "BAD REQUEST", 403: "FORBIDDEN", 404: "NOT FOUND", 409: "CONFLICT",
               412: "PRECONDITION FAILED", 429: "TOO MANY REQUESTS",
               503: "SERVICE UNAVAILABLE"}


def _fingerprint(value: Any) -> str:
    digest = hashlib.sha256(json.dumps(value, sort_keys=True).encode()).digest()[:8]
    return base64.b64encode(digest).decode()


def _seed_images() -> dict[str, list[dict]]:
    """A few images per public project, in families; older ones deprecated, as the real
    projects keep them."""
    table = {
        "ubuntu-os-cloud": [
            ("ubuntu-2404-noble-amd64-v20251001", "ubuntu-2404-lts-amd64", "X86_64", 10),
            ("ubuntu-2404-noble-amd64-v20251101", "ubuntu-2404-lts-amd64", "X86_64", 10),
            ("ubuntu-2404-noble-arm64-v20251101", "ubuntu-2404-lts-arm64", "ARM64", 10),
            ("ubuntu-2204-jammy-v20251015", "ubuntu-2204-lts", "X86_64", 10),
        ],
        "debian-cloud": [
            ("debian-12-bookworm-v20251014", "debian-12", "X86_64", 10),
            ("debian-12-bookworm-v20251111", "debian-12", "X86_64", 10),
            ("debian-11-bullseye-v20251111", "debian-11", "X86_64", 10),
        ],
        "rocky-linux-cloud": [
            ("rocky-linux-9-v20251105", "rocky-linux-9", "X86_64", 20),
            ("rocky-linux-8-v20251105", "rocky-linux-8", "X86_64", 20),
        ],
    }
    images: dict[str, list[dict]] = {}
    serial = itertools.count(5_000_000_000_000_000_001)
    for project, rows in table.items():
        images[project] = []
        for name, family, arch, size in rows:
            stamp = re.search(r"v(\d{8})$", name).group(1)
            created = datetime.strptime(stamp, "%Y%m%d").replace(tzinfo=timezone.utc)
            images[project].append({
                "kind": "compute#image", "id": str(next(serial)),
                "creationTimestamp": pacific(created.timestamp()),
                "name": name, "description": f"{family}, built on {stamp}",
                "family": family, "sourceType": "RAW", "status": "READY",
                "archiveSizeBytes": str(size * 100_000_000), "diskSizeGb": str(size),
                "architecture": arch, "labelFingerprint": "42WmSpB8rSM=",
                "licenses": [f"{LINK}projects/{project}/global/licenses/{family}"],
                "storageLocations": ["us", "eu", "asia"],
                "selfLink": f"{LINK}projects/{project}/global/images/{name}",
            })
        # the older image of a family is DEPRECATED in favour of the newer one
        by_family: dict[str, list[dict]] = {}
        for image in images[project]:
            by_family.setdefault(image["family"], []).append(image)
        for members in by_family.values():
            members.sort(key=lambda i: i["creationTimestamp"])
            for old in members[:-1]:
                old["deprecated"] = {"state": "DEPRECATED",
                                     "replacement": members[-1]["selfLink"]}
    return images


MACHINE_TYPES = [  # name, vCPUs, MiB, shared core
    ("e2-micro", 2, 1024, True), ("e2-small", 2, 2048, True), ("e2-medium", 2, 4096, True),
    ("e2-standard-2", 2, 8192, False), ("e2-standard-4", 4, 16384, False),
    ("n1-standard-1", 1, 3840, False), ("n2-standard-2", 2, 8192, False),
]


class Operation:
    """A zone or global operation: steps (at monotonic times) that do the work; DONE after
    the last one, or at the first that raises OperationFailure."""

    def __init__(self, state: "ComputeState", project: str, zone: str | None, kind: str,
                 target: str, target_id: str | None) -> None:
        now = time.time()
        self.name = f"operation-{int(now * 1000)}-{uuid.uuid4().hex[:13]}-" \
                    f"{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:8]}"
        self.zone = zone
        scope = f"zones/{zone}" if zone else "global"
        self.path = f"projects/{project}/{scope}/operations/{self.name}"
        self.json: dict[str, Any] = {
            "kind": "compute#operation", "id": str(state.new_id()), "name": self.name,
            "operationType": kind, "targetLink": f"{LINK}{target}", "status": "RUNNING",
            "user": state.user, "progress": 0, "insertTime": pacific(now),
            "startTime": pacific(now), "selfLink": f"{LINK}{self.path}",
        }
        if target_id:
            self.json["targetId"] = target_id
        if zone:
            self.json["zone"] = f"{LINK}projects/{project}/zones/{zone}"
        self.steps: list[tuple[float, Callable[[], None]]] = []
        self.failure: OperationFailure | None = None

    @property
    def done(self) -> bool:
        return self.json["status"] == "DONE"

    def finish(self, failure: OperationFailure | None = None) -> None:
        self.steps = []
        self.json.update(status="DONE", progress=100, endTime=pacific())
        if failure:
            self.json["error"] = {"errors": [{"code": failure.code, "message": failure.message}]}
            self.json["httpErrorStatusCode"] = failure.http
            self.json["httpErrorMessage"] = _HTTP_WORDS.get(failure.http, "BAD REQUEST")


class ComputeState:
    """Everything the fake knows, behind one lock. ``delay`` is how long an operation
    takes (seconds); tests keep it short."""

    def __init__(self, project: str = "cms-test",
                 zones: tuple[str, ...] = ("us-central1-a", "us-central1-b", "europe-west1-b"),
                 delay: float = 0.2, cpu_quota: int = 64) -> None:
        self.lock = threading.RLock()
        self.project = project
        self.projects = {project}
        self.zones = list(zones)
        self.delay = delay
        self.cpu_quota = cpu_quota  # vCPUs per region, as the CPUS quota
        self.user = f"tester@{project}.iam.gserviceaccount.com"
        self.max_page = MAX_PAGE
        self._ids = itertools.count(1_000_000_000_000_000_001)
        self._nat = itertools.count(2)
        self._internal = itertools.count(2)
        self.instances: dict[tuple[str, str], dict] = {}   # (zone, name) -> Instance JSON
        self.disks: dict[tuple[str, str], dict] = {}       # (zone, name) -> Disk JSON
        self.busy_until: dict[tuple[str, str], float] = {}
        self.operations: dict[str, Operation] = {}         # path -> operation
        self.active: list[Operation] = []                  # those with steps to run
        self.request_ids: dict[str, Operation] = {}
        self.resets: dict[str, int] = {}  # instance id -> instances.reset calls accepted
        self.injected: list[tuple[str, OperationFailure]] = []
        self.keep_disks = False  # True: a deleted instance leaves even auto-delete disks
        self.images = _seed_images()
        self.images[project] = []
        self.common_metadata: dict[str, Any] = {"kind": "compute#metadata", "items": []}
        self.common_metadata["fingerprint"] = _fingerprint(self.common_metadata["items"])
        self.networks = {"default": self._network("default")}
        self.firewalls: dict[str, dict] = {}
        for name, allowed, ranges in (
                ("default-allow-internal",
                 [{"IPProtocol": "tcp", "ports": ["0-65535"]},
                  {"IPProtocol": "udp", "ports": ["0-65535"]}, {"IPProtocol": "icmp"}],
                 ["10.128.0.0/9"]),
                ("default-allow-ssh", [{"IPProtocol": "tcp", "ports": ["22"]}], ["0.0.0.0/0"]),
                ("default-allow-icmp", [{"IPProtocol": "icmp"}], ["0.0.0.0/0"])):
            self.firewalls[name] = self._firewall_json(
                {"name": name, "network": "global/networks/default", "allowed": allowed,
                 "sourceRanges": ranges, "priority": 65534,
                 "description": f"Allow {name[14:]} on the default network"})

    # ---- helpers -------------------------------------------------------------------
    def new_id(self) -> int:
        return next(self._ids)

    def nat_ip(self) -> str:
        n = next(self._nat)
        return f"127.{n // 64516 % 256}.{n // 254 % 254}.{n % 254 + 1}" if n > 254 \
            else f"127.0.0.{n}"

    def region(self, zone: str) -> str:
        return zone.rsplit("-", 1)[0]

    def check_project(self, project: str, reading_images: bool = False) -> None:
        if project in self.projects or (reading_images and project in self.images):
            return
        if project in self.images:
            raise ApiError(403, "forbidden",
                           f"Required 'compute.instances.list' permission for "
                           f"'projects/{project}'")
        raise not_found(f"projects/{project}")

    def check_zone(self, project: str, zone: str) -> None:
        self.check_project(project)
        if zone not in self.zones:
            raise not_found(f"projects/{project}/zones/{zone}")

    def _network(self, name: str) -> dict:
        return {"kind": "compute#network", "id": str(self.new_id()),
                "creationTimestamp": pacific(), "name": name,
                "description": "Default network for the project",
                "selfLink": f"{LINK}projects/{self.project}/global/networks/{name}",
                "autoCreateSubnetworks": True, "routingConfig": {"routingMode": "REGIONAL"},
                "networkFirewallPolicyEnforcementOrder": "AFTER_CLASSIC_FIREWALL",
                "subnetworks": [f"{LINK}projects/{self.project}/regions/{self.region(z)}/"
                                f"subnetworks/{name}" for z in self.zones]}

    # ---- time ----------------------------------------------------------------------
    def tick(self) -> None:
        """Run every operation step that is due, in the order of their times."""
        now = time.monotonic()
        with self.lock:
            while True:
                self.active = [o for o in self.active if o.steps]
                due = [(operation.steps[0][0], operation) for operation in self.active
                       if operation.steps[0][0] <= now]
                if not due:
                    return
                _, operation = min(due, key=lambda row: row[0])
                _, step = operation.steps.pop(0)
                try:
                    step()
                except OperationFailure as failure:
                    operation.finish(failure)
                    continue
                if not operation.steps and not operation.done:
                    operation.finish()

    def _operation(self, project: str, zone: str | None, kind: str, target: str,
                   target_id: str | None, request_id: str | None,
                   steps: list[tuple[float, Callable[[], None]]],
                   key: tuple[str, str] | None = None) -> dict:
        """Register an operation whose steps run ``offset`` seconds after the instance's
        earlier operations (GCE serialises them)."""
        operation = Operation(self, project, zone, kind, target, target_id)
        start = time.monotonic()
        if key is not None:
            start = max(start, self.busy_until.get(key, 0.0))
        injected = next((f for k, f in self.injected
                         if k == kind or k == f"{kind} {target.rsplit('/', 2)[-2]}"), None)
        if injected is not None:
            self.injected = [(k, f) for k, f in self.injected if f is not injected]

            def fail() -> None:
                raise injected
            steps = [(steps[-1][0] if steps else self.delay, fail)]
        operation.steps = [(start + offset, step) for offset, step in steps]
        if key is not None and operation.steps:
            self.busy_until[key] = operation.steps[-1][0]
        if not operation.steps:
            operation.finish()
        else:
            self.active.append(operation)
        self.operations[operation.path] = operation
        if request_id:
            self.request_ids[request_id] = operation
        return operation.json

    def check_request_id(self, request_id: str | None) -> dict | None:
        if not request_id:
            return None
        try:
            parsed = uuid.UUID(request_id)
        except ValueError:
            raise invalid("requestId", request_id, "Must be a valid UUID.") from None
        if parsed.int == 0:
            raise invalid("requestId", request_id, "The zero UUID is not supported.")
        seen = self.request_ids.get(request_id)
        return seen.json if seen else None

    # ---- operations ----------------------------------------------------------------
    def get_operation(self, project: str, zone: str | None, name: str) -> dict:
        scope = f"zones/{zone}" if zone else "global"
        path = f"projects/{project}/{scope}/operations/{name}"
        if zone:
            self.check_zone(project, zone)
        else:
            self.check_project(project)
        operation = self.operations.get(path)
        if operation is None:
            raise not_found(path)
        return operation.json

    def wait_operation(self, project: str, zone: str | None, name: str,
                       deadline: float) -> dict:
        """operations.wait: answer when DONE or at the deadline (GCE: about 2 minutes)."""
        while True:
            self.tick()
            with self.lock:
                found = self.get_operation(project, zone, name)
                if found["status"] == "DONE" or time.monotonic() >= deadline:
                    return copy.deepcopy(found)
            time.sleep(0.01)

    def list_operations(self, project: str, zone: str) -> list[dict]:
        self.check_zone(project, zone)
        return [o.json for o in self.operations.values() if o.zone == zone]

    # ---- instances -----------------------------------------------------------------
    def instance(self, project: str, zone: str, name: str) -> dict:
        self.check_zone(project, zone)
        found = self.instances.get((zone, name))
        if found is None and name.isdigit():  # GCE takes the numeric id in the path too
            found = next((i for (z, _), i in self.instances.items()
                          if z == zone and i.get("id") == name), None)
        if found is None:
            raise not_found(f"projects/{project}/zones/{zone}/instances/{name}")
        return found

    def _resolve_machine_type(self, project: str, zone: str, value: str) -> tuple[str, int]:
        match = re.fullmatch(r"(?:https?://[^/]+/compute/v1/)?(?:projects/([^/]+)/)?"
                             r"zones/([^/]+)/machineTypes/([^/]+)", value or "")
        if not match:
            raise invalid("resource.machineType", value,
                          "Must be a URL to a valid Compute resource of the correct type.")
        _, type_zone, name = match.groups()
        known = {row[0]: row for row in MACHINE_TYPES}
        if type_zone != zone or name not in known:
            raise invalid("resource.machineType", value,
                          f"Machine type with name '{name}' does not exist in zone "
                          f"'{zone}'.")
        return name, known[name][1]

    def resolve_image(self, project: str, value: str) -> dict:
        match = re.fullmatch(r"(?:https?://[^/]+/compute/v1/)?(?:projects/([^/]+)/)?"
                             r"global/images/(family/)?([^/]+)", value or "")
        if not match:
            raise invalid("resource.disks[0].initializeParams.sourceImage", value,
                          "Must be a URL to a valid Compute resource of the correct type.")
        image_project, family, name = match.groups()
        image_project = image_project or project
        if family:
            return self.image_from_family(image_project, name)
        return self.image(image_project, name)

    def image(self, project: str, name: str) -> dict:
        self.check_project(project, reading_images=True)
        for image in self.images.get(project, ()):
            if image["name"] == name:
                return image
        raise not_found(f"projects/{project}/global/images/{name}")

    def image_from_family(self, project: str, family: str) -> dict:
        self.check_project(project, reading_images=True)
        members = [i for i in self.images.get(project, ())
                   if i.get("family") == family
                   and (i.get("deprecated") or {}).get("state") not in
                   ("DEPRECATED", "OBSOLETE", "DELETED")]
        if not members:
            raise not_found(f"projects/{project}/global/images/family/{family}")
        return max(members, key=lambda i: i["creationTimestamp"])

    def insert_instance(self, project: str, zone: str, body: dict,
                        request_id: str | None) -> dict:
        self.check_zone(project, zone)
        again = self.check_request_id(request_id)
        if again:
            return again
        name = body.get("name") or ""
        if not NAME_RE.fullmatch(name):
            raise invalid("resource.name", name,
                          "Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?|"
                          "[1-9][0-9]{0,19})'")
        if (zone, name) in self.instances:
            raise ApiError(409, "alreadyExists", f"The resource 'projects/{project}/zones/"
                                                 f"{zone}/instances/{name}' already exists")
        type_name, vcpus = self._resolve_machine_type(project, zone,
                                                      body.get("machineType", ""))
        disks = body.get("disks") or []
        boot = [d for d in disks if d.get("boot")]
        if len(boot) != 1:
            raise ApiError(400, "invalid", "Invalid value for field 'resource.disks': ''. "
                                           "Boot disk must be specified.")
        params = boot[0].get("initializeParams") or {}
        if not boot[0].get("source"):
            image = self.resolve_image(project, params.get("sourceImage", ""))
            if (image.get("deprecated") or {}).get("state") == "OBSOLETE":
                raise ApiError(400, "invalid", f"The resource '{image['selfLink']}' is "
                                               "obsolete and cannot be used")
        else:
            raise ApiError(400, "invalid", "the fake boots only from initializeParams")
        size = int(params.get("diskSizeGb") or image["diskSizeGb"])
        if size < int(image["diskSizeGb"]):
            raise invalid("resource.disks[0].initializeParams.diskSizeGb", size,
                          f"Requested disk size cannot be smaller than the image size "
                          f"({image['diskSizeGb']} GB)")
        interfaces = body.get("networkInterfaces") or []
        if not interfaces:
            raise ApiError(400, "invalid", "Invalid value for field "
                                           "'resource.networkInterfaces': ''. At least one "
                                           "network interface is required.")
        for index, interface in enumerate(interfaces):
            network = (interface.get("network") or "global/networks/default").rsplit("/", 1)[-1]
            if network not in self.networks:
                raise not_found(f"projects/{project}/global/networks/{network}")
            # auto-mode networks: one subnetwork per region, named after the network
            subnet = (interface.get("subnetwork") or network).rsplit("/", 1)[-1]
            if subnet != network:
                raise not_found(f"projects/{project}/regions/{self.region(zone)}/"
                                f"subnetworks/{subnet}")
        for tag in (body.get("tags") or {}).get("items") or ():
            if not NAME_RE.fullmatch(tag):
                raise invalid("resource.tags.items[0]", tag, "Must be a match of regex "
                                                             "'[a-z]([-a-z0-9]*[a-z0-9])?'")
        items = (body.get("metadata") or {}).get("items") or []
        for item in items:
            if not re.fullmatch(r"[a-zA-Z0-9-_]{1,128}", item.get("key") or ""):
                raise invalid("resource.metadata", item.get("key"),
                              "Metadata keys must match [a-zA-Z0-9-_]{1,128}.")
        if sum(len(i.get("key", "")) + len(i.get("value") or "") for i in items) > 512 * 1024:
            raise ApiError(400, "invalid", "Metadata exceeds the 512 KB limit")

        key = (zone, name)
        instance_id = str(self.new_id())
        region = self.region(zone)
        zone_link = f"{LINK}projects/{project}/zones/{zone}"
        disk_name = params.get("diskName") or name

        def create() -> None:
            used = sum(self._vcpus(i) for (z, _), i in self.instances.items()
                       if self.region(z) == region and i["status"] not in ("TERMINATED",))
            if used + vcpus > self.cpu_quota:
                raise OperationFailure(
                    "QUOTA_EXCEEDED", f"Quota 'CPUS' exceeded.  Limit: {self.cpu_quota:.1f} "
                                      f"in region {region}.", 403)
            if (zone, disk_name) in self.disks:
                raise OperationFailure(
                    "RESOURCE_ALREADY_EXISTS", f"The resource 'projects/{project}/zones/"
                                               f"{zone}/disks/{disk_name}' already exists", 409)
            self.disks[(zone, disk_name)] = {
                "kind": "compute#disk", "id": str(self.new_id()), "name": disk_name,
                "creationTimestamp": pacific(), "sizeGb": str(size), "zone": zone_link,
                "status": "READY", "sourceImage": image["selfLink"],
                "sourceImageId": image["id"], "type": f"{zone_link}/diskTypes/"
                + (params.get("diskType") or "pd-standard").rsplit("/", 1)[-1],
                "users": [f"{zone_link}/instances/{name}"],
                "selfLink": f"{zone_link}/disks/{disk_name}",
                "architecture": image.get("architecture")}
            nics = []
            for index, interface in enumerate(interfaces):
                network = (interface.get("network")
                           or "global/networks/default").rsplit("/", 1)[-1]
                internal = next(self._internal)
                nic = {"kind": "compute#networkInterface", "name": f"nic{index}",
                       "network": f"{LINK}projects/{project}/global/networks/{network}",
                       "subnetwork": f"{LINK}projects/{project}/regions/{region}/"
                                     f"subnetworks/{network}",
                       "networkIP": f"10.128.{internal // 250}.{internal % 250 + 2}",
                       "fingerprint": _fingerprint([name, index]), "stackType": "IPV4_ONLY"}
                access = interface.get("accessConfigs") or []
                if access:
                    nic["accessConfigs"] = [{
                        "kind": "compute#accessConfig", "type": "ONE_TO_ONE_NAT",
                        "name": a.get("name") or "External NAT",
                        "networkTier": a.get("networkTier") or "PREMIUM"} for a in access]
                nics.append(nic)
            metadata = {"kind": "compute#metadata", "items": copy.deepcopy(items)}
            metadata["fingerprint"] = _fingerprint(items)
            tags = {"items": list((body.get("tags") or {}).get("items") or ())}
            tags["fingerprint"] = _fingerprint(tags["items"])
            self.instances[key] = {
                "kind": "compute#instance", "id": instance_id,
                "creationTimestamp": pacific(), "name": name,
                "description": body.get("description", ""), "tags": tags,
                "machineType": f"{zone_link}/machineTypes/{type_name}",
                "status": "PROVISIONING", "zone": zone_link, "canIpForward": False,
                "networkInterfaces": nics,
                "disks": [{"kind": "compute#attachedDisk", "type": "PERSISTENT",
                           "mode": "READ_WRITE", "source": f"{zone_link}/disks/{disk_name}",
                           "deviceName": boot[0].get("deviceName") or "persistent-disk-0",
                           "index": 0, "boot": True,
                           "autoDelete": bool(boot[0].get("autoDelete", False)),
                           "licenses": image.get("licenses", []), "interface": "SCSI",
                           "diskSizeGb": str(size), "architecture": image.get("architecture")}],
                "metadata": metadata,
                "labels": dict(body.get("labels") or {}),
                "labelFingerprint": _fingerprint(body.get("labels") or {}),
                "selfLink": f"{zone_link}/instances/{name}",
                "scheduling": {"onHostMaintenance": "MIGRATE", "automaticRestart": True,
                               "preemptible": False, "provisioningModel": "STANDARD"},
                "cpuPlatform": "Unknown CPU Platform", "startRestricted": False,
                "deletionProtection": False, "fingerprint": _fingerprint([name, "i"]),
                "lastStartTimestamp": pacific(),
            }

        steps = [(0.0, create), (self.delay / 2, lambda: self._staging(key)),
                 (self.delay, lambda: self._set(key, status="RUNNING",
                                                cpuPlatform="Intel Broadwell"))]
        return self._operation(project, zone, "insert",
                               f"projects/{project}/zones/{zone}/instances/{name}",
                               instance_id, request_id, steps, key)

    @staticmethod
    def _vcpus(instance: dict) -> int:
        name = instance["machineType"].rsplit("/", 1)[-1]
        return next((row[1] for row in MACHINE_TYPES if row[0] == name), 1)

    def _set(self, key: tuple[str, str], **fields: Any) -> None:
        instance = self.instances.get(key)
        if instance is not None:
            instance.update(fields)

    def _staging(self, key: tuple[str, str]) -> None:
        """STAGING: the instance has its ephemeral external address."""
        instance = self.instances.get(key)
        if instance is None:
            return
        instance["status"] = "STAGING"
        for nic in instance["networkInterfaces"]:
            for access in nic.get("accessConfigs") or ():
                access["natIP"] = self.nat_ip()

    def _release_addresses(self, key: tuple[str, str]) -> None:
        """A stopped or suspended instance keeps its access config without a natIP."""
        instance = self.instances.get(key)
        for nic in (instance or {}).get("networkInterfaces", ()):
            for access in nic.get("accessConfigs") or ():
                access.pop("natIP", None)

    def instance_action(self, project: str, zone: str, name: str, action: str,
                        request_id: str | None) -> dict:
        again = self.check_request_id(request_id)
        if again:
            return again
        instance = self.instance(project, zone, name)
        name = instance["name"]  # the path may have named it by id
        key, status, delay = (zone, name), instance["status"], self.delay
        target = f"projects/{project}/zones/{zone}/instances/{name}"
        steps: list[tuple[float, Callable[[], None]]]
        if action == "start":
            if status == "SUSPENDED":
                raise ApiError(400, "resourceNotReady",
                               f"The resource '{target}' is suspended: use resume")
            if status in ("TERMINATED", "STOPPING"):
                steps = [(0.0, lambda: self._set(key, status="PROVISIONING")),
                         (delay / 2, lambda: self._staging(key)),
                         (delay, lambda: self._set(key, status="RUNNING",
                                                   lastStartTimestamp=pacific()))]
            else:
                steps = [(delay / 4, lambda: None)]
        elif action == "stop":
            if status in ("TERMINATED",):
                steps = [(delay / 4, lambda: None)]
            else:
                def stopped() -> None:
                    self._set(key, status="TERMINATED", lastStopTimestamp=pacific())
                    self._release_addresses(key)
                steps = [(0.0, lambda: self._set(key, status="STOPPING")), (delay, stopped)]
        elif action == "reset":
            if status != "RUNNING":
                raise ApiError(400, "resourceNotReady",
                               f"The resource '{target}' is not ready")
            self.resets[instance["id"]] = self.resets.get(instance["id"], 0) + 1
            steps = [(delay, lambda: None)]
        elif action == "suspend":
            if status != "RUNNING":
                raise ApiError(400, "resourceNotReady",
                               f"The resource '{target}' is not ready")

            def suspended() -> None:
                self._set(key, status="SUSPENDED", lastSuspendedTimestamp=pacific())
                self._release_addresses(key)
            steps = [(0.0, lambda: self._set(key, status="SUSPENDING")), (delay, suspended)]
        elif action == "resume":
            if status != "SUSPENDED":
                raise ApiError(400, "resourceNotReady",
                               f"The resource '{target}' is not suspended")
            steps = [(0.0, lambda: self._set(key, status="PROVISIONING")),
                     (delay / 2, lambda: self._staging(key)),
                     (delay, lambda: self._set(key, status="RUNNING"))]
        elif action == "delete":
            def deleted() -> None:
                gone = self.instances.pop(key, None)
                for disk in (gone or {}).get("disks", ()):
                    disk_key = (zone, disk["source"].rsplit("/", 1)[-1])
                    if disk.get("autoDelete") and not self.keep_disks:
                        self.disks.pop(disk_key, None)
                    elif disk_key in self.disks:
                        self.disks[disk_key]["users"] = []
            steps = [(0.0, lambda: self._set(key, status="STOPPING")), (delay, deleted)]
        else:
            raise not_found(f"{target}/{action}")
        return self._operation(project, zone, action, target, instance["id"], request_id,
                               steps, key)

    def set_instance_metadata(self, project: str, zone: str, name: str, body: dict,
                              request_id: str | None) -> dict:
        again = self.check_request_id(request_id)
        if again:
            return again
        instance = self.instance(project, zone, name)
        if body.get("fingerprint") != instance["metadata"]["fingerprint"]:
            raise ApiError(412, "conditionNotMet", "Supplied fingerprint does not match "
                                                   "current metadata fingerprint.")
        items = copy.deepcopy(body.get("items") or [])

        def write() -> None:
            instance["metadata"] = {"kind": "compute#metadata", "items": items,
                                    "fingerprint": _fingerprint(items)}
        instance["metadata"]["fingerprint"] = _fingerprint([items, "pending"])
        target = f"projects/{project}/zones/{zone}/instances/{name}"
        return self._operation(project, zone, "setMetadata", target, instance["id"],
                               request_id, [(self.delay / 4, write)], (zone, name))

    def set_tags(self, project: str, zone: str, name: str, body: dict,
                 request_id: str | None) -> dict:
        again = self.check_request_id(request_id)
        if again:
            return again
        instance = self.instance(project, zone, name)
        if body.get("fingerprint") != instance["tags"]["fingerprint"]:
            raise ApiError(412, "conditionNotMet", "Supplied fingerprint does not match "
                                                   "current tags fingerprint.")
        tags = list(body.get("items") or [])

        def write() -> None:
            instance["tags"] = {"items": tags, "fingerprint": _fingerprint(tags)}
        target = f"projects/{project}/zones/{zone}/instances/{name}"
        return self._operation(project, zone, "setTags", target, instance["id"],
                               request_id, [(self.delay / 4, write)], (zone, name))

    def disk(self, project: str, zone: str, name: str) -> dict:
        self.check_zone(project, zone)
        found = self.disks.get((zone, name))
        if found is None:
            raise not_found(f"projects/{project}/zones/{zone}/disks/{name}")
        return found

    def delete_disk(self, project: str, zone: str, name: str, request_id: str | None) -> dict:
        again = self.check_request_id(request_id)
        if again:
            return again
        disk = self.disk(project, zone, name)
        target = f"projects/{project}/zones/{zone}/disks/{name}"
        if disk.get("users"):
            raise ApiError(400, "resourceInUseByAnotherResource",
                           f"The disk resource '{target}' is already being used by "
                           f"'{disk['users'][0].split('/compute/v1/', 1)[-1]}'")
        return self._operation(project, zone, "delete", target, disk["id"], request_id,
                               [(self.delay / 2, lambda: self.disks.pop((zone, name), None))])

    # ---- project metadata ----------------------------------------------------------
    def get_project(self, project: str) -> dict:
        self.check_project(project)
        return {"kind": "compute#project", "id": str(abs(hash(project)) % 10 ** 15),
                "creationTimestamp": "2024-01-02T03:04:05.678-08:00", "name": project,
                "commonInstanceMetadata": self.common_metadata,
                "defaultServiceAccount": f"12345-compute@developer.gserviceaccount.com",
                "xpnProjectStatus": "UNSPECIFIED_XPN_PROJECT_STATUS",
                "defaultNetworkTier": "PREMIUM", "vmDnsSetting": "ZONAL_ONLY",
                "selfLink": f"{LINK}projects/{project}"}

    def set_common_metadata(self, project: str, body: dict, request_id: str | None) -> dict:
        self.check_project(project)
        again = self.check_request_id(request_id)
        if again:
            return again
        if body.get("fingerprint") != self.common_metadata["fingerprint"]:
            raise ApiError(412, "conditionNotMet", "Supplied fingerprint does not match "
                                                   "current metadata fingerprint.")
        items = copy.deepcopy(body.get("items") or [])
        # the fingerprint changes at once: a second writer with the old one gets 412
        self.common_metadata["fingerprint"] = _fingerprint([items, "pending"])

        def write() -> None:
            self.common_metadata.update(items=items, fingerprint=_fingerprint(items))
        return self._operation(project, None, "setCommonInstanceMetadata",
                               f"projects/{project}", None, request_id,
                               [(self.delay / 4, write)])

    # ---- firewalls -----------------------------------------------------------------
    def _firewall_json(self, body: dict) -> dict:
        name = body["name"]
        network = (body.get("network") or "global/networks/default").rsplit("/", 1)[-1]
        firewall = {"kind": "compute#firewall", "id": str(self.new_id()),
                    "creationTimestamp": pacific(), "name": name,
                    "description": body.get("description", ""),
                    "network": f"{LINK}projects/{self.project}/global/networks/{network}",
                    "priority": int(body.get("priority", 1000)),
                    "direction": body.get("direction") or "INGRESS",
                    "logConfig": {"enable": False}, "disabled": bool(body.get("disabled")),
                    "selfLink": f"{LINK}projects/{self.project}/global/firewalls/{name}"}
        for field in ("sourceRanges", "destinationRanges", "sourceTags", "targetTags",
                      "allowed", "denied"):
            if body.get(field):
                firewall[field] = copy.deepcopy(body[field])
        if firewall["direction"] == "INGRESS" and not (firewall.get("sourceRanges")
                                                        or firewall.get("sourceTags")):
            firewall["sourceRanges"] = ["0.0.0.0/0"]
        if firewall["direction"] == "EGRESS" and not firewall.get("destinationRanges"):
            firewall["destinationRanges"] = ["0.0.0.0/0"]
        return firewall

    def _check_firewall(self, body: dict) -> None:
        name = body.get("name") or ""
        if not NAME_RE.fullmatch(name):
            raise invalid("resource.name", name,
                          "Must be a match of regex '[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?'")
        if bool(body.get("allowed")) == bool(body.get("denied")):
            raise ApiError(400, "invalid", "Invalid value for field 'resource': "
                                           "exactly one of allowed or denied must be set.")
        for rule in (body.get("allowed") or []) + (body.get("denied") or []):
            protocol = str(rule.get("IPProtocol", "")).lower()
            if protocol not in ("tcp", "udp", "icmp", "all", "esp", "ah", "sctp", "ipip") \
                    and not protocol.isdigit():
                raise invalid("resource.allowed[0].IPProtocol", protocol, "Unknown protocol.")
            for port in rule.get("ports") or ():
                if protocol not in ("tcp", "udp", "sctp") or not re.fullmatch(
                        r"\d{1,5}(-\d{1,5})?", str(port)):
                    raise invalid("resource.allowed[0].ports[0]", port, "Invalid port.")
        network = (body.get("network") or "global/networks/default").rsplit("/", 1)[-1]
        if network not in self.networks:
            raise not_found(f"projects/{self.project}/global/networks/{network}")

    def firewall(self, project: str, name: str) -> dict:
        self.check_project(project)
        found = self.firewalls.get(name)
        if found is None:
            raise not_found(f"projects/{project}/global/firewalls/{name}")
        return found

    def insert_firewall(self, project: str, body: dict, request_id: str | None) -> dict:
        self.check_project(project)
        again = self.check_request_id(request_id)
        if again:
            return again
        self._check_firewall(body)
        name = body["name"]
        if name in self.firewalls:
            raise ApiError(409, "alreadyExists",
                           f"The resource 'projects/{project}/global/firewalls/{name}' "
                           "already exists")
        firewall = self._firewall_json(body)
        self.firewalls[name] = firewall
        return self._operation(project, None, "insert",
                               f"projects/{project}/global/firewalls/{name}",
                               firewall["id"], request_id, [(self.delay / 4, lambda: None)])

    def patch_firewall(self, project: str, name: str, body: dict,
                       request_id: str | None) -> dict:
        again = self.check_request_id(request_id)
        if again:
            return again
        firewall = self.firewall(project, name)
        merged = {**firewall, **body, "name": name}
        if "allowed" in body and body["allowed"]:
            merged.pop("denied", None)
        self._check_firewall(merged)
        firewall.update(self._firewall_json(merged), id=firewall["id"],
                        creationTimestamp=firewall["creationTimestamp"])
        return self._operation(project, None, "patch",
                               f"projects/{project}/global/firewalls/{name}",
                               firewall["id"], request_id, [(self.delay / 4, lambda: None)])

    def delete_firewall(self, project: str, name: str, request_id: str | None) -> dict:
        again = self.check_request_id(request_id)
        if again:
            return again
        firewall = self.firewall(project, name)
        return self._operation(project, None, "delete",
                               f"projects/{project}/global/firewalls/{name}", firewall["id"],
                               request_id,
                               [(self.delay / 4, lambda: self.firewalls.pop(name, None))])

    # ---- machine types, zones ------------------------------------------------------
    def machine_types(self, project: str, zone: str) -> list[dict]:
        self.check_zone(project, zone)
        return [self._machine_type(zone, row) for row in MACHINE_TYPES]

    def machine_type(self, project: str, zone: str, name: str) -> dict:
        self.check_zone(project, zone)
        for row in MACHINE_TYPES:
            if row[0] == name:
                return self._machine_type(zone, row)
        raise not_found(f"projects/{project}/zones/{zone}/machineTypes/{name}")

    def _machine_type(self, zone: str, row: tuple) -> dict:
        name, vcpus, memory, shared = row
        found = {"kind": "compute#machineType",
                 "id": str(800_000 + MACHINE_TYPES.index(row)),
                 "creationTimestamp": "1969-12-31T16:00:00.000-08:00", "name": name,
                 "description": f"{vcpus} vCPU{'s' if vcpus > 1 else ''}, "
                                f"{memory / 1024:g} GB RAM",
                 "guestCpus": vcpus, "memoryMb": memory, "imageSpaceGb": 0,
                 "maximumPersistentDisks": 128,
                 "maximumPersistentDisksSizeGb": "263168", "zone": zone,
                 "selfLink": f"{LINK}projects/{self.project}/zones/{zone}/machineTypes/{name}",
                 "isSharedCpu": shared, "architecture": "X86_64"}
        return found

    def zone(self, project: str, zone: str) -> dict:
        self.check_zone(project, zone)
        region = self.region(zone)
        return {"kind": "compute#zone", "id": str(2000 + self.zones.index(zone)),
                "creationTimestamp": "1969-12-31T16:00:00.000-08:00", "name": zone,
                "description": zone, "status": "UP",
                "region": f"{LINK}projects/{project}/regions/{region}",
                "selfLink": f"{LINK}projects/{project}/zones/{zone}",
                "availableCpuPlatforms": ["Intel Broadwell"], "supportsPzs": False}


# ---- lists: paging and filters --------------------------------------------------------
def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode().rstrip("=")


def offset_of(token: str | None) -> int:
    if not token:
        return 0
    try:
        padded = token + "=" * (-len(token) % 4)
        return int(json.loads(base64.urlsafe_b64decode(padded))["o"])
    except Exception:
        raise invalid("pageToken", token, "Invalid page token.") from None


def page_size(value: str | None, cap: int) -> int:
    if value in (None, ""):
        return cap
    try:
        size = int(value)
    except ValueError:
        raise invalid("maxResults", value, "Must be an integer.") from None
    if size < 0 or size > MAX_PAGE:
        raise invalid("maxResults", value, f"Must be between 0 and {MAX_PAGE}.")
    return min(size or cap, cap)


_TERM = re.compile(r"\(?\s*([\w.]+)\s*(=|!=|\beq\b|\bne\b)\s*(\"[^\"]*\"|'[^']*'|[^\s)]+)"
                   r"\s*\)?")


def compile_filter(text: str | None) -> Callable[[dict], bool]:
    """GCE's list filter, the subset cms and people use: ``name = "web-*"`` (literal with
    ``*`` wildcards), ``name != x``, ``status eq RUNNING`` / ``ne`` (RE2 full match),
    joined by spaces or AND."""
    if not text or not text.strip():
        return lambda item: True
    terms = []
    rest = re.sub(r"\bAND\b", " ", text)
    position = 0
    for match in _TERM.finditer(rest):
        if rest[position:match.start()].strip():
            break
        position = match.end()
        field, op, value = match.groups()
        if value[:1] in "\"'":
            value = value[1:-1]
        terms.append((field, op, value))
    if rest[position:].strip() or not terms:
        raise invalid("filter", text, "Invalid list filter expression.")

    def value_of(item: dict, field: str) -> str:
        current: Any = item
        for part in field.split("."):
            current = current.get(part) if isinstance(current, dict) else None
        return "" if current is None else str(current)

    def accept(item: dict) -> bool:
        for field, op, value in terms:
            actual = value_of(item, field)
            if op in ("=", "!="):
                hit = fnmatch.fnmatchcase(actual, value)
            else:
                hit = re.fullmatch(value, actual) is not None
            if hit != (op in ("=", "eq")):
                return False
        return True
    return accept


def paged(items: list[dict], kind: str, self_link: str, query: dict,
          cap: int) -> dict:
    accept = compile_filter(query.get("filter"))
    chosen = [i for i in items if accept(i)]
    start, size = offset_of(query.get("pageToken")), page_size(query.get("maxResults"), cap)
    page = chosen[start:start + size]
    answer: dict[str, Any] = {"kind": kind, "id": self_link, "items": page,
                              "selfLink": f"{LINK}{self_link}"}
    if start + size < len(chosen):
        answer["nextPageToken"] = _token(start + size)
    if not page:
        answer.pop("items")
    return answer

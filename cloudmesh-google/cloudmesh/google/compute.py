"""Google Compute Engine provider (kind ``google``), over google-cloud-compute (REST).

It maps Compute Engine objects to cms records and does nothing else. Every request goes
to the configured ``api_endpoint`` with the configured credentials, the polling of
long-running operations included: the library's own ``ExtendedOperation.result()`` polls
through a client it builds without the endpoint, so mutations here use the ``*_unary``
calls and poll with operation clients built like the others.

- Keys are injected: the ``ssh-keys`` instance metadata entry ``user:key``; ``cms key``
  works on the project's ``ssh-keys`` metadata (written with its fingerprint).
- Security groups are VPC firewall rules bound by target tag: group G is every firewall
  of the network whose target tags hold G; a VM joins G through its network tag G.
- cms keeps the key name and the image in the metadata entries ``cms-key`` and
  ``cms-image`` (GCE's instance resource does not name its image).
"""

from __future__ import annotations

import re
import sys
import threading
import uuid
from typing import Any

from cloudmesh.compute.abc import ComputeNodeABC, record_mapper
from cloudmesh.compute.bootspec import BootSpec
from cloudmesh.compute.errors import (CloudError, CmsError, ConfigError, CredentialError,
                                      NotFound, UsageError)
from cloudmesh.compute.keys import parse_public_key
from cloudmesh.compute.kit.deadline import bounded
from cloudmesh.compute.kit.finding import find_one
from cloudmesh.compute.kit.http import classify_http
from cloudmesh.compute.kit.paging import pages
from cloudmesh.compute.kit.polling import poll_until
from cloudmesh.compute.kit.transport import guard_requests_session
from cloudmesh.google import sdk
from cloudmesh.google.access import LOGIN, NAME_RULE, FirewallGroups, ProjectKeys

#: GCE instance status -> cms status (TERMINATED is GCE's word for stopped)
NODE_STATE_MAP = {
    "PROVISIONING": "booting",
    "STAGING": "booting",
    "PENDING": "booting",
    "RUNNING": "running",
    "STOPPING": "stopping",      # also what an instance being deleted shows
    "PENDING_STOP": "stopping",
    "SUSPENDING": "stopping",
    "DEPROVISIONING": "stopping",
    "TERMINATED": "stopped",
    "STOPPED": "stopped",
    "SUSPENDED": "suspended",
    "REPAIRING": "error",
}
DEFAULT_IMAGE_PROJECTS = ("ubuntu-os-cloud", "debian-cloud", "rocky-linux-cloud")
#: instance metadata entries cms writes or reads itself; not shown as the user's metadata
_HIDDEN = ("ssh-keys", "user-data", "cms-key", "cms-image")
_IMAGE_URL = re.compile(r"(?:https?://[^/]+/compute/v1/)?projects/([^/]+)/global/images/"
                        r"(family/)?([^/]+)")
_MACHINE_URL = re.compile(r"(?:https?://[^/]+/compute/v1/)?(?:projects/[^/]+/)?"
                          r"zones/([^/]+)/machineTypes/([^/]+)")
_METADATA_KEY = re.compile(r"[A-Za-z0-9_-]{1,128}")
#: where requests go when the cloud names no api_endpoint
DEFAULT_ENDPOINT = "https://compute.googleapis.com"
#: error reasons GCE answers with 403 that are about quota or rate, not credentials
_THROTTLED = ("rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded",
              "dailyLimitExceeded")


def _last(link: str | None) -> str | None:
    return link.rsplit("/", 1)[-1] if link else None


def _utc(stamp: str) -> str:
    """A GCE timestamp (US Pacific offset) in UTC, for comparing builds across offsets."""
    from cloudmesh.compute.abc import iso_utc

    return iso_utc(stamp) or ""


def _local_login() -> str:
    """The local user as a Linux login GCE's guest agent accepts (gcloud's choice)."""
    import getpass

    try:
        user = getpass.getuser().lower()
    except Exception:  # no user name in the environment
        return "cms"
    user = re.sub(r"[^a-z0-9_.-]", "", user)
    return user if LOGIN.fullmatch(user or "") else "cms"


class Provider(ProjectKeys, FirewallGroups, ComputeNodeABC):
    kind = "google"
    credential_keys = ("project", "zone", "service_account_file", "access_token",
                       "api_endpoint")
    key_delivery = "inject"
    default_username = _local_login()
    unsupported: dict[str, str] = {}
    #: seconds a long-running operation (insert, stop, delete...) is waited for
    operation_timeout: float = 900.0

    def __init__(self, cloud: str, spec: dict[str, Any]) -> None:
        super().__init__(cloud, spec)
        self._clients: dict[str, Any] = {}
        self._auth = None
        self._project: str | None = self.credentials.get("project") or None
        self._lock = threading.Lock()

    # ---- credentials and clients -----------------------------------------------------
    def _credentials(self):
        """The credentials every client shares (made once)."""
        if self._auth is None:
            self._auth, project = sdk.credentials(self.cloud, self.credentials)
            self._project = self._project or project
        return self._auth

    @property
    def project(self) -> str:
        self._credentials()
        if not self._project:
            raise ConfigError(f"cloud '{self.cloud}': no Google project",
                              "set credentials.project")
        return str(self._project)

    @property
    def zone(self) -> str:
        zone = self.credentials.get("zone") or self.defaults.get("zone")
        if not zone:
            raise ConfigError(f"cloud '{self.cloud}': no zone", "set credentials.zone "
                              "(e.g. us-central1-a)")
        return str(zone)

    def _client(self, service: str):
        """One client per service, all with the same endpoint and credentials; the
        requests session under each REST transport refuses any origin but the endpoint's
        (issue 21), so the SDK's own paging and retries are covered too."""
        with self._lock:
            client = self._clients.get(service)
            if client is None:
                module = sdk.service(service)
                endpoint = self.credentials.get("api_endpoint")
                self.guard.allow(str(endpoint) if endpoint else DEFAULT_ENDPOINT)
                client = getattr(module, sdk.CLASSES[service])(
                    credentials=self._credentials(), transport="rest",
                    client_options={"api_endpoint": str(endpoint)} if endpoint else None)
                guard_requests_session(client._transport._session, self.guard)
                self._clients[service] = client
        return client

    def _call(self, service: str, method: str, **kwargs: Any) -> Any:
        """One request, translated and retried as base ``retry`` does, all of it within
        cm.timeout (slow reads included); the library's own retry is off (it would wait
        up to 600 s on 503 and knows no 429 or 500)."""
        function = getattr(self._client(service), method)
        return bounded(lambda: self.retry(function, retry=None, timeout=self.timeout,
                                          **kwargs),
                       self.timeout, f"Compute Engine ({service}.{method})")

    def _call_once(self, service: str, method: str, **kwargs: Any) -> Any:
        """One request, translated, never repeated here: for inserts, which the facade
        tries again itself (with the same requestId) after looking for the VM."""
        function = getattr(self._client(service), method)
        return bounded(lambda: self.translated(function, retry=None, timeout=self.timeout,
                                               **kwargs),
                       self.timeout, f"Compute Engine ({service}.{method})")

    def _pages(self, service: str, method: str, request: Any, items=None):
        """The items of every page of a list (kit ``pages``: a repeated token or too many
        pages end it), each page fetched (and retried) alone."""
        def fetch(token: str | None):
            if token:
                request.page_token = token
            pager = self._call(service, method, request=request)
            page = next(iter(pager.pages))  # the response already fetched: no request
            return (items(page) if items else page.items), page.next_page_token or None
        return pages(fetch, what=f"cloud '{self.cloud}': {service} list")

    # ---- errors ----------------------------------------------------------------------
    def translate_error(self, error: Exception) -> CmsError | None:
        where = f"cloud '{self.cloud}'"
        # an exception of a library not imported yet cannot be this one: no import here
        core = sys.modules.get("google.api_core.exceptions")
        auth = sys.modules.get("google.auth.exceptions")
        if auth and isinstance(error, auth.DefaultCredentialsError):
            return CredentialError(f"{where}: {error}", "check credentials in cloudmesh.yaml")
        if auth and isinstance(error, auth.RefreshError):
            detail = str(error.args[0])[:200] if error.args else type(error).__name__
            return CredentialError(f"{where}: Google refused the credentials (the token is "
                                   f"invalid or expired: {detail})",
                                   "get a new access_token or use a service_account_file")
        if auth and isinstance(error, auth.TransportError):
            return CloudError(f"{where}: cannot reach Google's token service", retryable=True)
        if isinstance(error, CmsError):  # the origin guard's refusal, raised in the SDK
            return error
        if core is not None and isinstance(error, core.GoogleAPICallError):
            status = error.code or None
            reason = next((e.get("reason") for e in error.errors or ()
                           if isinstance(e, dict) and e.get("reason")), None)
            text = f"Compute Engine {status}" + (f" {reason}" if reason else "") \
                + f": {error.message}"
            if reason in _THROTTLED:  # GCE says 403 for these: not the credentials
                return CloudError(f"{where}: {text}", retryable="RateLimit" in reason[4:]
                                  or reason == "rateLimitExceeded", status=status, code=reason)
            return classify_http(status, reason, text, cloud=self.cloud)
        if core is not None and isinstance(error, core.RetryError):
            return CloudError(f"{where}: Compute Engine did not answer: {error}",
                              retryable=True)
        requests_exceptions = sys.modules.get("requests.exceptions")
        if requests_exceptions and isinstance(error, requests_exceptions.SSLError):
            return CloudError(f"{where}: TLS failed with Compute Engine: {error}")
        if requests_exceptions and isinstance(error, (requests_exceptions.ConnectionError,
                                                      requests_exceptions.Timeout,
                                                      requests_exceptions.ChunkedEncodingError)):
            return CloudError(f"{where}: cannot reach Compute Engine "
                              f"({type(error).__name__})", retryable=True)
        return None

    # ---- operations ------------------------------------------------------------------
    def _wait(self, operation: Any, zone: str | None = None, what: str = "") -> Any:
        """Poll a zone (or global) operation until DONE (kit ``poll_until``, at most
        ``operation_timeout`` seconds), through the same endpoint and credentials; a
        failed operation becomes a CloudError with GCE's message."""
        done = sdk.types().Operation.Status.DONE
        name = operation.name

        def fetch() -> Any:
            if zone:
                return self._call("zone_operations", "get", project=self.project,
                                  zone=zone, operation=name)
            return self._call("global_operations", "get", project=self.project,
                              operation=name)

        def failed(found: Any) -> str | None:
            # final: the same requestId would only answer this failed operation again
            errors = list(found.error.errors) if found.error else []
            return "; ".join(f"{e.code}: {e.message}" if e.code else e.message
                             for e in errors) or None

        label = f"cloud '{self.cloud}': {what or operation.operation_type or name}"
        if operation.status == done:  # no request needed
            message = failed(operation)
            if message:
                raise CloudError(f"{label} failed: {message}")
            return operation
        return poll_until(fetch, lambda found: found.status == done, failed=failed,
                          timeout=self.operation_timeout, what=label, interval=0.05,
                          max_interval=2.0)

    @staticmethod
    def _request_id(token: str | None) -> str:
        """GCE's requestId must be a UUID: the facade's token, as one."""
        if not token:
            return str(uuid.uuid4())
        try:
            return str(uuid.UUID(str(token)))
        except ValueError:
            return str(uuid.uuid5(uuid.NAMESPACE_URL, f"cms:{token}"))

    # ---- mappers ---------------------------------------------------------------------
    @record_mapper("instance")
    def _to_vm(self, instance: Any) -> dict[str, Any]:
        # read the raw protobuf: proto-plus wrapping costs more than the rest of the mapping
        pb = type(instance).pb(instance) if hasattr(type(instance), "pb") else instance
        public, private = [], []
        for nic in pb.network_interfaces:
            if nic.network_i_p:
                private.append(nic.network_i_p)
            for access in nic.access_configs:
                if access.nat_i_p:  # empty while stopped or suspended
                    public.append(access.nat_i_p)
        metadata = {item.key: item.value for item in pb.metadata.items}
        hidden = {key: metadata.pop(key) for key in _HIDDEN if key in metadata}
        logins = [line.split(":", 1)[0] for line in hidden.get("ssh-keys", "").splitlines()
                  if ":" in line]
        image = _last(hidden.get("cms-image"))
        zone = _last(pb.zone)
        status = pb.status
        record = self.vm_record(
            name=pb.name,
            id=str(pb.id) if pb.id else pb.name,
            status=NODE_STATE_MAP.get(status, "unknown"),
            state=status,
            image=image,
            flavor=_last(pb.machine_type),
            public_ips=public,
            private_ips=private,
            key=hidden.get("cms-key"),
            secgroups=list(pb.tags.items),
            region=zone.rsplit("-", 1)[0] if zone else None,
            zone=zone,
            created=pb.creation_timestamp or None,  # Pacific time; the base makes it UTC
            metadata=metadata,
        )
        # the login the injected key is for, else the one gcloud would use
        record["username"] = logins[0] if logins else self.default_username_for(image or "")
        return record

    @record_mapper("image")
    def _to_image(self, image: Any) -> dict[str, Any]:
        match = _IMAGE_URL.search(image.self_link or "")
        project = match.group(1) if match else self.project
        family = image.family or None
        os_name = {"ubuntu-os-cloud": "ubuntu", "debian-cloud": "debian",
                   "rocky-linux-cloud": "rocky-linux"}.get(project)
        record = self.image_record(
            name=image.name,
            id=f"projects/{project}/global/images/{image.name}",
            os=os_name or (family.split("-")[0] if family else None),
            version=family,
            status=image.status or None,
            created=image.creation_timestamp or None,
            native={"project": project, "family": family, "gce_id": str(image.id),
                    "architecture": image.architecture or None,
                    "deprecated": image.deprecated.state or None},
        )
        record["arch"] = {"X86_64": "x86_64", "ARM64": "arm64"}.get(image.architecture,
                                                                    image.architecture or None)
        return record

    @record_mapper("machine type")
    def _to_flavor(self, machine: Any) -> dict[str, Any]:
        return self.flavor_record(name=machine.name, id=machine.name,
                                  vcpus=machine.guest_cpus, ram_mb=machine.memory_mb,
                                  disk_gb=0, native={"zone": _last(machine.zone),
                                                     "shared_cpu": machine.is_shared_cpu})

    # ---- names -----------------------------------------------------------------------
    def check_name(self, name: str) -> None:
        if not (isinstance(name, str) and NAME_RULE.fullmatch(name)):
            raise UsageError(f"'{name}' is not a valid Compute Engine instance name",
                             "use 1-63 lowercase letters, digits and '-', starting with a "
                             "letter and not ending with '-'")

    # ---- VMs -------------------------------------------------------------------------
    def _aggregated(self, filter_: str | None = None) -> list[Any]:
        types = sdk.types()
        request = types.AggregatedListInstancesRequest(project=self.project)
        if filter_:
            request.filter = filter_
        return list(self._pages("instances", "aggregated_list", request, lambda page: [
            i for scoped in types.InstanceAggregatedList.pb(page).items.values()
            for i in scoped.instances]))

    def list(self) -> list[dict[str, Any]]:
        return [self._to_vm(instance) for instance in self._aggregated()]

    def _find(self, ref: str) -> Any:
        """The instance a reference stands for: its numeric id or its exact name (kit
        ``find_one``); first one GET in the configured zone, then across zones."""
        zone = self.credentials.get("zone") or self.defaults.get("zone")
        if zone and (NAME_RULE.fullmatch(ref) or ref.isdigit()):
            try:
                return self._call("instances", "get", project=self.project, zone=str(zone),
                                  instance=ref)
            except NotFound:
                pass
        # GCE's filter takes a quoted literal: any name GCE allows fits in one
        field = "id" if ref.isdigit() else "name"
        quoted = ref.replace("\\", "\\\\").replace('"', '\\"')
        found = {str(i.id): i for i in self._aggregated(f'{field} = "{quoted}"')}
        record = find_one(({"id": key, "name": i.name,
                            "status": NODE_STATE_MAP.get(i.status, "unknown")}
                           for key, i in found.items()), ref, cloud=self.cloud)
        return found[record["id"]]

    def info(self, name: str) -> dict[str, Any]:
        return self._to_vm(self._find(name))

    def _network(self, spec: BootSpec) -> tuple[str, str | None]:
        """The network (and subnetwork) to attach: the one named, else 'default', else
        the only one; several and none named is a usage error listing them."""
        region = str(spec.zone or self.zone).rsplit("-", 1)[0]
        subnet = f"regions/{region}/subnetworks/{spec.subnet}" if spec.subnet else None
        if spec.network:
            return f"global/networks/{spec.network}", subnet
        types = sdk.types()
        names = [n.name for n in self._pages(
            "networks", "list", types.ListNetworksRequest(project=self.project))]
        if "default" in names:
            return "global/networks/default", subnet
        if len(names) == 1:
            return f"global/networks/{names[0]}", subnet
        if not names:
            raise CloudError(f"cloud '{self.cloud}': project {self.project} has no network",
                             "create a VPC network first")
        raise UsageError(f"cloud '{self.cloud}' has several networks and none is chosen: "
                         f"{', '.join(sorted(names))}", "set default.network or --network")

    def create(self, spec: BootSpec) -> dict[str, Any]:
        types = sdk.types()
        zone = str(spec.zone or self.zone)
        image = self.resolve_image(spec.image)
        machine = self._machine_type(spec.flavor, zone)
        for group in spec.secgroups or ():
            if not NAME_RULE.fullmatch(group):
                raise UsageError(f"'{group}' cannot be a GCE network tag (security group)",
                                 "use lowercase letters, digits and '-'")
        network, subnet = self._network(spec)
        items = {str(k): str(v) for k, v in (spec.metadata or {}).items()}
        for key in items:
            if key in _HIDDEN or not _METADATA_KEY.fullmatch(key):
                raise UsageError(f"'{key}' cannot be a GCE metadata key" + (
                    " (cms writes it)" if key in _HIDDEN else ""),
                    "use 1-128 letters, digits, '-' and '_'")
        if spec.key:
            if not spec.key.get("public_key"):
                raise UsageError(f"key '{spec.key['name']}' has no public key to inject")
            if not LOGIN.fullmatch(spec.username or ""):
                raise UsageError(f"'{spec.username}' is not a login GCE can create",
                                 "use a lowercase user name (letters, digits, '_', '-')")
            # built from the validated key's parts: a second line in a key file never
            # reaches ssh-keys (issue 21)
            key = parse_public_key(spec.key["public_key"], f"key '{spec.key['name']}'")
            items["ssh-keys"] = f"{spec.username}:{key.line()}"
            items["cms-key"] = spec.key["name"]
        if spec.userdata:
            items["user-data"] = spec.userdata  # read by cloud-init on GCE's images
        items["cms-image"] = image["id"]
        params = types.AttachedDiskInitializeParams(source_image=image["id"])
        if spec.disk_gb:
            params.disk_size_gb = int(spec.disk_gb)
        interface = types.NetworkInterface(network=network)
        if subnet:
            interface.subnetwork = subnet
        if spec.public_ip:
            interface.access_configs = [types.AccessConfig(name="External NAT",
                                                           type_="ONE_TO_ONE_NAT")]
        instance = types.Instance(
            name=spec.name,
            machine_type=f"zones/{zone}/machineTypes/{machine}",
            disks=[types.AttachedDisk(boot=True, auto_delete=True, type_="PERSISTENT",
                                      initialize_params=params)],
            network_interfaces=[interface],
            metadata=types.Metadata(items=[types.Items(key=k, value=v)
                                           for k, v in items.items()]),
            tags=types.Tags(items=list(spec.secgroups or ())))
        request = types.InsertInstanceRequest(project=self.project, zone=zone,
                                              instance_resource=instance,
                                              request_id=self._request_id(spec.token))
        # a retry by the facade carries the same requestId: GCE answers the first operation
        operation = self._call_once("instances", "insert_unary", request=request)
        self._wait(operation, zone, f"creating {spec.name}")
        return self._to_vm(self._call("instances", "get", project=self.project, zone=zone,
                                      instance=spec.name))

    def _act(self, name: str, method: str, verb: str, instance: Any = None) -> dict[str, Any]:
        instance = instance or self._find(name)
        zone = _last(instance.zone)
        request = getattr(sdk.types(), _REQUESTS[method])(
            project=self.project, zone=zone, instance=instance.name,
            request_id=str(uuid.uuid4()))  # one id for the retries of this one call
        operation = self._call("instances", method, request=request)
        self._wait(operation, zone, f"{verb} {instance.name}")
        return self._to_vm(self._call("instances", "get", project=self.project, zone=zone,
                                      instance=instance.name))

    def start(self, name: str) -> dict[str, Any]:
        instance = self._find(name)
        if instance.status == "SUSPENDED":  # GCE refuses start for it: resume is the way
            return self._act(name, "resume_unary", "resuming", instance)
        return self._act(name, "start_unary", "starting", instance)

    def stop(self, name: str) -> dict[str, Any]:
        return self._act(name, "stop_unary", "stopping")

    def reboot(self, name: str) -> dict[str, Any]:
        return self._act(name, "reset_unary", "resetting")

    def suspend(self, name: str) -> dict[str, Any]:
        return self._act(name, "suspend_unary", "suspending")

    def resume(self, name: str) -> dict[str, Any]:
        return self._act(name, "resume_unary", "resuming")

    def destroy(self, name: str) -> dict[str, Any]:
        """Delete the instance; its boot disk goes with it (auto-delete, as create made
        it). A disk still there afterwards is deleted, or named in the error."""
        instance = self._find(name)
        record = self._to_vm(instance)
        zone = _last(instance.zone)
        disks = [_last(d.source) for d in instance.disks if d.auto_delete and d.source]
        types = sdk.types()
        operation = self._call("instances", "delete_unary", request=types.DeleteInstanceRequest(
            project=self.project, zone=zone, instance=instance.name,
            request_id=str(uuid.uuid4())))
        self._wait(operation, zone, f"deleting {instance.name}")
        left = []
        for disk in disks:
            try:
                self._call("disks", "get", project=self.project, zone=zone, disk=disk)
            except NotFound:
                continue
            try:
                self._wait(self._call("disks", "delete_unary", project=self.project,
                                      zone=zone, disk=disk), zone, f"deleting disk {disk}")
            except CmsError as error:
                left.append(f"disk {disk} ({error.message})")
        if left:
            raise CloudError(f"cloud '{self.cloud}': {instance.name} is deleted, but not: "
                             + ", ".join(left), "delete them in the console or with gcloud")
        return {**record, "status": "terminated", "state": "DELETED",
                "public_ips": [], "private_ips": []}

    def metadata_set(self, name: str, metadata: dict[str, str]) -> dict[str, str]:
        for key in metadata:
            if key in _HIDDEN or not _METADATA_KEY.fullmatch(str(key)):
                raise UsageError(f"'{key}' cannot be set as GCE metadata" + (
                    " (cms writes it)" if key in _HIDDEN else ""),
                    "use 1-128 letters, digits, '-' and '_'")
        types = sdk.types()
        for _ in range(5):  # a concurrent writer makes the fingerprint stale: read again
            instance = self._find(name)
            zone = _last(instance.zone)
            items = {i.key: i.value for i in instance.metadata.items}
            items.update({str(k): str(v) for k, v in metadata.items()})
            body = types.Metadata(fingerprint=instance.metadata.fingerprint,
                                  items=[types.Items(key=k, value=v) for k, v in items.items()])
            try:
                operation = self._call("instances", "set_metadata_unary",
                                       request=types.SetMetadataInstanceRequest(
                                           project=self.project, zone=zone,
                                           instance=instance.name, metadata_resource=body,
                                           request_id=str(uuid.uuid4())))
            except CloudError as error:
                if error.status == 412:
                    continue
                raise
            self._wait(operation, zone, f"setting metadata of {instance.name}")
            return self.metadata_get(instance.name)
        raise CloudError(f"cloud '{self.cloud}': the metadata of {name} kept changing",
                         "try again")

    # ---- images ----------------------------------------------------------------------
    def _image_projects(self) -> list[str]:
        chosen = self.defaults.get("image_projects")
        if chosen is None:
            chosen = list(DEFAULT_IMAGE_PROJECTS)
        elif isinstance(chosen, str):
            chosen = [p.strip() for p in chosen.split(",") if p.strip()]
        projects = [self.project] + [str(p) for p in chosen]
        return list(dict.fromkeys(projects))

    def images(self, all_builds: bool = False) -> list[dict[str, Any]]:
        """The project's own images and those of the image projects, newest per family
        (deprecated ones left out), as `gcloud compute images list` shows them;
        ``all_builds``: every image of those projects, deprecated builds included."""
        types = sdk.types()
        newest: dict[tuple[str, str], Any] = {}
        for project in self._image_projects():
            try:
                found = list(self._pages("images", "list",
                                         types.ListImagesRequest(project=project)))
            except NotFound:
                continue
            for image in found:
                if all_builds:
                    newest[(project, image.name)] = image
                    continue
                if image.deprecated.state in ("DEPRECATED", "OBSOLETE", "DELETED"):
                    continue
                key = (project, image.family or image.name)
                if key not in newest or _utc(image.creation_timestamp) > \
                        _utc(newest[key].creation_timestamp):
                    newest[key] = image
        return sorted((self._to_image(i) for i in newest.values()),
                      key=lambda r: (r["native"]["project"], r["name"]))

    def image(self, name: str) -> dict[str, Any]:
        return self.resolve_image(name)

    def resolve_image(self, ref: str) -> dict[str, Any]:
        """An image name (looked up in the project, then the image projects),
        ``family/F`` (the newest of family F there), or a URL
        ``[https://.../compute/v1/]projects/P/global/images/[family/]N``. A bare name
        that is no image is tried as a family too."""
        ref = str(ref).strip()
        match = _IMAGE_URL.fullmatch(ref)
        if match:
            project, family, image = match.groups()
            return self._to_image(self._image_get(project, image, bool(family)))
        family = ref.startswith("family/")
        name = ref[len("family/"):] if family else ref
        if not NAME_RULE.fullmatch(name):
            raise NotFound(f"no image '{ref}' on cloud '{self.cloud}'",
                           "give an image name, family/FAMILY or projects/P/global/images/N")
        attempts = [(p, family) for p in self._image_projects()]
        if not family:
            attempts += [(p, True) for p in self._image_projects()]
        for project, by_family in attempts:
            try:
                return self._to_image(self._image_get(project, name, by_family))
            except (NotFound, CredentialError):
                continue  # not in this project (or not readable there)
        raise NotFound(f"no image '{ref}' on cloud '{self.cloud}' (looked in "
                       f"{', '.join(self._image_projects())})",
                       f"see 'cms image list --cloud={self.cloud}'")

    def _image_get(self, project: str, name: str, family: bool) -> Any:
        if family:
            return self._call("images", "get_from_family", project=project, family=name)
        return self._call("images", "get", project=project, image=name)

    # ---- flavors ---------------------------------------------------------------------
    def flavors(self) -> list[dict[str, Any]]:
        types = sdk.types()
        request = types.ListMachineTypesRequest(project=self.project, zone=self.zone)
        return sorted((self._to_flavor(m) for m in self._pages(
            "machine_types", "list", request)), key=lambda f: f["name"])

    def flavor(self, name: str) -> dict[str, Any]:
        return self._to_flavor(self._machine_type_get(name, self.zone))

    def _machine_type(self, ref: str, zone: str) -> str:
        return self._machine_type_get(ref, zone).name

    def _machine_type_get(self, ref: str, zone: str) -> Any:
        match = _MACHINE_URL.fullmatch(str(ref))
        if match:
            zone, ref = match.groups()
        try:
            return self._call("machine_types", "get", project=self.project, zone=zone,
                              machine_type=str(ref))
        except NotFound:
            raise NotFound(f"no flavor (machine type) '{ref}' in zone {zone} of cloud "
                           f"'{self.cloud}'", f"see 'cms flavor list --cloud={self.cloud}'") \
                from None

    # ---- health ----------------------------------------------------------------------
    def check(self) -> str:
        zone = self._call("zones", "get", project=self.project, zone=self.zone)
        return f"project {self.project}, zone {zone.name} {zone.status}"


#: the request type of each instance verb (requestId travels only in the request object)
_REQUESTS = {"start_unary": "StartInstanceRequest", "stop_unary": "StopInstanceRequest",
             "reset_unary": "ResetInstanceRequest", "suspend_unary": "SuspendInstanceRequest",
             "resume_unary": "ResumeInstanceRequest"}

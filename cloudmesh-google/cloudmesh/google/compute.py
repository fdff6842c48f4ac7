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

Beside it: ``sdk`` (the libraries, imported on use, and the credentials), ``access``
(project ssh-keys, firewall groups), ``images`` (catalogue and image references) and
``launch`` (what an insert sends).
"""

from __future__ import annotations

import re
import sys
import uuid
from typing import Any

from cloudmesh.compute.abc import ComputeNodeABC, record_mapper
from cloudmesh.compute.bootspec import BootSpec
from cloudmesh.compute.errors import (CloudError, CmsError, ConfigError, CredentialError,
                                      NotFound, UsageError)
from cloudmesh.compute.kit.clients import client_on_first_use
from cloudmesh.compute.kit.deadline import bounded
from cloudmesh.compute.kit.finding import find_one
from cloudmesh.compute.kit.http import classify_http
from cloudmesh.compute.kit.paging import pages
from cloudmesh.compute.kit.polling import poll_until
from cloudmesh.compute.settings import seconds_setting
from cloudmesh.google import sdk
from cloudmesh.google.access import LOGIN, NAME_RULE, FirewallGroups, ProjectKeys, rewrite
from cloudmesh.google.images import IMAGE_URL, ImageCatalogue
from cloudmesh.google.launch import HIDDEN, Launch, check_metadata_keys

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
_MACHINE_URL = re.compile(r"(?:https?://[^/]+/compute/v1/)?(?:projects/[^/]+/)?"
                          r"zones/([^/]+)/machineTypes/([^/]+)")
#: where requests go when the cloud names no api_endpoint
DEFAULT_ENDPOINT = "https://compute.googleapis.com"
#: seconds a long-running operation (insert, stop, delete...) is waited for, unless
#: default.operation_timeout says otherwise
OPERATION_TIMEOUT = 900.0
#: the longest pause between two polls of an operation, in seconds (default.poll_interval
#: says otherwise); polls start 0.05 s apart and double up to it
POLL_INTERVAL = 2.0
#: error reasons GCE answers with 403 that are about quota or rate, not credentials
_THROTTLED = ("rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded",
              "dailyLimitExceeded")


def _last(link: str | None) -> str | None:
    return link.rsplit("/", 1)[-1] if link else None


def _local_login() -> str:
    """The local user as a Linux login GCE's guest agent accepts (gcloud's choice)."""
    import getpass

    try:
        user = getpass.getuser().lower()
    except Exception:  # no user name in the environment
        return "cms"
    user = re.sub(r"[^a-z0-9_.-]", "", user)
    return user if LOGIN.fullmatch(user or "") else "cms"


def _service_client(service: str) -> client_on_first_use:
    """The client of one Compute Engine service, made on first use (thread-safe), with
    the shared credentials and the configured endpoint, behind the origin guard."""
    def make(self: "Provider") -> Any:
        endpoint = self.credentials.get("api_endpoint")
        self.guard.allow(str(endpoint) if endpoint else DEFAULT_ENDPOINT)
        return sdk.client(service, self._auth[0], str(endpoint) if endpoint else None,
                          self.guard)
    make.__name__ = f"_{service}_client"
    return client_on_first_use(make)


class Provider(ImageCatalogue, Launch, ProjectKeys, FirewallGroups, ComputeNodeABC):
    kind = "google"
    credential_keys = ("project", "zone", "service_account_file", "access_token",
                       "api_endpoint")
    #: default: keys beyond the common ones (cloudmesh.compute.settings)
    settings = {"image_projects": list, "operation_timeout": float, "poll_interval": float}
    key_delivery = "inject"
    default_username = _local_login()
    unsupported: dict[str, str] = {}

    def __init__(self, cloud: str, spec: dict[str, Any]) -> None:
        super().__init__(cloud, spec)
        # a declared setting: the base class has refused a value that is no number
        self.operation_timeout = float(self.defaults.get("operation_timeout")
                                       or OPERATION_TIMEOUT)
        self.poll_interval = seconds_setting(self.defaults, "poll_interval", POLL_INTERVAL)

    # ---- credentials and clients -----------------------------------------------------
    @client_on_first_use
    def _auth(self) -> tuple[Any, str | None]:
        """(the credentials every client shares, the project they name), made once."""
        return sdk.credentials(self.cloud, self.credentials)

    @property
    def project(self) -> str:
        project = self.credentials.get("project") or self._auth[1]
        if not project:
            raise ConfigError(f"cloud '{self.cloud}': no Google project",
                              "set credentials.project")
        return str(project)

    @property
    def zone(self) -> str:
        zone = self.credentials.get("zone") or self.defaults.get("zone")
        if not zone:
            raise ConfigError(f"cloud '{self.cloud}': no zone", "set credentials.zone "
                              "(e.g. us-central1-a)")
        return str(zone)

    def _call(self, service: str, method: str, *, once: bool = False, **kwargs: Any) -> Any:
        """One request, translated and retried as base ``retry`` does (``once``: never
        repeated here, for inserts, which the facade tries again itself with the same
        requestId after looking for the VM), all of it within cm.timeout (slow reads
        included); the library's own retry is off (it would wait up to 600 s on 503 and
        knows no 429 or 500)."""
        function = getattr(getattr(self, f"_{service}_client"), method)  # see end of file
        send = self.translated if once else self.retry
        return bounded(lambda: send(function, retry=None, timeout=self.timeout, **kwargs),
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
        """Poll a zone (or global) operation until DONE (kit ``poll_until``: pauses
        doubling from 0.05 s up to ``poll_interval``, at most ``operation_timeout``
        seconds), through the same endpoint and credentials; a failed operation becomes
        a CloudError with GCE's message."""
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
                          timeout=self.operation_timeout, what=label,
                          interval=min(0.05, self.poll_interval),
                          max_interval=self.poll_interval)

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
        hidden = {key: metadata.pop(key) for key in HIDDEN if key in metadata}
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
        match = IMAGE_URL.search(image.self_link or "")
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

    def create(self, spec: BootSpec) -> dict[str, Any]:
        zone = str(spec.zone or self.zone)
        image = self.image(spec.image)
        machine = self._machine_type_get(spec.flavor, zone).name
        request = sdk.types().InsertInstanceRequest(
            project=self.project, zone=zone, request_id=self._request_id(spec.token),
            instance_resource=self._instance(spec, zone, machine, image["id"]))
        # a retry by the facade carries the same requestId: GCE answers the first operation
        operation = self._call("instances", "insert_unary", once=True, request=request)
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
        check_metadata_keys(metadata)
        types = sdk.types()

        def attempt() -> dict[str, str]:  # with the fingerprint of the instance read
            instance = self._find(name)
            zone = _last(instance.zone)
            items = {i.key: i.value for i in instance.metadata.items}
            items.update({str(k): str(v) for k, v in metadata.items()})
            body = types.Metadata(fingerprint=instance.metadata.fingerprint,
                                  items=[types.Items(key=k, value=v) for k, v in items.items()])
            operation = self._call("instances", "set_metadata_unary",
                                   request=types.SetMetadataInstanceRequest(
                                       project=self.project, zone=zone,
                                       instance=instance.name, metadata_resource=body,
                                       request_id=str(uuid.uuid4())))
            self._wait(operation, zone, f"setting metadata of {instance.name}")
            return self.metadata_get(instance.name)
        return rewrite(attempt, f"cloud '{self.cloud}'", f"the metadata of {name}")

    # ---- images (the catalogue and the notations: images.py) ------------------------
    def images(self, all_builds: bool = False) -> list[dict[str, Any]]:
        """The project's own images and those of the image projects, newest per family
        (deprecated ones left out); ``all_builds``: every build, deprecated ones too."""
        return sorted((self._to_image(i) for i in self._catalogue(all_builds)),
                      key=lambda r: (r["native"]["project"], r["name"]))

    def image(self, name: str) -> dict[str, Any]:
        """By name, ``family/F`` or URL (also what ``resolve_image`` answers)."""
        return self._to_image(self._image_object(name))

    # ---- flavors ---------------------------------------------------------------------
    def flavors(self) -> list[dict[str, Any]]:
        types = sdk.types()
        request = types.ListMachineTypesRequest(project=self.project, zone=self.zone)
        return sorted((self._to_flavor(m) for m in self._pages(
            "machine_types", "list", request)), key=lambda f: f["name"])

    def flavor(self, name: str) -> dict[str, Any]:
        return self._to_flavor(self._machine_type_get(name, self.zone))

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

# one client attribute per service (_instances_client, _zone_operations_client, ...)
for _service in sdk.CLASSES:
    setattr(Provider, f"_{_service}_client", _service_client(_service))

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

import hashlib
import importlib
import importlib.util
import re
import sys
import threading
import time
import uuid
from typing import Any

from cloudmesh.compute.abc import ComputeNodeABC, record_mapper
from cloudmesh.compute.errors import (CloudError, CmsError, ConfigError, CredentialError,
                                      NotFound, UsageError)
from cloudmesh.compute.lazy import require

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
#: RFC 1035 label, as GCE checks instance, firewall and tag names
NAME_RULE = re.compile(r"[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?")
DEFAULT_IMAGE_PROJECTS = ("ubuntu-os-cloud", "debian-cloud", "rocky-linux-cloud")
SCOPES = ["https://www.googleapis.com/auth/compute"]
#: instance metadata entries cms writes or reads itself; not shown as the user's metadata
_HIDDEN = ("ssh-keys", "user-data", "cms-key", "cms-image")
_IMAGE_URL = re.compile(r"(?:https?://[^/]+/compute/v1/)?projects/([^/]+)/global/images/"
                        r"(family/)?([^/]+)")
_MACHINE_URL = re.compile(r"(?:https?://[^/]+/compute/v1/)?(?:projects/[^/]+/)?"
                          r"zones/([^/]+)/machineTypes/([^/]+)")
_METADATA_KEY = re.compile(r"[A-Za-z0-9_-]{1,128}")
_LOGIN = re.compile(r"[a-z_][a-z0-9_.-]{0,31}")
_POLL_LIMIT = 900.0  # seconds an operation may run before cms stops waiting for it

_PACKAGE = "google.cloud.compute_v1"
_IMPORT_LOCK = threading.Lock()
_CLASSES = {"instances": "InstancesClient", "zone_operations": "ZoneOperationsClient",
            "global_operations": "GlobalOperationsClient", "images": "ImagesClient",
            "machine_types": "MachineTypesClient", "firewalls": "FirewallsClient",
            "projects": "ProjectsClient", "networks": "NetworksClient",
            "disks": "DisksClient", "zones": "ZonesClient"}


def _service(name: str):
    """``google.cloud.compute_v1.services.<name>`` without running the package's
    ``__init__``, which imports all ~150 services (about 1 s; Python 3.15 defers them
    through its ``__lazy_modules__``). The package is put in sys.modules unexecuted; a
    lookup of one of its own names (``compute_v1.InstancesClient``) runs it then, so
    other code that imports the whole package still works."""
    with _IMPORT_LOCK:
        if _PACKAGE not in sys.modules:
            try:
                spec = importlib.util.find_spec(_PACKAGE)
            except ImportError:
                spec = None
            if spec is None or spec.loader is None:
                require(_PACKAGE, "cloudmesh-google", "google-cloud-compute")
            else:
                package = importlib.util.module_from_spec(spec)

                def attribute(name: str, package=package, spec=spec):
                    if name.startswith("__"):
                        raise AttributeError(name)
                    try:
                        return importlib.import_module(f"{_PACKAGE}.{name}")
                    except ModuleNotFoundError as error:
                        if error.name != f"{_PACKAGE}.{name}":
                            raise
                    del package.__getattr__
                    spec.loader.exec_module(package)
                    try:
                        return package.__dict__[name]
                    except KeyError:
                        raise AttributeError(name) from None

                package.__getattr__ = attribute
                sys.modules[_PACKAGE] = package
                setattr(require("google.cloud", "cloudmesh-google", "google-cloud-compute"),
                        "compute_v1", package)
    return require(f"{_PACKAGE}.services.{name}", "cloudmesh-google", "google-cloud-compute")


def _types():
    _service("instances")  # makes sure the package is in place first
    return require(f"{_PACKAGE}.types.compute", "cloudmesh-google", "google-cloud-compute")


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
    return user if _LOGIN.fullmatch(user or "") else "cms"


class Provider(ComputeNodeABC):
    kind = "google"
    credential_keys = ("project", "zone", "service_account_file", "access_token",
                       "api_endpoint")
    key_delivery = "inject"
    default_username = _local_login()
    unsupported: dict[str, str] = {}

    def __init__(self, cloud: str, spec: dict[str, Any]) -> None:
        super().__init__(cloud, spec)
        self._clients: dict[str, Any] = {}
        self._auth = None
        self._project: str | None = self.credentials.get("project") or None
        self._lock = threading.Lock()

    # ---- credentials and clients -----------------------------------------------------
    def _credentials(self):
        """The credentials every client shares: an access token, a service-account
        file, or Application Default Credentials, in that order."""
        if self._auth is not None:
            return self._auth
        creds, where = self.credentials, f"cloud '{self.cloud}'"
        if creds.get("access_token"):
            oauth2 = require("google.oauth2.credentials", "cloudmesh-google", "google-auth")
            self._auth = oauth2.Credentials(str(creds["access_token"]))
        elif creds.get("service_account_file"):
            self._auth = self._service_account(str(creds["service_account_file"]))
        else:
            auth = require("google.auth", "cloudmesh-google", "google-auth")
            exceptions = require("google.auth.exceptions", "cloudmesh-google", "google-auth")
            try:
                self._auth, project = auth.default(scopes=SCOPES)
            except exceptions.DefaultCredentialsError:
                raise CredentialError(
                    f"{where}: no Google credentials (no access_token, no "
                    "service_account_file, no Application Default Credentials)",
                    "set credentials.access_token or credentials.service_account_file, or "
                    "run 'gcloud auth application-default login'") from None
            self._project = self._project or project
        return self._auth

    def _service_account(self, path: str):
        import json
        import os

        from cloudmesh.compute.endpoints import check_endpoint

        where = f"cloud '{self.cloud}': credentials.service_account_file"
        full = os.path.expanduser(path)
        try:
            with open(full, encoding="utf-8") as handle:
                info = json.load(handle)
        except FileNotFoundError:
            raise ConfigError(f"{where}: no such file {path}") from None
        except (OSError, ValueError) as error:
            raise ConfigError(f"{where}: cannot read {path} as JSON "
                              f"({type(error).__name__})") from None
        if not isinstance(info, dict) or info.get("type") != "service_account":
            raise ConfigError(f"{where}: {path} is not a service-account key file",
                              "download a JSON key of a service account")
        if info.get("token_uri"):  # the file says where its credentials are sent
            check_endpoint(info["token_uri"], f"{where} ({path}): token_uri")
        account = require("google.oauth2.service_account", "cloudmesh-google", "google-auth")
        try:
            credentials = account.Credentials.from_service_account_info(info, scopes=SCOPES)
        except (ValueError, KeyError) as error:
            raise ConfigError(f"{where}: {path} is not a usable service-account key "
                              f"({type(error).__name__})") from None
        self._project = self._project or info.get("project_id")
        return credentials

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
        """One client per service, all with the same endpoint and credentials."""
        with self._lock:
            client = self._clients.get(service)
            if client is None:
                module = _service(service)
                endpoint = self.credentials.get("api_endpoint")
                client = getattr(module, _CLASSES[service])(
                    credentials=self._credentials(), transport="rest",
                    client_options={"api_endpoint": str(endpoint)} if endpoint else None)
                self._clients[service] = client
        return client

    def _call(self, service: str, method: str, **kwargs: Any) -> Any:
        """One request, translated and retried as base ``retry`` does; the library's own
        retry is off (it would wait up to 600 s on 503 and knows no 429 or 500)."""
        function = getattr(self._client(service), method)
        return self.retry(function, retry=None, timeout=self.timeout, **kwargs)

    def _call_once(self, service: str, method: str, **kwargs: Any) -> Any:
        """One request, translated, never repeated here: for inserts, which the facade
        tries again itself (with the same requestId) after looking for the VM."""
        try:
            return getattr(self._client(service), method)(retry=None, timeout=self.timeout,
                                                          **kwargs)
        except CmsError:
            raise
        except Exception as error:
            translated = self.translate_error(error)
            if translated is None:
                raise
            raise translated from error

    def _pages(self, service: str, method: str, request: Any):
        """Every page of a list, each page fetched (and retried) alone."""
        while True:
            pager = self._call(service, method, request=request)
            page = next(iter(pager.pages))  # the response already fetched: no request
            yield page
            if not page.next_page_token:
                return
            request.page_token = page.next_page_token

    # ---- errors ----------------------------------------------------------------------
    def translate_error(self, error: Exception) -> CmsError | None:
        where = f"cloud '{self.cloud}'"
        core = require("google.api_core.exceptions", "cloudmesh-google", "google-api-core")
        auth = require("google.auth.exceptions", "cloudmesh-google", "google-auth")
        if isinstance(error, auth.DefaultCredentialsError):
            return CredentialError(f"{where}: {error}", "check credentials in cloudmesh.yaml")
        if isinstance(error, auth.RefreshError):
            return CredentialError(f"{where}: Google refused the credentials "
                                   f"({type(error).__name__}: the token is invalid or "
                                   "expired)", "get a new access_token or use a "
                                               "service_account_file")
        if isinstance(error, auth.TransportError):
            return CloudError(f"{where}: cannot reach Google's token service", retryable=True)
        if isinstance(error, core.GoogleAPICallError):
            code = error.code or 0
            reason = next((e.get("reason") for e in error.errors or ()
                           if isinstance(e, dict) and e.get("reason")), None)
            text = f"{where}: Compute Engine {code}" + (f" {reason}" if reason else "") \
                + f": {error.message}"
            throttled = reason in ("rateLimitExceeded", "userRateLimitExceeded")
            if code in (401, 403) and not throttled and reason not in ("quotaExceeded",
                                                                       "dailyLimitExceeded"):
                return CredentialError(text, "check the credentials with 'cms check'")
            if code == 404:
                return NotFound(text)
            return CloudError(text, retryable=code in (429, 500, 502, 503, 504) or throttled)
        if isinstance(error, core.RetryError):
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
        """Poll a zone (or global) operation until DONE, through the same endpoint and
        credentials; a failed operation becomes a CloudError with GCE's message."""
        types = _types()
        done = types.Operation.Status.DONE
        started, interval = time.monotonic(), 0.05
        while operation.status != done:
            if time.monotonic() - started > _POLL_LIMIT:
                raise CloudError(f"cloud '{self.cloud}': {what or operation.name} is not "
                                 f"done after {_POLL_LIMIT:.0f}s (operation "
                                 f"{operation.name})")
            time.sleep(interval)
            interval = min(2.0, interval * 1.6)
            if zone:
                operation = self._call("zone_operations", "get", project=self.project,
                                       zone=zone, operation=operation.name)
            else:
                operation = self._call("global_operations", "get", project=self.project,
                                       operation=operation.name)
        errors = list(operation.error.errors) if operation.error else []
        if errors:
            message = "; ".join(f"{e.code}: {e.message}" if e.code else e.message
                                for e in errors)
            status = operation.http_error_status_code or 0
            raise CloudError(f"cloud '{self.cloud}': {what or operation.operation_type} "
                             f"failed: {message}",
                             retryable=status in (429, 503) or any(
                                 e.code in ("ZONE_RESOURCE_POOL_EXHAUSTED",
                                            "RATE_LIMIT_EXCEEDED") for e in errors))
        return operation

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
        if logins and "username" not in metadata:
            metadata["username"] = logins[0]  # the login the injected key is for
        zone = _last(pb.zone)
        status = pb.status
        return self.vm_record(
            name=pb.name,
            id=str(pb.id) if pb.id else pb.name,
            status=NODE_STATE_MAP.get(status, "unknown"),
            state=status,
            image=_last(hidden.get("cms-image")),
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

    @record_mapper("image")
    def _to_image(self, image: Any) -> dict[str, Any]:
        match = _IMAGE_URL.search(image.self_link or "")
        project = match.group(1) if match else self.project
        family = image.family or None
        os_name = {"ubuntu-os-cloud": "ubuntu", "debian-cloud": "debian",
                   "rocky-linux-cloud": "rocky-linux"}.get(project)
        return self.image_record(
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
        types = _types()
        request = types.AggregatedListInstancesRequest(project=self.project)
        if filter_:
            request.filter = filter_
        found = []
        for page in self._pages("instances", "aggregated_list", request):
            for scoped in types.InstanceAggregatedList.pb(page).items.values():
                found.extend(scoped.instances)
        return found

    def list(self) -> list[dict[str, Any]]:
        return [self._to_vm(instance) for instance in self._aggregated()]

    def _find(self, name: str) -> Any:
        """The instance a name (or numeric id) stands for: first in the configured zone
        (one GET), then across zones."""
        zone = self.credentials.get("zone") or self.defaults.get("zone")
        if zone and NAME_RULE.fullmatch(name):
            try:
                return self._call("instances", "get", project=self.project, zone=str(zone),
                                  instance=name)
            except NotFound:
                pass
        field = "id" if name.isdigit() else "name"
        if field == "name" and not NAME_RULE.fullmatch(name):
            raise NotFound(f"no VM named '{name}' on cloud '{self.cloud}'")
        found = self._aggregated(f'{field} = "{name}"')
        if not found:
            raise NotFound(f"no VM named '{name}' on cloud '{self.cloud}'",
                           f"see 'cms vm list --cloud={self.cloud}'")
        if len(found) > 1:
            zones = ", ".join(sorted(_last(i.zone) for i in found))
            raise UsageError(f"{len(found)} VMs on '{self.cloud}' are named '{name}' "
                             f"(zones {zones})", "use the instance id instead of the name")
        return found[0]

    def info(self, name: str) -> dict[str, Any]:
        return self._to_vm(self._find(name))

    def _network(self, spec: Any) -> tuple[str, str | None]:
        """The network (and subnetwork) to attach: the one named, else 'default', else
        the only one; several and none named is a usage error listing them."""
        region = str(spec.zone or self.zone).rsplit("-", 1)[0]
        subnet = f"regions/{region}/subnetworks/{spec.subnet}" if spec.subnet else None
        if spec.network:
            return f"global/networks/{spec.network}", subnet
        types = _types()
        names = [n.name for page in self._pages(
            "networks", "list", types.ListNetworksRequest(project=self.project))
            for n in page.items]
        if "default" in names:
            return "global/networks/default", subnet
        if len(names) == 1:
            return f"global/networks/{names[0]}", subnet
        if not names:
            raise CloudError(f"cloud '{self.cloud}': project {self.project} has no network",
                             "create a VPC network first")
        raise UsageError(f"cloud '{self.cloud}' has several networks and none is chosen: "
                         f"{', '.join(sorted(names))}", "set default.network or --network")

    def create(self, spec: Any) -> dict[str, Any]:
        types = _types()
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
            if not _LOGIN.fullmatch(spec.username or ""):
                raise UsageError(f"'{spec.username}' is not a login GCE can create",
                                 "use a lowercase user name (letters, digits, '_', '-')")
            items["ssh-keys"] = f"{spec.username}:{spec.key['public_key'].strip()}"
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
        request = getattr(_types(), _REQUESTS[method])(
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
        types = _types()
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
        types = _types()
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
                if "412" in error.message:
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

    def images(self) -> list[dict[str, Any]]:
        """The project's own images and those of the image projects, newest per family
        (deprecated ones left out), as `gcloud compute images list` shows them."""
        types = _types()
        newest: dict[tuple[str, str], Any] = {}
        for project in self._image_projects():
            try:
                pages = list(self._pages("images", "list",
                                         types.ListImagesRequest(project=project)))
            except NotFound:
                continue
            for page in pages:
                for image in page.items:
                    if image.deprecated.state in ("DEPRECATED", "OBSOLETE", "DELETED"):
                        continue
                    key = (project, image.family or image.name)
                    if key not in newest or image.creation_timestamp > \
                            newest[key].creation_timestamp:
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
        types = _types()
        request = types.ListMachineTypesRequest(project=self.project, zone=self.zone)
        return sorted((self._to_flavor(m) for page in self._pages(
            "machine_types", "list", request) for m in page.items), key=lambda f: f["name"])

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

    # ---- keys: the project's ssh-keys metadata ---------------------------------------
    def _project_metadata(self) -> tuple[str, dict[str, str]]:
        project = self._call("projects", "get", project=self.project)
        metadata = project.common_instance_metadata
        return metadata.fingerprint, {i.key: i.value for i in metadata.items}

    def _write_project_metadata(self, change) -> None:
        """Read, change, write with the fingerprint read; a stale one (412: another writer
        came first) starts over."""
        types = _types()
        for _ in range(5):
            fingerprint, items = self._project_metadata()
            change(items)
            body = types.Metadata(fingerprint=fingerprint,
                                  items=[types.Items(key=k, value=v) for k, v in items.items()])
            try:
                operation = self._call(
                    "projects", "set_common_instance_metadata_unary",
                    request=types.SetCommonInstanceMetadataProjectRequest(
                        project=self.project, metadata_resource=body,
                        request_id=str(uuid.uuid4())))
            except CloudError as error:
                if "412" in error.message:
                    continue
                raise
            self._wait(operation, None, "writing the project's ssh-keys")
            return
        raise CloudError(f"cloud '{self.cloud}': the project's metadata kept changing",
                         "try again")

    @record_mapper("ssh key")
    def _to_key(self, line: str) -> dict[str, Any]:
        from cloudmesh.compute.keys import fingerprint

        user, key = line.split(":", 1)
        try:
            print_ = fingerprint(key)
        except CmsError:
            print_ = None
        return self.key_record(name=user, fingerprint=print_,
                               native={"public_key": key.strip()})

    @staticmethod
    def _key_lines(items: dict[str, str]) -> list[str]:
        return [line for line in (items.get("ssh-keys") or "").splitlines()
                if ":" in line and line.strip()]

    def keys(self) -> list[dict[str, Any]]:
        _, items = self._project_metadata()
        return sorted((self._to_key(line) for line in self._key_lines(items)),
                      key=lambda k: k["name"])

    def key_upload(self, name: str, public_key: str) -> dict[str, Any]:
        """Add ``name:public_key`` to the project's ssh-keys: GCE's guest agent makes
        the login ``name`` with that key on every VM of the project."""
        from cloudmesh.compute.keys import fingerprint

        if not _LOGIN.fullmatch(name):
            raise UsageError(f"'{name}' cannot be a GCE ssh-keys user",
                             "use a lowercase login name (letters, digits, '_', '-')")
        wanted = fingerprint(public_key)

        def change(items: dict[str, str]) -> None:
            lines = self._key_lines(items)
            same = [self._to_key(line) for line in lines if line.split(":", 1)[0] == name]
            if any(k["fingerprint"] == wanted for k in same):
                return
            if same:
                raise CloudError(f"cloud '{self.cloud}': the project already has a key "
                                 f"'{name}' with another fingerprint",
                                 "delete it first or use another name")
            items["ssh-keys"] = "\n".join(lines + [f"{name}:{public_key.strip()}"])
        self._write_project_metadata(change)
        return next(k for k in self.keys() if k["name"] == name and k["fingerprint"] == wanted)

    def key_delete(self, name: str) -> None:
        def change(items: dict[str, str]) -> None:
            lines = self._key_lines(items)
            kept = [line for line in lines if line.split(":", 1)[0] != name]
            if len(kept) == len(lines):
                raise NotFound(f"no key '{name}' in the ssh-keys of project {self.project}")
            if kept:
                items["ssh-keys"] = "\n".join(kept)
            else:
                items.pop("ssh-keys", None)
        self._write_project_metadata(change)

    # ---- security groups: firewall rules bound by target tag -------------------------
    def _firewalls(self) -> list[Any]:
        types = _types()
        return [f for page in self._pages("firewalls", "list",
                                          types.ListFirewallsRequest(project=self.project))
                for f in page.items]

    @staticmethod
    def _firewall_rules(firewall: Any) -> list[dict[str, Any]]:
        if firewall.disabled or not firewall.allowed:
            return []  # a group's anchor, or a deny rule (cms rules allow)
        ingress = firewall.direction != "EGRESS"
        ranges = list(firewall.source_ranges if ingress else firewall.destination_ranges)
        rules = []
        for allowed in firewall.allowed:
            protocol = allowed.I_p_protocol.lower()
            spans: list[tuple[int | None, int | None]] = []
            for port in allowed.ports:
                low, _, high = port.partition("-")
                spans.append((int(low), int(high or low)))
            if not spans:
                spans = [(0, 65535)] if protocol in ("tcp", "udp") else [(None, None)]
            rules += [{"direction": "ingress" if ingress else "egress", "protocol": protocol,
                       "from_port": low, "to_port": high, "cidr": cidr}
                      for low, high in spans for cidr in ranges]
        return rules

    def _groups(self) -> dict[str, list[Any]]:
        """Group name -> its firewalls: by target tag; a firewall without target tags
        applies to every VM and is a group of its own name."""
        groups: dict[str, list[Any]] = {}
        for firewall in self._firewalls():
            for tag in list(firewall.target_tags) or [firewall.name]:
                groups.setdefault(tag, []).append(firewall)
        return groups

    def secgroups(self) -> list[dict[str, Any]]:
        records = []
        for name, firewalls in sorted(self._groups().items()):
            anchor = next((f for f in firewalls if f.name == name), firewalls[0])
            records.append(self.secgroup_record(
                name=name, id=name, description=anchor.description or None,
                rules=[r for f in firewalls for r in self._firewall_rules(f)],
                native={"firewalls": sorted(f.name for f in firewalls)}))
        return records

    def _network_link(self) -> str:
        return f"global/networks/{self.defaults.get('network') or 'default'}"

    def secgroup_create(self, name: str, description: str) -> dict[str, Any]:
        """A group is born as its anchor: a disabled deny rule named after the group,
        bound to the tag, carrying the description (a firewall needs a rule)."""
        types = _types()
        if not NAME_RULE.fullmatch(name):
            raise UsageError(f"'{name}' cannot be a GCE network tag (security group)",
                             "use lowercase letters, digits and '-', at most 63")
        anchor = types.Firewall(
            name=name, network=self._network_link(), description=description or name,
            direction="INGRESS", priority=65535, disabled=True, target_tags=[name],
            source_ranges=["0.0.0.0/0"], denied=[types.Denied(I_p_protocol="all")])
        self._wait(self._call("firewalls", "insert_unary", request=types.InsertFirewallRequest(
            project=self.project, firewall_resource=anchor, request_id=str(uuid.uuid4()))),
            None, f"creating security group {name}")
        return next(g for g in self.secgroups() if g["name"] == name)

    @staticmethod
    def _rule_name(group: str, rule: dict[str, Any]) -> str:
        key = "|".join(str(rule.get(f)) for f in ("direction", "protocol", "from_port",
                                                   "to_port", "cidr"))
        return f"{group[:54]}-{hashlib.sha256(key.encode()).hexdigest()[:8]}"

    def secgroup_add_rules(self, name: str, rules: list[dict[str, Any]]) -> None:
        types = _types()
        if name not in self._groups():
            raise NotFound(f"no security group '{name}' on cloud '{self.cloud}'")
        for rule in rules:
            protocol = rule["protocol"]
            allowed = types.Allowed(I_p_protocol=protocol)
            if protocol in ("tcp", "udp") and rule.get("from_port") is not None:
                low, high = rule["from_port"], rule.get("to_port") or rule["from_port"]
                allowed.ports = [str(low) if low == high else f"{low}-{high}"]
            ingress = rule.get("direction", "ingress") == "ingress"
            firewall = types.Firewall(
                name=self._rule_name(name, rule), network=self._network_link(),
                description=f"cms security group {name}",
                direction="INGRESS" if ingress else "EGRESS", priority=1000,
                target_tags=[name], allowed=[allowed])
            if ingress:
                firewall.source_ranges = [rule["cidr"]]
            else:
                firewall.destination_ranges = [rule["cidr"]]
            try:
                operation = self._call("firewalls", "insert_unary",
                                       request=types.InsertFirewallRequest(
                                           project=self.project, firewall_resource=firewall,
                                           request_id=str(uuid.uuid4())))
            except CloudError as error:
                if "alreadyExists" in error.message:
                    continue  # this very rule is there
                raise
            self._wait(operation, None, f"adding a rule to {name}")

    def secgroup_remove_rules(self, name: str, rules: list[dict[str, Any]]) -> None:
        from cloudmesh.compute.secgroups import difference

        firewalls = self._groups().get(name)
        if firewalls is None:
            raise NotFound(f"no security group '{name}' on cloud '{self.cloud}'")
        for firewall in firewalls:
            held = self._firewall_rules(firewall)
            _, kept = difference(rules, held)  # the rules of ``held`` not in ``rules``
            if len(kept) == len(held):
                continue
            if kept:
                raise CloudError(f"cloud '{self.cloud}': firewall {firewall.name} holds "
                                 "other rules too; cms removes whole firewall rules only",
                                 "edit it with gcloud or in the console")
            self._delete_firewall(firewall.name)

    def _delete_firewall(self, name: str) -> None:
        types = _types()
        self._wait(self._call("firewalls", "delete_unary", request=types.DeleteFirewallRequest(
            project=self.project, firewall=name, request_id=str(uuid.uuid4()))),
            None, f"deleting firewall {name}")

    def secgroup_delete(self, name: str) -> None:
        """Delete the firewalls bound to this tag alone (or named after the group)."""
        firewalls = self._groups().get(name)
        if firewalls is None:
            raise NotFound(f"no security group '{name}' on cloud '{self.cloud}'")
        shared = [f.name for f in firewalls if len(f.target_tags) > 1]
        for firewall in firewalls:
            if firewall.name not in shared:
                self._delete_firewall(firewall.name)
        if shared:
            raise CloudError(f"cloud '{self.cloud}': firewalls {', '.join(shared)} also "
                             f"apply to other tags and were kept",
                             "remove the tag from them with gcloud or in the console")

    # ---- health ----------------------------------------------------------------------
    def check(self) -> str:
        zone = self._call("zones", "get", project=self.project, zone=self.zone)
        return f"project {self.project}, zone {zone.name} {zone.status}"


#: the request type of each instance verb (requestId travels only in the request object)
_REQUESTS = {"start_unary": "StartInstanceRequest", "stop_unary": "StopInstanceRequest",
             "reset_unary": "ResetInstanceRequest", "suspend_unary": "SuspendInstanceRequest",
             "resume_unary": "ResumeInstanceRequest"}

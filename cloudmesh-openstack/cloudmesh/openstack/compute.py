"""OpenStack provider (kind ``openstack``), over openstacksdk's ``Connection`` proxies.

It maps Nova servers, Glance images, Nova flavors and key pairs, and Neutron security
groups to cms records, and does nothing else. Only proxy calls are used: the SDK's cloud
layer (``create_server(auto_ip=True)``, ``delete_server(delete_ips=True)``) may reuse or
release floating IPs the project held before, which cms must never touch.

Built on the provider kit (docs/providers.md): waits use ``poll_until``, a server is
found by ``find_one``, and keystoneauth's requests.Session carries the kit's origin guard,
so the token goes only to the configured auth_url and the endpoints the Keystone catalog
returned, whatever link the SDK follows while paging; each of its requests is bounded by
cm.timeout and each listing by the page rules (``transport.py``). Floating IPs
and network choice are in ``network.py``, images in ``images.py``, key pairs in
``keypairs.py``, security groups in ``secgroups.py``.
"""

from __future__ import annotations

import base64
import re
from typing import TYPE_CHECKING, Any, Callable

from cloudmesh.compute.abc import ComputeNodeABC, record_mapper
from cloudmesh.compute.endpoints import check_endpoint
from cloudmesh.compute.errors import (CloudError, CmsError, ConfigError, CredentialError,
                                      NotFound)
from cloudmesh.compute.kit.cloudinit import add_user
from cloudmesh.compute.kit.clients import client_on_first_use
from cloudmesh.compute.kit.finding import find_one
from cloudmesh.compute.kit.http import classify_http
from cloudmesh.compute.kit.polling import poll_until
from cloudmesh.compute.settings import seconds_setting
from cloudmesh.openstack.images import UUID, ImageVerbs, login_of
from cloudmesh.openstack.keypairs import KeyPairVerbs
from cloudmesh.openstack.secgroups import SecurityGroupVerbs
from cloudmesh.openstack.session import connect
from cloudmesh.openstack.transport import bound_requests, listing
from cloudmesh.openstack.network import (attach_floating_ip, boot_network,
                                         external_network, has_floating,
                                         owned_floating_ips, release)

if TYPE_CHECKING:  # pragma: no cover
    from cloudmesh.compute.boot import BootSpec

#: Nova server status -> cms status
NODE_STATE_MAP = {
    "BUILD": "booting",
    "REBUILD": "booting",
    "ACTIVE": "running",
    "VERIFY_RESIZE": "running",
    "RESIZE": "running",
    "MIGRATING": "running",
    "RESCUE": "running",
    "PASSWORD": "running",
    "REBOOT": "rebooting",
    "HARD_REBOOT": "rebooting",
    "SHUTOFF": "stopped",
    "SHELVED": "stopped",
    "SHELVED_OFFLOADED": "stopped",
    "PAUSED": "suspended",
    "SUSPENDED": "suspended",
    "ERROR": "error",
    "SOFT_DELETED": "deleting",
    "DELETED": "terminated",
}
#: a task in progress says more than the status it started from (Nova keeps ACTIVE
#: while a server is being deleted or powered off)
TASK_STATE_MAP = {
    "deleting": "deleting",
    "powering-off": "stopping",
    "suspending": "stopping",
    "shelving": "stopping",
    "powering-on": "booting",
    "resuming": "booting",
    "unshelving": "booting",
    "rebooting": "rebooting",
    "reboot_pending": "rebooting",
    "reboot_started": "rebooting",
    "rebooting_hard": "rebooting",
    "reboot_pending_hard": "rebooting",
    "reboot_started_hard": "rebooting",
}
#: server metadata key holding the login the boot's key is for (the record's username)
USER_KEY = "cms-user"
#: how long a boot may stay in BUILD, and a deleted server may linger, before cms gives up
BUILD_TIMEOUT = 1800.0
DELETE_TIMEOUT = 600.0
#: the longest pause between two polls of a server, in seconds (default.poll_interval
#: overrides): the first pause is 0.05 s (or this, if shorter), then it doubles up to it
POLL_INTERVAL = 5.0


class Provider(ImageVerbs, KeyPairVerbs, SecurityGroupVerbs, ComputeNodeABC):
    kind = "openstack"
    credential_keys = ("cloud", "auth_url", "username", "password", "project_name",
                       "user_domain_name", "project_domain_name", "region_name",
                       "application_credential_id", "application_credential_secret")
    #: default: keys beyond the common ones (cloudmesh.compute.settings)
    settings: dict[str, Any] = {"poll_interval": float}
    unsupported = {
        "subnet": "Nova attaches a server to a network and Neutron picks the subnet; "
                  "choose the network with --network",
        "disk_gb": "the root disk is the flavor's; pick a flavor with a larger disk",
    }
    key_delivery = "keypair"
    default_username = "ubuntu"

    def __init__(self, cloud: str, spec: dict[str, Any]) -> None:
        super().__init__(cloud, spec)
        self._checked: set[str] = set()  # services whose catalog endpoint was checked
        self._image_logins: dict[str, str] = {}  # image id -> its login
        # a declared setting: the base class has refused a value that is no number
        self.poll_interval = seconds_setting(self.defaults, "poll_interval", POLL_INTERVAL)

    # ---- connection -------------------------------------------------------------------
    @client_on_first_use
    def connection(self):
        """The SDK connection, made on first use (thread-safe: boots fan out). It never
        retries by itself (keystoneauth would resend a server create whose answer was
        lost); reads go through ``self.call``. Its requests.Session is origin-guarded, and
        each request it sends ends within cm.timeout."""
        from cloudmesh.compute.kit.transport import guard_requests_session

        connection = self._connect()
        auth_url = (connection.config.config.get("auth") or {}).get("auth_url")
        if auth_url:
            self.guard.allow(auth_url)
        guard_requests_session(connection.session.session, self.guard)
        bound_requests(connection.session.session, self.timeout, self.cloud)
        return connection

    def _connect(self):
        return connect(self)

    def _proxy(self, service: str):
        """A service proxy whose catalog endpoint passed check_endpoint: the catalog comes
        from the cloud, and the token must not travel in clear text either."""
        proxy = getattr(self.connection, service)
        if service not in self._checked:
            url = self.call(proxy.get_endpoint)
            check_endpoint(url, f"cloud '{self.cloud}': the {service} endpoint in the "
                                "Keystone catalog")
            self.guard.allow(url)  # the identity service named it: a trusted origin
            # its versions (Nova's microversions) discovered now, once, not as the first
            # "page" of a listing
            self.call(proxy.get_endpoint_data)
            self._checked.add(service)
        return proxy

    @property
    def compute(self):
        return self._proxy("compute")

    @property
    def network(self):
        return self._proxy("network")

    @property
    def image_service(self):
        return self._proxy("image")

    @property
    def region(self) -> str | None:
        made = self.__dict__.get("connection")
        return self.credentials.get("region_name") or (
            made.config.region_name if made is not None else None)

    # ---- errors -----------------------------------------------------------------------
    def translate_error(self, error: Exception) -> CmsError | None:
        import sys

        where = f"cloud '{self.cloud}'"
        sdk = sys.modules.get("openstack.exceptions")
        ksa = sys.modules.get("keystoneauth1.exceptions")
        if ksa is not None:
            if isinstance(error, (ksa.Unauthorized, ksa.Forbidden)) and not (
                    sdk and isinstance(error, sdk.HttpException)):
                return CredentialError(f"{where}: Keystone refused the credentials "
                                       f"({error.http_status} {type(error).__name__})",
                                       "check them with 'cms check'")
            if isinstance(error, (ksa.MissingAuthPlugin, ksa.MissingRequiredOptions,
                                  ksa.NoMatchingPlugin)):
                return CredentialError(f"{where}: incomplete OpenStack credentials: {error}")
            if isinstance(error, ksa.EndpointNotFound):
                return ConfigError(f"{where}: the service catalog has no such endpoint "
                                   f"({error})", "check credentials.region_name")
            if isinstance(error, ksa.ConnectTimeout):
                return CloudError(f"{where}: OpenStack did not answer within "
                                  f"{self.timeout:g}s", "raise cm.timeout or try later",
                                  retryable=True)
            if isinstance(error, (ksa.ConnectFailure, ksa.RetriableConnectionFailure,
                                  ksa.SSLError)):
                # "Unable to establish connection to URL: <urllib3's whole story>"
                text = re.split(r": (?:HTTP|\(|<)", str(error), maxsplit=1)[0]
                return CloudError(f"{where}: cannot reach OpenStack: {text}",
                                  retryable=not isinstance(error, ksa.SSLError))
            if isinstance(error, ksa.DiscoveryFailure):
                unreachable = isinstance(error.__context__, ksa.ConnectFailure)
                return CloudError(f"{where}: " + (
                    "cannot reach Keystone" if unreachable else
                    "Keystone did not answer with its API versions") +
                    f" at {self._auth_url()}", "check credentials.auth_url (it ends in /v3 "
                    "on most clouds) or try later", retryable=unreachable)
            if isinstance(error, ksa.HttpError) and not (
                    sdk and isinstance(error, sdk.HttpException)):
                return classify_http(error.http_status, None, f"OpenStack answered "
                                     f"{error.http_status}: {error.message}", cloud=self.cloud)
        if sdk is not None:
            if isinstance(error, sdk.HttpException):
                return self._http_error(error)
            if isinstance(error, sdk.ConfigException):
                return ConfigError(f"{where}: {error}", "check credentials.region_name and "
                                   "the service catalog ('openstack catalog list')")
            if isinstance(error, sdk.SDKException):
                return CloudError(f"{where}: {error}")
        if ksa is not None and isinstance(error, ksa.ClientException):
            return CloudError(f"{where}: {error}")
        return None

    def _auth_url(self) -> str | None:
        made = self.__dict__.get("connection")
        if made is not None:
            return (made.config.config.get("auth") or {}).get("auth_url")
        return self.credentials.get("auth_url")

    def _http_error(self, error: Any) -> CmsError:
        """The SDK's HttpException by status, with the cloud's own code and message:
        Nova's ``{"itemNotFound": {"message"}}``, Neutron's ``{"NeutronError": {"type",
        "message"}}``, or the plain text Glance sends."""
        code, details = None, getattr(error, "details", None)
        response = getattr(error, "response", None)
        try:
            body = response.json() if response is not None else None
        except ValueError:
            body = None
        if isinstance(body, dict) and len(body) == 1:
            (key, inner), = body.items()
            if isinstance(inner, dict):
                code = str(inner.get("type") or key)
                details = inner.get("message") or details
        status = getattr(error, "status_code", None)
        message = f"{status} {details or getattr(error, 'message', error)}".strip()
        return classify_http(status, code, message, cloud=self.cloud)

    # ---- mappers ----------------------------------------------------------------------
    @record_mapper("server")
    def _to_vm(self, server) -> dict[str, Any]:
        state = server.status or "UNKNOWN"
        task = server.task_state
        status = TASK_STATE_MAP.get(task) or NODE_STATE_MAP.get(state, "unknown")
        public, private = [], []
        for entries in (server.addresses or {}).values():
            for entry in entries:
                # a floating IP is public; a fixed one (or one of a cloud that does not
                # say, as Rackspace's recorded answers) is public when globally routable:
                # a provider network hands servers such addresses directly
                kind = entry.get("OS-EXT-IPS:type")
                (public if kind == "floating" or _is_global(entry["addr"])
                 else private).append(entry["addr"])
        flavor = server.flavor
        flavor_name = (flavor.original_name or flavor.name or _text(flavor.id)) if flavor \
            else None
        native = {"vm_state": server.vm_state, "task_state": task,
                  "power_state": server.power_state}
        if flavor is not None and not (flavor.original_name or flavor.name):
            native["flavor_id"] = _text(flavor.id)  # named by list/info
        if server.fault:
            native["fault"] = server.fault.get("message")
        return self.vm_record(
            name=server.name or str(server.id),
            id=str(server.id),  # ids are strings; some clouds send numbers (Rackspace)
            status=status,
            state=state,
            image=_text((server.image or {}).get("id")),
            flavor=flavor_name,
            public_ips=public,
            private_ips=private,
            key=server.key_name,
            username=(server.metadata or {}).get(USER_KEY),
            secgroups=[g.get("name") for g in server.security_groups or ()],
            region=self.region,
            zone=server.availability_zone,
            created=server.created_at,
            metadata={k: v for k, v in (server.metadata or {}).items() if k != USER_KEY},
            native=native,
        )

    @record_mapper("flavor")
    def _to_flavor(self, flavor) -> dict[str, Any]:
        return self.flavor_record(name=flavor.name, id=str(flavor.id), vcpus=flavor.vcpus,
                                  ram_mb=flavor.ram, disk_gb=flavor.disk)

    # ---- calls, lists and finding servers ----------------------------------------------
    def call(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """One SDK call, retried when retryable (each request bounded by cm.timeout)."""
        return self.retry(function, *args, **kwargs)

    def listed(self, items: Callable[[], Any], what: str) -> list:
        """Every item of an SDK listing: the SDK follows Nova's, Neutron's and Glance's
        next links through the origin-guarded session; each page's request is bounded by
        cm.timeout (a large account may take longer in all) and the list stops at a
        repeated link or the kit's page limit (``transport.PageRules``)."""
        # items() first: the proxy's endpoint check and discovery are not pages
        return self.retry(lambda: listing(items(), f"cloud '{self.cloud}': {what}"))

    def _servers(self, **query: Any) -> list:
        return self.listed(lambda: self.compute.servers(details=True, **query), "servers")

    def _find(self, name: str):
        """The one live server a reference means: its id, else its exact name (any
        characters Nova allowed), by the kit's ``find_one``."""
        if UUID.fullmatch(name):
            try:
                return self.call(self.compute.get_server, name)
            except NotFound:
                pass
        # the name filter is a regular expression on Nova's side: anchor and escape it
        pattern = "^" + re.sub(r"([.^$*+?{}\[\]\\|()])", r"\\\1", name) + "$"
        servers = self._servers(name=pattern)
        records = [{"id": s.id, "name": s.name, "object": s,
                    "status": "deleted" if s.task_state == "deleting" else s.status}
                   for s in servers]
        if not [r for r in records if r["status"] != "deleted"]:
            for record in records:  # only servers being deleted: still addressable
                record["status"] = record["object"].status
        return find_one(records, name, cloud=self.cloud)["object"]

    def list(self) -> list[dict[str, Any]]:
        return self._complete([self._to_vm(s) for s in self._servers()])

    def info(self, name: str) -> dict[str, Any]:
        return self._complete([self._to_vm(self._find(name))])[0]

    def _complete(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """What a server's own JSON lacks: the login of a VM cms did not boot (its image's,
        one Glance listing for all of them), and before microversion 2.47 the flavor's
        name (Nova names it by id only then)."""
        unknown = {r["image"] for r in records if r["username"] is None and r["image"]}
        if unknown - set(self._image_logins):
            for image in self.listed(self.image_service.images, "images"):
                self._image_logins[image.id] = login_of(image, self.default_username)
        for record in records:
            if record["username"] is None:
                record["username"] = self._image_logins.get(record["image"],
                                                             self.default_username)
        if any(r["native"].get("flavor_id") for r in records):
            names = {f["id"]: f["name"] for f in self.flavors()}
            for record in records:
                flavor_id = record["native"].pop("flavor_id", None)
                if flavor_id:
                    record["flavor"] = names.get(flavor_id, flavor_id)
        return records

    # ---- booting ----------------------------------------------------------------------
    def create(self, spec: BootSpec) -> dict[str, Any]:
        image = self.resolve_image(spec.image)
        flavor = self.flavor(spec.flavor)
        networks = self.listed(self.network.networks, "networks")
        network = boot_network(self, spec.network, networks)
        external = external_network(self, networks) if spec.public_ip else None
        metadata = {str(k): str(v) for k, v in (spec.metadata or {}).items()}
        # the record's username: the boot's own, else the image's login
        login = self.default_username_for(image["id"])
        metadata[USER_KEY] = spec.username or login
        attrs: dict[str, Any] = {"name": spec.name, "image_id": image["id"],
                                 "flavor_id": flavor["id"], "metadata": metadata,
                                 "networks": [{"uuid": network.id}]}
        if spec.key:
            attrs["key_name"] = spec.key["name"]
        if spec.secgroups:
            attrs["security_groups"] = [{"name": g} for g in spec.secgroups]
        if spec.zone:
            attrs["availability_zone"] = spec.zone
        userdata = spec.userdata
        if spec.key and spec.username and spec.username != login:
            # the key pair reaches the image's own login; cloud-init makes --username
            userdata = add_user(userdata, spec.username, spec.key["public_key"])
        if userdata:
            attrs["user_data"] = base64.b64encode(userdata.encode()).decode()
        # Nova has no idempotency token: never retried here (the facade looks for the
        # server by name before it tries again)
        server = self.translated(self.compute.create_server, **attrs)
        try:
            server = self._wait_built(server.id, spec.name)
            if external is not None:
                attach_floating_ip(self, server, network, external)
                server = self._wait_address(server.id)
        except CmsError as error:
            if not error.retryable:
                raise
            # the server exists: a retryable error here must not send the facade looking
            # for it and calling the boot done (it would lack its floating IP)
            raise CloudError(f"cloud '{self.cloud}': server {spec.name} ({server.id}) was "
                             f"created, but then: {error.message}",
                             f"see 'cms vm info {server.id}'; delete it with "
                             f"'cms vm delete {server.id}'") from error
        return self._complete([self._to_vm(server)])[0]

    def _poll(self, server_id: str, done: Callable[[Any], bool], timeout: float, what: str,
              failed: Callable[[Any], str | None] | None = None):
        return poll_until(lambda: self.call(self.compute.get_server, server_id), done,
                          timeout=timeout, what=f"cloud '{self.cloud}': {what}",
                          failed=failed, interval=min(0.05, self.poll_interval),
                          max_interval=self.poll_interval)

    def _wait_built(self, server_id: str, name: str):
        def fault(server) -> str | None:
            if server.status != "ERROR":
                return None
            return (f"server {name} ({server.id}) went to ERROR: "
                    + ((server.fault or {}).get("message") or "no fault message")
                    + f"; it is left for inspection: 'cms vm delete {server.id}'")
        return self._poll(server_id, lambda s: s.status != "BUILD", BUILD_TIMEOUT,
                          f"the boot of {name}", fault)

    def _wait_address(self, server_id: str):
        try:
            return self._poll(server_id, has_floating, 60, "the floating IP association")
        except CloudError:
            return self.call(self.compute.get_server, server_id)

    # ---- actions -------------------------------------------------------------------
    def _act(self, name: str, action: Callable[[Any], Any]) -> dict[str, Any]:
        server = self._find(name)
        self.translated(action, server)
        return self._complete([self._to_vm(self.call(self.compute.get_server,
                                                     server.id))])[0]

    def start(self, name: str) -> dict[str, Any]:
        return self._act(name, self.compute.start_server)

    def stop(self, name: str) -> dict[str, Any]:
        return self._act(name, self.compute.stop_server)

    def reboot(self, name: str) -> dict[str, Any]:
        return self._act(name, lambda s: self.compute.reboot_server(s, "SOFT"))

    def suspend(self, name: str) -> dict[str, Any]:
        return self._act(name, self.compute.suspend_server)

    def resume(self, name: str) -> dict[str, Any]:
        return self._act(name, self.compute.resume_server)

    def destroy(self, name: str) -> dict[str, Any]:
        server = self._find(name)
        record = self._complete([self._to_vm(server)])[0]
        # found before the server goes: its ports (and so the association) go with it
        left = release(self, owned_floating_ips(self, server))
        self.call(self.compute.delete_server, server, ignore_missing=True)
        try:
            poll_until(lambda: self._gone(server.id), bool, timeout=DELETE_TIMEOUT,
                       what=f"cloud '{self.cloud}': the deletion of {record['name']}",
                       interval=min(0.05, self.poll_interval),
                       max_interval=self.poll_interval)
        except CloudError as error:
            left.append(f"server {record['name']} ({server.id}): {error}")
        if left:
            raise CloudError(f"cloud '{self.cloud}': could not remove " + "; ".join(left))
        record.update(status="terminated", state="DELETED")
        return record

    def _gone(self, server_id: str) -> bool:
        try:
            self.call(self.compute.get_server, server_id)
        except NotFound:
            return True
        return False

    def metadata_set(self, name: str, metadata: dict[str, str]) -> dict[str, str]:
        server = self._find(name)
        self.call(self.compute.set_server_metadata, server,
                  **{str(k): str(v) for k, v in metadata.items()})
        return self.metadata_get(server.id)

    # ---- flavors and regions ----------------------------------------------------------
    def flavors(self) -> list[dict[str, Any]]:
        return sorted((self._to_flavor(f) for f in self.listed(
            lambda: self.compute.flavors(details=True), "flavors")),
            key=lambda f: (f["vcpus"] or 0, f["ram_mb"] or 0, f["name"]))

    def flavor(self, name: str) -> dict[str, Any]:
        return self._find_in(self.flavors(), name, "flavor")

    def regions(self) -> list[str]:
        """The regions of the Keystone catalog that offer compute (Nova)."""
        session = self.connection.session
        access = self.call(session.auth.get_access, session)  # the token's catalog
        found = {endpoint.get("region_id") or endpoint.get("region")
                 for service in access.service_catalog.catalog or []
                 if service.get("type") == "compute"
                 for endpoint in service.get("endpoints") or []}
        return sorted(str(region) for region in found if region)

    # ---- health -----------------------------------------------------------------------
    def check(self) -> str:
        count = len(self.flavors())
        session = self.connection.session
        access = session.auth.get_access(session)  # the token already held: no request
        who = access.username or access.user_id
        return (f"{who} in project {access.project_name or access.project_id}, region "
                f"{self.region or 'default'}: {count} flavors visible")


def _is_global(address: str) -> bool:
    import ipaddress

    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    # fec0::/10 (IPv6 site-local, deprecated but still handed out) is not routable
    return ip.is_global and not getattr(ip, "is_site_local", False)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)

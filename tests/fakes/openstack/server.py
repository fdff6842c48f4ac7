"""A stateful fake of the OpenStack APIs an openstacksdk ``Connection`` uses, served over
HTTP on 127.0.0.1 (port 0) from a thread of the test process.

It follows the OpenStack API reference (the ``api-ref/source`` trees of openstack/keystone,
openstack/nova, openstack/glance and openstack/neutron-lib, as published for 2024.x):

- Keystone v3 (identity/v3): version discovery, ``POST /v3/auth/tokens`` with the
  ``password`` and ``application_credential`` methods, 201 + ``X-Subject-Token`` and a
  service catalog whose endpoints point back at this server; 401 ``{"error": {...}}``.
- Nova v2.1 (compute/v2.1): version discovery (``version`` = maximum microversion
  2.96, ``min_version`` 2.1), the ``OpenStack-API-Version: compute X`` request and
  response headers (406 beyond the maximum), servers (create 202, ``detail`` with
  ``limit``/``marker`` paging and ``servers_links``, ``name`` regex filter, delete 204),
  server actions ``os-start``/``os-stop``/``reboot``/``suspend``/``resume`` (202, 409
  ``conflictingRequest`` in the wrong state), server metadata, ``os-interface``, flavors
  (``detail``), key pairs (201 from 2.2, 409 on a duplicate), error bodies
  ``{"itemNotFound"|"badRequest"|"conflictingRequest"|"forbidden": {"code", "message"}}``.
  From 2.37 a create must carry ``networks``; from 2.47 a server embeds its flavor.
  Servers sit in BUILD for ``build_seconds`` then go ACTIVE (or ERROR with a ``fault``
  when no host can take the flavor); a delete keeps the server with task_state
  ``deleting`` for ``delete_seconds``; actions pass through their task states.
- Glance v2 (image/v2): images paged with ``limit``/``marker`` and the ``next`` link
  (``/v2/images?...``), ``GET /v2/images/{id}`` 404 as Glance's plain-text body.
- Neutron v2.0 (network/v2.0): networks (``router:external``), subnets, ports,
  floating IPs (create 201 from an external network, associate with ``PUT port_id``,
  delete 204), security groups (new ones get the two egress rules) and rules (409
  ``SecurityGroupRuleExists``), ``limit``/``marker`` paging with ``*_links``, filters by
  field, error bodies ``{"NeutronError": {"type", "message", "detail"}}``.

Addresses are in 127.0.0.0/8 so tests can run an sshd on them: fixed IPs from the tenant
subnet 127.0.1.0/24, floating IPs from the external subnet 127.0.2.0/24. A tenant network
added with ``routed=False`` has no router to the external network: associating a floating
IP with one of its ports is Neutron's 404 ``ExternalGatewayForFloatingIPNotFound``.
``max_microversion`` plays an older Nova; ``catalog_base`` a catalog pointing elsewhere.
``serve.py`` runs the fake as a process with N servers (benchmarks); ``bare_list.py`` is
the bare openstacksdk listing cms is compared with.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import ipaddress
import itertools
import json
import re
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from .spec import SpecViolation, check as spec_check

MAX_MICROVERSION = (2, 96)
NOVA_ERRORS = {400: "badRequest", 403: "forbidden", 404: "itemNotFound",
               409: "conflictingRequest", 406: "notAcceptable", 413: "overLimit",
               500: "computeFault"}
#: a flavor with more RAM than this finds no host (the server ends in ERROR)
HOST_RAM_MB = 256 * 1024
NO_VALID_HOST = "No valid host was found. There are not enough hosts available."


class HttpError(Exception):
    def __init__(self, status: int, body: Any, content_type: str = "application/json",
                 headers: dict | None = None) -> None:
        super().__init__(status)
        self.status, self.body, self.content_type = status, body, content_type
        self.headers = headers or {}


def nova_error(status: int, message: str) -> HttpError:
    return HttpError(status, {NOVA_ERRORS.get(status, "computeFault"):
                              {"code": status, "message": message}})


def neutron_error(status: int, kind: str, message: str) -> HttpError:
    return HttpError(status, {"NeutronError": {"type": kind, "message": message,
                                               "detail": ""}})


def keystone_error(status: int, title: str, message: str) -> HttpError:
    return HttpError(status, {"error": {"code": status, "title": title, "message": message}},
                     headers={"WWW-Authenticate": 'Keystone uri="..."'} if status == 401
                     else None)


def glance_error(status: int, message: str) -> HttpError:
    titles = {400: "400 Bad Request", 404: "404 Not Found", 409: "409 Conflict"}
    return HttpError(status, f"{titles.get(status, status)}\n\n{message}\n\n   ",
                     "text/plain; charset=UTF-8")


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def md5_fingerprint(public_key: str) -> str:
    """Nova's key pair fingerprint: MD5 of the key blob, colon-separated hex."""
    try:
        blob = base64.b64decode(public_key.split()[1].encode(), validate=True)
    except (IndexError, binascii.Error, ValueError):
        raise nova_error(400, "Keypair data is invalid: failed to generate fingerprint") \
            from None
    digest = hashlib.md5(blob).hexdigest()
    return ":".join(digest[i:i + 2] for i in range(0, 32, 2))


class FakeOpenStack:
    """One project ``demo`` (domain ``Default``) of user ``demo`` in region ``RegionOne``.

    ``password`` is the user's password (tests make one at run time);
    ``app_credentials`` maps application credential ids to secrets.
    """

    def __init__(self, password: str, *, app_credentials: dict[str, str] | None = None,
                 build_seconds: float = 0.3, delete_seconds: float = 0.2,
                 action_seconds: float = 0.1, max_limit: int = 1000,
                 image_page: int = 25, region: str = "RegionOne",
                 tenant_cidr: str = "127.0.1.0/24", external_cidr: str = "127.0.2.0/24") -> None:
        self.password = password
        self.app_credentials = dict(app_credentials or {})
        self.build_seconds, self.delete_seconds = build_seconds, delete_seconds
        self.action_seconds = action_seconds
        self.max_limit, self.image_page = max_limit, image_page
        #: the newest compute microversion (an older cloud: e.g. (2, 38) for Newton)
        self.max_microversion = MAX_MICROVERSION
        self.seen_microversions: list[tuple[str, str]] = []
        self.region = region
        self.user = {"id": uuid.uuid4().hex, "name": "demo",
                     "domain": {"id": "default", "name": "Default"}}
        self.project = {"id": uuid.uuid4().hex, "name": "demo",
                        "domain": {"id": "default", "name": "Default"}}
        self.lock = threading.RLock()
        self.tokens: dict[str, dict] = {}
        self.calls: list[tuple[str, str]] = []
        #: requests the API reference does not allow (each answered 400; tests assert
        #: this stays empty, see spec.py)
        self.spec_violations: list[str] = []
        #: reboots (soft and hard) asked of each server, by server id
        self.reboots: dict[str, int] = {}
        self.servers: dict[str, dict] = {}
        self.keypairs: dict[str, dict] = {}
        self.flavors: dict[str, dict] = {}
        self.images: dict[str, dict] = {}
        self.networks: dict[str, dict] = {}
        self.subnets: dict[str, dict] = {}
        self.ports: dict[str, dict] = {}
        self.floatingips: dict[str, dict] = {}
        self.security_groups: dict[str, dict] = {}
        self.rules: dict[str, dict] = {}
        self._pending: list[tuple[float, str, Any]] = []
        self._serial = itertools.count(1)
        self._macs = itertools.count(1)
        self._seed(tenant_cidr, external_cidr)
        self.url = self.public_url = ""
        #: where the catalog says the services are (None: where this server listens)
        self.catalog_base: str | None = None
        #: more regions of the catalog: region name -> the base URL of another fake that
        #: serves it (it shares this one's ``tokens``; see tests/test_regions.py)
        self.other_regions: dict[str, str] = {}

    # ---- seeding -----------------------------------------------------------------------
    def _seed(self, tenant_cidr: str, external_cidr: str) -> None:
        for fid, name, vcpus, ram, disk in (("1", "m1.tiny", 1, 512, 1),
                                            ("2", "m1.small", 1, 2048, 20),
                                            ("3", "m1.medium", 2, 4096, 40),
                                            ("4", "m1.large", 4, 8192, 80),
                                            ("5", "m1.huge", 64, 1024 * 1024, 160)):
            self.flavors[fid] = {"id": fid, "name": name, "vcpus": vcpus, "ram": ram,
                                 "disk": disk, "OS-FLV-EXT-DATA:ephemeral": 0, "swap": 0,
                                 "rxtx_factor": 1.0, "os-flavor-access:is_public": True,
                                 "OS-FLV-DISABLED:disabled": False, "description": None,
                                 "extra_specs": {}}
        self.add_image("cirros-0.6.2-x86_64-disk", os_distro="cirros", os_version="0.6.2")
        self.add_image("ubuntu-24.04", os_distro="ubuntu", os_version="24.04")
        self.add_image("debian-12", os_distro="debian", os_version="12")
        public = self.add_network("public", external_cidr, external=True)
        self.external_network_id = public["id"]
        self.tenant_network = self.add_network("private", tenant_cidr)
        self._security_group("default", "Default security group", default=True)

    def add_image(self, name: str, visibility: str = "public", status: str = "active",
                  **properties: Any) -> dict:
        with self.lock:
            stamp = now_iso()
            image_id = str(uuid.uuid4())
            image = {"id": image_id, "name": name, "status": status,
                     "visibility": visibility, "protected": False, "os_hidden": False,
                     "checksum": hashlib.md5(name.encode()).hexdigest(),
                     "os_hash_algo": "sha512",
                     "os_hash_value": hashlib.sha512(name.encode()).hexdigest(),
                     "owner": self.project["id"], "size": 21233664, "virtual_size": None,
                     "min_ram": 0, "min_disk": 0, "disk_format": "qcow2",
                     "container_format": "bare", "created_at": stamp, "updated_at": stamp,
                     "tags": [], "self": f"/v2/images/{image_id}",
                     "file": f"/v2/images/{image_id}/file", "schema": "/v2/schemas/image",
                     "_serial": next(self._serial), **properties}
            self.images[image_id] = image
            return image

    def add_network(self, name: str, cidr: str, external: bool = False,
                    routed: bool = True) -> dict:
        """A network with one subnet; a tenant one is ``routed`` to the external network
        (a router with its gateway there), so floating IPs can reach its ports."""
        with self.lock:
            stamp = now_iso()
            network_id, subnet_id = str(uuid.uuid4()), str(uuid.uuid4())
            net = ipaddress.ip_network(cidr)
            hosts = list(net.hosts())
            self.networks[network_id] = {
                "id": network_id, "name": name, "status": "ACTIVE", "subnets": [subnet_id],
                "admin_state_up": True, "shared": False, "router:external": external,
                "tenant_id": self.project["id"], "project_id": self.project["id"],
                "mtu": 1450, "port_security_enabled": True, "availability_zones": ["nova"],
                "availability_zone_hints": [], "ipv4_address_scope": None,
                "ipv6_address_scope": None, "is_default": external, "description": "",
                "created_at": stamp, "updated_at": stamp, "revision_number": 1, "tags": [],
                "provider:network_type": "flat" if external else "geneve",
                "_serial": next(self._serial)}
            self.subnets[subnet_id] = {
                "id": subnet_id, "name": f"{name}-subnet", "network_id": network_id,
                "tenant_id": self.project["id"], "project_id": self.project["id"],
                "ip_version": 4, "cidr": cidr, "gateway_ip": str(hosts[0]),
                "allocation_pools": [{"start": str(hosts[1]), "end": str(hosts[-1])}],
                "enable_dhcp": not external, "dns_nameservers": [], "host_routes": [],
                "ipv6_ra_mode": None, "ipv6_address_mode": None, "subnetpool_id": None,
                "description": "", "created_at": stamp, "updated_at": stamp,
                "revision_number": 0, "tags": [], "service_types": [],
                "_serial": next(self._serial), "_next": 2, "_routed": routed or external}
            return self.networks[network_id]

    def add_floating_ip(self, description: str = "") -> dict:
        """A floating IP the project already holds (allocated outside cms)."""
        with self.lock:
            return self._create_floatingip({"floating_network_id": self.external_network_id,
                                            "description": description})

    def _security_group(self, name: str, description: str, default: bool = False) -> dict:
        stamp = now_iso()
        group_id = str(uuid.uuid4())
        group = {"id": group_id, "name": name, "description": description,
                 "tenant_id": self.project["id"], "project_id": self.project["id"],
                 "stateful": True, "shared": False, "tags": [], "created_at": stamp,
                 "updated_at": stamp, "revision_number": 1, "_serial": next(self._serial)}
        self.security_groups[group_id] = group
        for ethertype in ("IPv4", "IPv6"):
            self._rule(group_id, "egress", ethertype)
            if default:
                self._rule(group_id, "ingress", ethertype, remote_group_id=group_id)
        return group

    def _rule(self, group_id: str, direction: str, ethertype: str, protocol: Any = None,
              low: Any = None, high: Any = None, prefix: Any = None,
              remote_group_id: Any = None, description: str = "") -> dict:
        stamp = now_iso()
        rule = {"id": str(uuid.uuid4()), "security_group_id": group_id,
                "direction": direction, "ethertype": ethertype, "protocol": protocol,
                "port_range_min": low, "port_range_max": high, "remote_ip_prefix": prefix,
                "normalized_cidr": str(ipaddress.ip_network(prefix, strict=False))
                if prefix else None, "remote_group_id": remote_group_id,
                "remote_address_group_id": None, "description": description,
                "tenant_id": self.project["id"], "project_id": self.project["id"],
                "created_at": stamp, "updated_at": stamp, "revision_number": 0,
                "_serial": next(self._serial)}
        self.rules[rule["id"]] = rule
        return rule

    # ---- server lifecycle -------------------------------------------------------------
    def _later(self, seconds: float, server_id: str, change) -> None:
        self._pending.append((time.monotonic() + seconds, server_id, change))

    def tick(self) -> None:
        """Apply every state change whose time has come (called on each request)."""
        with self.lock:
            now = time.monotonic()
            due = [p for p in self._pending if p[0] <= now]
            self._pending = [p for p in self._pending if p[0] > now]
            for _, server_id, change in sorted(due, key=lambda p: p[0]):
                if server_id in self.servers:
                    change(self.servers[server_id])

    def _set(self, server: dict, status: str, vm_state: str, power: int,
             task: str | None = None) -> None:
        server.update({"status": status, "OS-EXT-STS:vm_state": vm_state,
                       "OS-EXT-STS:power_state": power, "OS-EXT-STS:task_state": task,
                       "updated": now_iso()})

    def _finish_build(self, server: dict) -> None:
        flavor = self.flavors[server["_flavor_id"]]
        if flavor["ram"] > HOST_RAM_MB:
            self._set(server, "ERROR", "error", 0)
            server["fault"] = {"code": 500, "created": now_iso(), "message": NO_VALID_HOST}
            return
        for request in server["_networks"]:
            self._create_port(request, server)
        self._set(server, "ACTIVE", "active", 1)
        server["OS-SRV-USG:launched_at"] = now_iso()[:-1] + ".000000"

    def _finish_delete(self, server: dict) -> None:
        for port in [p for p in self.ports.values() if p["device_id"] == server["id"]]:
            self._delete_port(port["id"])
        del self.servers[server["id"]]

    # ---- HTTP plumbing ---------------------------------------------------------------
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
                status, body, headers = fake.dispatch(self.command, self.path, self.headers,
                                                      raw)
                if isinstance(body, (dict, list)):
                    payload = json.dumps(body).encode()
                    headers.setdefault("Content-Type", "application/json")
                else:
                    payload = (body or "").encode()
                    if body:
                        headers.setdefault("Content-Type", "text/plain; charset=UTF-8")
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.send_header("X-Openstack-Request-Id", f"req-{uuid.uuid4()}")
                self.end_headers()
                if self.command == "HEAD":
                    return
                pause = fake.drip_seconds(self.command, self.path)
                if not pause:
                    self.wfile.write(payload)
                    return
                try:  # one byte per pause: each read is on time, the answer never is
                    for index in range(len(payload)):
                        self.wfile.write(payload[index:index + 1])
                        self.wfile.flush()
                        time.sleep(pause)
                except OSError:
                    pass  # the client gave up, as it should

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        # a short poll interval: shutdown() returns within 0.01 s, not after 0.5 s
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.01}, daemon=True)
        self.thread.start()
        self.url = self.public_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        return self.url

    def drip_seconds(self, method: str, path: str) -> float:
        """Seconds between the bytes of this request's answer: 0 (all at once) here; a
        hostile test's subclass drips."""
        return 0.0

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def auth_url(self) -> str:
        return f"{self.public_url}/identity/v3"

    def dispatch(self, method: str, target: str, headers, raw: bytes):
        parts = urlsplit(target)
        path = re.sub(r"/+$", "", parts.path) or "/"
        query = parse_qs(parts.query, keep_blank_values=True)
        with self.lock:
            self.calls.append((method, target))
        self.tick()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
            if not path.startswith("/image"):
                return 400, {"badRequest": {"code": 400,
                                            "message": "Malformed request body"}}, {}
        out_headers: dict[str, str] = {}
        try:
            for prefix, service in (("/identity", self._identity), ("/compute", self._compute),
                                    ("/image", self._image), ("/network", self._network)):
                if path == prefix or path.startswith(prefix + "/"):
                    rest = path[len(prefix):] or "/"
                    if prefix != "/identity" and rest != "/" and not re.fullmatch(
                            r"/v[0-9.]+", rest):
                        self._authenticate(headers, service=prefix)
                    with self.lock:
                        status, result = service(method, rest, query, body, headers,
                                                 out_headers)
                    return status, result, out_headers
            raise HttpError(404, "404 Not Found\n\nThe resource could not be found.\n\n",
                            "text/plain")
        except HttpError as error:
            out_headers.update(error.headers)
            if error.content_type != "application/json":
                out_headers["Content-Type"] = error.content_type
            return error.status, error.body, out_headers

    def _spec(self, service: str, method: str, path: str, query, body, mv=None) -> None:
        """The service's own 400 for a request its API reference does not allow."""
        try:
            spec_check(service, method, path, query, body, mv)
        except SpecViolation as violation:
            self.spec_violations.append(f"{method} {path}: {violation.message}")
            if service == "compute":
                raise nova_error(400, violation.message) from None
            if service == "network":
                raise neutron_error(400, "HTTPBadRequest", violation.message) from None
            if service == "image":
                raise glance_error(400, violation.message) from None
            raise keystone_error(400, "Bad Request", violation.message) from None

    def _authenticate(self, headers, service: str) -> None:
        token = headers.get("X-Auth-Token")
        if not token or token not in self.tokens:
            if service == "/network":
                raise HttpError(401, {"error": {"message": "The request you have made "
                                                "requires authentication.", "code": 401,
                                                "title": "Unauthorized"}})
            if service == "/compute":
                raise nova_error(401, "The request you have made requires authentication.")
            raise HttpError(401, "401 Unauthorized\n\nThis server could not verify that you "
                            "are authorized to access the document you requested.\n\n",
                            "text/plain")

    # ---- Keystone ---------------------------------------------------------------------
    def _identity(self, method, path, query, body, headers, out):
        base = f"{self.public_url}/identity"
        v3 = {"id": "v3.14", "status": "stable", "updated": "2020-04-07T00:00:00Z",
              "links": [{"rel": "self", "href": f"{base}/v3/"}],
              "media-types": [{"base": "application/json",
                               "type": "application/vnd.openstack.identity-v3+json"}]}
        if method == "GET" and path == "/":
            return 300, {"versions": {"values": [v3]}}
        if method == "GET" and path == "/v3":
            return 200, {"version": v3}
        if method == "POST" and path == "/v3/auth/tokens":
            self._spec("identity", method, path, query, body)
            return self._issue_token(body or {}, out)
        raise keystone_error(404, "Not Found", "The resource could not be found.")

    def _issue_token(self, body, out):
        auth = body.get("auth") or {}
        identity = auth.get("identity") or {}
        methods = identity.get("methods") or []
        denied = keystone_error(401, "Unauthorized",
                                "The request you have made requires authentication.")
        if methods == ["password"]:
            user = (identity.get("password") or {}).get("user") or {}
            domain = user.get("domain") or {}
            if not ((user.get("name") == self.user["name"]
                     and domain.get("name", domain.get("id")) in ("Default", "default"))
                    or user.get("id") == self.user["id"]):
                raise denied
            if user.get("password") != self.password:
                raise denied
            scope = (auth.get("scope") or {}).get("project") or {}
            if scope and not (scope.get("id") == self.project["id"]
                              or scope.get("name") == self.project["name"]):
                raise denied
            scoped = bool(scope)
        elif methods == ["application_credential"]:
            credential = identity.get("application_credential") or {}
            if self.app_credentials.get(credential.get("id")) != credential.get("secret") \
                    or not credential.get("secret"):
                raise denied
            scoped = True
        else:
            raise keystone_error(400, "Bad Request", "Expecting to find identity in auth.")
        token_id = "gAAAA" + uuid.uuid4().hex
        issued = datetime.now(timezone.utc)
        token = {"methods": methods, "user": self.user,
                 "issued_at": issued.strftime("%Y-%m-%dT%H:%M:%S.000000Z"),
                 "expires_at": (issued + timedelta(hours=1)).strftime(
                     "%Y-%m-%dT%H:%M:%S.000000Z"),
                 "audit_ids": [uuid.uuid4().hex[:22]]}
        if scoped:
            token["project"] = self.project
            token["is_domain"] = False
            token["roles"] = [{"id": uuid.uuid4().hex, "name": "member"},
                              {"id": uuid.uuid4().hex, "name": "reader"}]
            token["catalog"] = self._catalog()
        self.tokens[token_id] = token
        out["X-Subject-Token"] = token_id
        return 201, {"token": token}

    def _catalog(self) -> list[dict]:
        services = (("identity", "keystone", "/identity"),
                    ("compute", "nova", "/compute/v2.1"),
                    ("image", "glance", "/image"),
                    ("network", "neutron", "/network"))
        return [{"id": uuid.uuid5(uuid.NAMESPACE_URL, kind).hex, "type": kind, "name": name,
                 "endpoints": [{"id": uuid.uuid5(uuid.NAMESPACE_URL, kind + i).hex,
                                "interface": i, "region": self.region,
                                "region_id": self.region,
                                "url": (self.catalog_base or self.public_url) + path}
                               for i in ("public", "internal")] + [
                     {"id": uuid.uuid5(uuid.NAMESPACE_URL, kind + region).hex,
                      "interface": "public", "region": region, "region_id": region,
                      "url": base + path}
                     for region, base in self.other_regions.items()]}
                for kind, name, path in services]

    # ---- Nova -------------------------------------------------------------------------
    def _microversion(self, headers, out) -> tuple[int, int]:
        text = None
        header = headers.get("OpenStack-API-Version")
        if header:
            for part in header.split(","):
                words = part.split()
                if len(words) == 2 and words[0].lower() == "compute":
                    text = words[1]
        text = text or headers.get("X-OpenStack-Nova-API-Version")
        if not text:
            version = (2, 1)
        elif text == "latest":
            version = self.max_microversion
        else:
            match = re.fullmatch(r"(\d+)\.(\d+)", text.strip())
            if not match:
                raise nova_error(400, f"API Version String {text} is of invalid format. "
                                 "Must be of format MajorNum.MinorNum.")
            version = (int(match[1]), int(match[2]))
            if not (2, 1) <= version <= self.max_microversion:
                raise nova_error(406, f"Version {text} is not supported by the API. Minimum "
                                 "is 2.1 and maximum is %d.%d." % self.max_microversion)
        shown = "%d.%d" % version
        self.seen_microversions.append(("compute", shown))
        out["OpenStack-API-Version"] = f"compute {shown}"
        out["X-OpenStack-Nova-API-Version"] = shown
        out["Vary"] = "OpenStack-API-Version, X-OpenStack-Nova-API-Version"
        return version

    def _compute(self, method, path, query, body, headers, out):
        base = f"{self.public_url}/compute"
        v21 = {"id": "v2.1", "status": "CURRENT", "version": "%d.%d" % self.max_microversion,
               "min_version": "2.1", "updated": "2013-07-23T11:33:21Z",
               "links": [{"rel": "self", "href": f"{base}/v2.1/"},
                         {"rel": "describedby", "type": "text/html",
                          "href": "http://docs.openstack.org/"}],
               "media-types": [{"base": "application/json",
                                "type": "application/vnd.openstack.compute+json;version=2.1"}]}
        if method == "GET" and path == "/":
            return 200, {"versions": [v21]}
        if method == "GET" and path == "/v2.1":
            return 200, {"version": v21}
        if not path.startswith("/v2.1/"):
            raise nova_error(404, "The resource could not be found.")
        mv = self._microversion(headers, out)
        rest = path[len("/v2.1"):]
        self._spec("compute", method, rest, query, body, mv)
        for pattern, handler in self._nova_routes():
            match = re.fullmatch(pattern, f"{method} {rest}")
            if match:
                return handler(mv, query, body, out, *match.groups())
        raise nova_error(404, "The resource could not be found.")

    def _nova_routes(self):
        return ((r"GET /servers", lambda mv, q, b, o: self._server_list(mv, q, False)),
                (r"GET /servers/detail", lambda mv, q, b, o: self._server_list(mv, q, True)),
                (r"POST /servers", self._server_create),
                (r"GET /servers/([^/]+)", lambda mv, q, b, o, i:
                 (200, {"server": self._server_view(self._server(i), mv)})),
                (r"PUT /servers/([^/]+)", self._server_update),
                (r"DELETE /servers/([^/]+)", self._server_delete),
                (r"POST /servers/([^/]+)/action", self._server_action),
                (r"GET /servers/([^/]+)/metadata", lambda mv, q, b, o, i:
                 (200, {"metadata": self._server(i)["metadata"]})),
                (r"(POST|PUT) /servers/([^/]+)/metadata", self._metadata_write),
                (r"DELETE /servers/([^/]+)/metadata/([^/]+)", self._metadata_delete),
                (r"GET /servers/([^/]+)/os-interface", self._interfaces),
                (r"GET /flavors", lambda mv, q, b, o: self._flavor_list(mv, q, False)),
                (r"GET /flavors/detail", lambda mv, q, b, o: self._flavor_list(mv, q, True)),
                (r"GET /flavors/([^/]+)", lambda mv, q, b, o, i:
                 (200, {"flavor": self._flavor_view(self._flavor(i), mv)})),
                (r"GET /os-keypairs", self._keypair_list),
                (r"POST /os-keypairs", self._keypair_create),
                (r"GET /os-keypairs/([^/]+)", lambda mv, q, b, o, n:
                 (200, {"keypair": self._keypair_view(self._keypair(n), mv, True)})),
                (r"DELETE /os-keypairs/([^/]+)", self._keypair_delete),
                (r"GET /os-availability-zone", lambda mv, q, b, o:
                 (200, {"availabilityZoneInfo": [{"zoneName": "nova",
                                                  "zoneState": {"available": True},
                                                  "hosts": None}]})),
                (r"GET /limits", lambda mv, q, b, o: (200, {"limits": {"rate": [],
                 "absolute": {"maxTotalInstances": 10000, "totalInstancesUsed":
                              len(self.servers)}}})))

    def _link(self, kind: str, item_id: str) -> list[dict]:
        return [{"rel": "self", "href": f"{self.public_url}/compute/v2.1/{kind}/{item_id}"},
                {"rel": "bookmark", "href": f"{self.public_url}/compute/{kind}/{item_id}"}]

    def _page(self, items: list[dict], query, key: str, url: str, max_limit: int):
        """Nova's limit/marker paging: a next link whenever a page is full."""
        marker = (query.get("marker") or [None])[0]
        if marker is not None:
            ids = [i[key] for i in items]
            if marker not in ids:
                raise nova_error(400, f"marker [{marker}] not found")
            items = items[ids.index(marker) + 1:]
        try:
            limit = int((query.get("limit") or [max_limit])[0])
        except ValueError:
            raise nova_error(400, "Invalid input for query parameters limit.") from None
        if limit < 0:
            raise nova_error(400, "Invalid input for query parameters limit.")
        limit = min(limit, max_limit)
        page = items[:limit]
        links = []
        if page and len(page) == limit:
            params = {k: v[0] for k, v in query.items() if k not in ("marker", "limit")}
            params.update(limit=limit, marker=page[-1][key])
            links = [{"rel": "next", "href": f"{url}?{urlencode(params)}"}]
        return page, links

    def _server(self, server_id: str) -> dict:
        server = self.servers.get(server_id)
        if server is None:
            raise nova_error(404, f"Instance {server_id} could not be found.")
        return server

    def _server_list(self, mv, query, detail: bool):
        servers = sorted(self.servers.values(), key=lambda s: s["_serial"], reverse=True)
        name = (query.get("name") or [None])[0]
        if name:
            try:
                pattern = re.compile(name)
            except re.error:
                raise nova_error(400, f"Invalid regex {name!r}") from None
            servers = [s for s in servers if pattern.search(s["name"])]
        status = (query.get("status") or [None])[0]
        if status:
            servers = [s for s in servers if s["status"] == status.upper()]
        url = f"{self.public_url}/compute/v2.1/servers" + ("/detail" if detail else "")
        page, links = self._page(servers, query, "id", url, self.max_limit)
        if detail:
            indexes = self._indexes()
            result = {"servers": [self._server_view(s, mv, indexes) for s in page]}
        else:
            result = {"servers": [{"id": s["id"], "name": s["name"],
                                   "links": self._link("servers", s["id"])} for s in page]}
        if links:
            result["servers_links"] = links
        return 200, result

    def _indexes(self) -> tuple[dict, dict]:
        """Ports by server and floating IPs by port, made once per request (a list of a
        thousand servers must not scan every port for each one)."""
        ports: dict[str, list] = {}
        for port in sorted(self.ports.values(), key=lambda p: p["_serial"]):
            ports.setdefault(port["device_id"], []).append(port)
        fips: dict[str, list] = {}
        for fip in self.floatingips.values():
            if fip["port_id"]:
                fips.setdefault(fip["port_id"], []).append(fip)
        return ports, fips

    def _addresses(self, ports: list[dict], fips: dict) -> dict[str, list]:
        addresses: dict[str, list] = {}
        for port in ports:
            network = self.networks[port["network_id"]]["name"]
            entries = addresses.setdefault(network, [])
            for fixed in port["fixed_ips"]:
                entries.append({"version": 4, "addr": fixed["ip_address"],
                                "OS-EXT-IPS:type": "fixed",
                                "OS-EXT-IPS-MAC:mac_addr": port["mac_address"]})
            for fip in fips.get(port["id"], ()):
                entries.append({"version": 4, "addr": fip["floating_ip_address"],
                                "OS-EXT-IPS:type": "floating",
                                "OS-EXT-IPS-MAC:mac_addr": port["mac_address"]})
        return addresses

    def _server_view(self, server: dict, mv, indexes: tuple[dict, dict] | None = None) -> dict:
        ports_by_server, fips = indexes or self._indexes()
        ports = ports_by_server.get(server["id"], [])
        view = {k: copy.deepcopy(v) for k, v in server.items() if not k.startswith("_")}
        view["addresses"] = self._addresses(ports, fips)
        view["links"] = self._link("servers", server["id"])
        flavor = self.flavors[server["_flavor_id"]]
        if mv >= (2, 47):
            view["flavor"] = {"vcpus": flavor["vcpus"], "ram": flavor["ram"],
                              "disk": flavor["disk"], "ephemeral": 0, "swap": 0,
                              "original_name": flavor["name"], "extra_specs": {}}
        else:
            view["flavor"] = {"id": flavor["id"], "links": self._link("flavors", flavor["id"])}
        groups = []
        for port in ports:
            groups += [self.security_groups[g]["name"] for g in port["security_groups"]
                       if g in self.security_groups]
        if not groups and server["status"] == "BUILD":
            groups = list(server["_secgroup_names"])
        view["security_groups"] = [{"name": n} for n in dict.fromkeys(groups)]
        if mv < (2, 19):
            view.pop("description", None)
        if mv < (2, 26):
            view.pop("tags", None)
        if mv < (2, 9):
            view.pop("locked", None)
        return view

    def _server_create(self, mv, query, body, out):
        request = (body or {}).get("server")
        if not isinstance(request, dict):
            raise nova_error(400, "Invalid input for field/attribute server. Value: None. "
                             "None is not of type 'object'")
        name = request.get("name")
        if not isinstance(name, str) or not 1 <= len(name) <= 255 or name.strip() != name:
            raise nova_error(400, f"Invalid input for field/attribute name. Value: {name}.")
        image_ref = str(request.get("imageRef") or "").rsplit("/", 1)[-1]
        image = self.images.get(image_ref)
        if image is None or image["status"] != "active":
            raise nova_error(400, "Can not find requested image")
        flavor_ref = str(request.get("flavorRef") or "").rsplit("/", 1)[-1]
        if flavor_ref not in self.flavors:
            raise nova_error(400, f"Flavor {flavor_ref} could not be found.")
        key_name = request.get("key_name")
        if key_name is not None and key_name not in self.keypairs:
            raise nova_error(400, "Invalid key_name provided.")
        groups = []
        for entry in request.get("security_groups") or [{"name": "default"}]:
            wanted = (entry or {}).get("name")
            found = [g for g in self.security_groups.values()
                     if wanted in (g["id"], g["name"])]
            if not found:
                raise nova_error(400, f"Security group {wanted} not found for project "
                                 f"{self.project['id']}.")
            if len(found) > 1:
                raise nova_error(409, f"Multiple security_group matches found for name "
                                 f"'{wanted}', use an ID to be more specific.")
            groups.append(found[0])
        networks = request.get("networks")
        if networks is None and mv >= (2, 37):
            raise nova_error(400, "Invalid input for field/attribute server. Value: "
                             f"{json.dumps(request)}. 'networks' is a required property")
        tenant = [n for n in self.networks.values() if not n["router:external"]]
        if networks in (None, "auto"):
            if len(tenant) > 1:
                raise nova_error(409, "Multiple possible networks found, use a Network ID "
                                 "to be more specific.")
            networks = [{"uuid": n["id"]} for n in tenant]
        elif networks == "none":
            networks = []
        elif not isinstance(networks, list):
            raise nova_error(400, "Invalid input for field/attribute networks.")
        requested = []
        for entry in networks:
            network_id = (entry or {}).get("uuid")
            if (entry or {}).get("port"):
                raise nova_error(400, "Port requests are not supported by this fake.")
            if network_id not in self.networks:
                raise nova_error(400, f"Network {network_id} could not be found.")
            if self.networks[network_id]["router:external"]:
                raise nova_error(403, "It is not allowed to create an interface on external "
                                 f"network {network_id}")
            requested.append({"network_id": network_id, "fixed_ip": entry.get("fixed_ip"),
                              "security_groups": [g["id"] for g in groups]})
        metadata = request.get("metadata") or {}
        if not isinstance(metadata, dict) or any(
                not isinstance(v, str) or len(k) > 255 or len(v) > 255 or not k
                for k, v in metadata.items()):
            raise nova_error(400, "Invalid input for field/attribute metadata.")
        user_data = request.get("user_data")
        if user_data is not None:
            try:
                base64.b64decode(user_data, validate=True)
            except (binascii.Error, ValueError):
                raise nova_error(400, "User data needs to be valid base 64.") from None
        stamp = now_iso()
        server_id = str(uuid.uuid4())
        server = {
            "id": server_id, "name": name, "status": "BUILD",
            "tenant_id": self.project["id"], "user_id": self.user["id"],
            "metadata": dict(metadata), "hostId": hashlib.sha224(
                (self.project["id"] + "host1").encode()).hexdigest(),
            "image": {"id": image["id"], "links": [
                {"rel": "bookmark", "href": f"{self.public_url}/compute/images/{image['id']}"}]},
            "created": stamp, "updated": stamp, "accessIPv4": "", "accessIPv6": "",
            "OS-DCF:diskConfig": request.get("OS-DCF:diskConfig", "MANUAL"), "progress": 0,
            "OS-EXT-AZ:availability_zone": request.get("availability_zone") or "nova",
            "config_drive": "", "key_name": key_name, "OS-SRV-USG:launched_at": None,
            "OS-SRV-USG:terminated_at": None, "OS-EXT-STS:task_state": "scheduling",
            "OS-EXT-STS:vm_state": "building", "OS-EXT-STS:power_state": 0,
            "os-extended-volumes:volumes_attached": [], "locked": False,
            "description": request.get("description"), "tags": list(request.get("tags") or []),
            "_serial": next(self._serial), "_flavor_id": flavor_ref,
            "_networks": requested, "_secgroup_names": [g["name"] for g in groups],
            "_user_data": user_data,
            "_public_key": self.keypairs[key_name]["public_key"] if key_name else None,
        }
        self.servers[server_id] = server
        self._later(self.build_seconds, server_id, self._finish_build)
        out["Location"] = self._link("servers", server_id)[0]["href"]
        return 202, {"server": {"id": server_id, "links": self._link("servers", server_id),
                                "OS-DCF:diskConfig": server["OS-DCF:diskConfig"],
                                "security_groups": [{"name": g["name"]} for g in groups],
                                "adminPass": uuid.uuid4().hex[:12]}}

    def _server_update(self, mv, query, body, out, server_id):
        server = self._server(server_id)
        changes = (body or {}).get("server") or {}
        for key in ("name", "description"):
            if key in changes:
                server[key] = changes[key]
        return 200, {"server": self._server_view(server, mv)}

    def _server_delete(self, mv, query, body, out, server_id):
        server = self._server(server_id)
        if server["OS-EXT-STS:task_state"] != "deleting":
            server["OS-EXT-STS:task_state"] = "deleting"
            self._pending = [p for p in self._pending if p[1] != server_id]
            self._later(self.delete_seconds, server_id, self._finish_delete)
        return 204, None

    #: action -> (allowed vm_states, task state while it runs, status while it runs,
    #:            final (status, vm_state, power_state))
    ACTIONS = {
        "os-stop": ({"active", "rescued", "error"}, "powering-off", None,
                    ("SHUTOFF", "stopped", 4)),
        "os-start": ({"stopped"}, "powering-on", None, ("ACTIVE", "active", 1)),
        "suspend": ({"active", "shelved"}, "suspending", None, ("SUSPENDED", "suspended", 7)),
        "resume": ({"suspended"}, "resuming", None, ("ACTIVE", "active", 1)),
    }

    def _server_action(self, mv, query, body, out, server_id):
        server = self._server(server_id)
        if not isinstance(body, dict) or len(body) != 1:
            raise nova_error(400, "Malformed request body")
        (action, argument), = body.items()
        vm_state, task = server["OS-EXT-STS:vm_state"], server["OS-EXT-STS:task_state"]
        if action == "reboot":
            kind = (argument or {}).get("type")
            if kind not in ("SOFT", "HARD"):
                raise nova_error(400, "Invalid input for field/attribute type.")
            allowed = {"active"} if kind == "SOFT" else {"active", "stopped", "paused",
                                                         "suspended", "error"}
            spec = (allowed, "rebooting" if kind == "SOFT" else "rebooting_hard",
                    "REBOOT" if kind == "SOFT" else "HARD_REBOOT", ("ACTIVE", "active", 1))
        elif action in self.ACTIONS:
            spec = self.ACTIONS[action]
        else:
            raise nova_error(400, f"There is no such action: {action}")
        allowed, running_task, running_status, final = spec
        word = {"os-stop": "stop", "os-start": "start"}.get(action, action)
        if task is not None:
            raise nova_error(409, f"Cannot '{word}' instance {server_id} while it is in "
                             f"task_state {task}")
        if vm_state not in allowed:
            raise nova_error(409, f"Cannot '{word}' instance {server_id} while it is in "
                             f"vm_state {vm_state}")
        if action == "reboot":
            self.reboots[server_id] = self.reboots.get(server_id, 0) + 1
        server["OS-EXT-STS:task_state"] = running_task
        if running_status:
            server["status"] = running_status

        def finish(target: dict) -> None:
            self._set(target, *final)
        self._later(self.action_seconds, server_id, finish)
        return 202, None

    def _metadata_write(self, mv, query, body, out, method, server_id):
        server = self._server(server_id)
        metadata = (body or {}).get("metadata")
        if not isinstance(metadata, dict) or any(
                not isinstance(v, str) or not k or len(k) > 255 or len(v) > 255
                for k, v in metadata.items()):
            raise nova_error(400, "Invalid input for field/attribute metadata.")
        if method == "PUT":
            server["metadata"] = dict(metadata)
        else:
            server["metadata"].update(metadata)
        return 200, {"metadata": server["metadata"]}

    def _metadata_delete(self, mv, query, body, out, server_id, key):
        server = self._server(server_id)
        if key not in server["metadata"]:
            raise nova_error(404, "Metadata item was not found")
        del server["metadata"][key]
        return 204, None

    def _interfaces(self, mv, query, body, out, server_id):
        self._server(server_id)
        return 200, {"interfaceAttachments": [
            {"port_id": p["id"], "net_id": p["network_id"], "mac_addr": p["mac_address"],
             "port_state": p["status"], "fixed_ips": p["fixed_ips"]}
            for p in self.ports.values() if p["device_id"] == server_id]}

    def _flavor(self, flavor_id: str) -> dict:
        if flavor_id not in self.flavors:
            raise nova_error(404, f"Flavor {flavor_id} could not be found.")
        return self.flavors[flavor_id]

    def _flavor_view(self, flavor: dict, mv) -> dict:
        view = dict(flavor, links=self._link("flavors", flavor["id"]))
        if mv < (2, 75):
            view["swap"] = ""
        if mv < (2, 55):
            view.pop("description")
        if mv < (2, 61):
            view.pop("extra_specs")
        return view

    def _flavor_list(self, mv, query, detail: bool):
        flavors = sorted(self.flavors.values(), key=lambda f: f["id"])
        url = f"{self.public_url}/compute/v2.1/flavors" + ("/detail" if detail else "")
        page, links = self._page(flavors, query, "id", url, self.max_limit)
        items = [self._flavor_view(f, mv) if detail else
                 {"id": f["id"], "name": f["name"], "links": self._link("flavors", f["id"])}
                 for f in page]
        result = {"flavors": items}
        if links:
            result["flavors_links"] = links
        return 200, result

    def _keypair(self, name: str) -> dict:
        if name not in self.keypairs:
            raise nova_error(404, f"Keypair {name} not found for user {self.user['id']}")
        return self.keypairs[name]

    def _keypair_view(self, pair: dict, mv, full: bool) -> dict:
        view = {"name": pair["name"], "public_key": pair["public_key"],
                "fingerprint": pair["fingerprint"]}
        if mv >= (2, 2):
            view["type"] = pair["type"]
        if full:
            view.update(user_id=self.user["id"], created_at=pair["created_at"], deleted=False,
                        deleted_at=None, updated_at=None, id=pair["id"])
        return view

    def _keypair_list(self, mv, query, body, out):
        pairs = sorted(self.keypairs.values(), key=lambda p: p["name"])
        result: dict[str, Any] = {}
        if mv >= (2, 35):
            pairs, links = self._page(pairs, query, "name",
                                      f"{self.public_url}/compute/v2.1/os-keypairs",
                                      self.max_limit)
            if links:
                result["keypairs_links"] = links
        result["keypairs"] = [{"keypair": self._keypair_view(p, mv, False)} for p in pairs]
        return 200, result

    def _keypair_create(self, mv, query, body, out):
        request = (body or {}).get("keypair") or {}
        name = request.get("name")
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9 _.@-]{1,255}", name):
            raise nova_error(400, "Keypair data is invalid: Keypair name contains unsafe "
                             "characters")
        if name in self.keypairs:
            raise nova_error(409, f"Key pair '{name}' already exists.")
        public_key = request.get("public_key")
        if not public_key:
            raise nova_error(400, "This fake does not generate key pairs; send public_key")
        pair = {"id": next(self._serial), "name": name, "public_key": public_key.strip(),
                "fingerprint": md5_fingerprint(public_key), "type": request.get("type", "ssh"),
                "created_at": now_iso()[:-1]}
        self.keypairs[name] = pair
        return (201 if mv >= (2, 2) else 200), {"keypair": self._keypair_view(pair, mv,
                                                                                True)}

    def _keypair_delete(self, mv, query, body, out, name):
        self._keypair(name)
        del self.keypairs[name]
        return (204 if mv >= (2, 2) else 202), None

    # ---- Glance -----------------------------------------------------------------------
    def _image(self, method, path, query, body, headers, out):
        if method == "GET" and path == "/":
            return 300, {"versions": [
                {"id": f"v2.{minor}", "status": "CURRENT" if minor == 16 else "SUPPORTED",
                 "links": [{"rel": "self", "href": f"{self.public_url}/image/v2/"}]}
                for minor in (16, 15, 9, 0)]}
        self._spec("image", method, path, query, body)
        if method == "GET" and path == "/v2/images":
            return 200, self._image_list(query)
        match = re.fullmatch(r"/v2/images/([^/]+)", path)
        if match and method == "GET":
            image = self.images.get(match[1])
            if image is None:
                raise glance_error(404, f"No image found with ID {match[1]}")
            return 200, self._image_view(image)
        raise glance_error(404, "The resource could not be found.")

    @staticmethod
    def _image_view(image: dict) -> dict:
        return {k: v for k, v in image.items() if not k.startswith("_")}

    def _image_list(self, query) -> dict:
        images = sorted(self.images.values(), key=lambda i: i["_serial"], reverse=True)
        for field in ("name", "status", "visibility", "owner", "os_distro"):
            if field in query:
                images = [i for i in images if str(i.get(field)) == query[field][0]]
        if "visibility" not in query:  # the default list leaves community images out
            images = [i for i in images if i["visibility"] != "community"]
        # os_hidden: hidden images are left out unless asked for (then only they)
        hidden = (query.get("os_hidden") or ["false"])[0].lower() == "true"
        images = [i for i in images if bool(i.get("os_hidden")) == hidden]
        marker = (query.get("marker") or [None])[0]
        if marker is not None:
            ids = [i["id"] for i in images]
            if marker not in ids:
                raise glance_error(400, f"Invalid marker. Image {marker} could not be found.")
            images = images[ids.index(marker) + 1:]
        try:
            limit = min(int((query.get("limit") or [self.image_page])[0]), 1000)
        except ValueError:
            raise glance_error(400, "limit param must be an integer") from None
        page = images[:limit]
        result = {"images": [self._image_view(i) for i in page], "first": "/v2/images",
                  "schema": "/v2/schemas/images"}
        if page and len(page) == limit:
            params = {k: v[0] for k, v in query.items() if k not in ("marker", "limit")}
            params.update(marker=page[-1]["id"], limit=limit)
            result["next"] = f"/v2/images?{urlencode(params)}"
        return result

    # ---- Neutron ----------------------------------------------------------------------
    NEUTRON = {"networks": ("network", "networks"), "subnets": ("subnet", "subnets"),
               "ports": ("port", "ports"), "floatingips": ("floatingip", "floatingips"),
               "security-groups": ("security_group", "security_groups"),
               "security-group-rules": ("security_group_rule", "rules")}

    def _network(self, method, path, query, body, headers, out):
        if method == "GET" and path == "/":
            return 200, {"versions": [{"id": "v2.0", "status": "CURRENT", "links": [
                {"rel": "self", "href": f"{self.public_url}/network/v2.0/"}]}]}
        if method == "GET" and path == "/v2.0":
            return 200, {"resources": [{"name": s, "collection": r, "links": []}
                                       for r, (s, _) in self.NEUTRON.items()]}
        self._spec("network", method, path, query, body)
        match = re.fullmatch(r"/v2\.0/([a-z-]+)(?:/([^/]+))?", path)
        if not match or match[1] not in self.NEUTRON:
            raise neutron_error(404, "HTTPNotFound", "The resource could not be found.")
        collection, item_id = match[1], match[2]
        singular, store_name = self.NEUTRON[collection]
        store: dict = getattr(self, store_name)
        plural = collection.replace("-", "_")
        camel = "".join(w.capitalize() for w in singular.split("_"))
        if item_id is None and method == "GET":
            return 200, self._neutron_list(store, query, plural, collection)
        if item_id is None and method == "POST":
            request = (body or {}).get(singular)
            if not isinstance(request, dict):
                raise neutron_error(400, "HTTPBadRequest",
                                    f"Resource body required: {singular}")
            creator = getattr(self, f"_create_{singular}", None)
            if creator is None:
                raise neutron_error(403, "HTTPForbidden", f"Creating {plural} is not "
                                    "allowed in this fake")
            return 201, {singular: self._neutron_view(creator(request))}
        item = store.get(item_id or "")
        if item is None:
            raise neutron_error(404, f"{camel}NotFound",
                                f"{camel.replace('Floatingip', 'Floating IP')} {item_id} "
                                "could not be found.")
        if method == "GET":
            return 200, {singular: self._neutron_view(item)}
        if method == "PUT":
            changes = (body or {}).get(singular)
            if not isinstance(changes, dict):
                raise neutron_error(400, "HTTPBadRequest",
                                    f"Resource body required: {singular}")
            updater = getattr(self, f"_update_{singular}", None)
            if updater is None:
                raise neutron_error(403, "HTTPForbidden", "Updating is not allowed here")
            return 200, {singular: self._neutron_view(updater(item, changes))}
        if method == "DELETE":
            deleter = getattr(self, f"_delete_{singular}", None)
            if deleter is None:
                raise neutron_error(403, "HTTPForbidden", "Deleting is not allowed here")
            deleter(item)
            return 204, None
        raise neutron_error(405, "HTTPMethodNotAllowed", "Method not allowed")

    def _neutron_view(self, item: dict) -> dict:
        view = {k: copy.deepcopy(v) for k, v in item.items() if not k.startswith("_")}
        if "security_group_id" not in item and "stateful" in item:  # a security group
            view["security_group_rules"] = [self._neutron_view(r) for r in self.rules.values()
                                            if r["security_group_id"] == item["id"]]
        return view

    def _neutron_list(self, store: dict, query, plural: str, collection: str) -> dict:
        items = sorted(store.values(), key=lambda i: i["_serial"])
        for field, values in query.items():
            if field in ("limit", "marker", "fields", "sort_key", "sort_dir", "page_reverse"):
                continue
            wanted = set(values)
            items = [i for i in items if field in i and (
                str(i[field]) in wanted or str(i[field]).lower() in wanted
                or (i[field] is None and "" in wanted))]
        marker = (query.get("marker") or [None])[0]
        if marker is not None:
            ids = [i["id"] for i in items]
            items = items[ids.index(marker) + 1:] if marker in ids else []
        limit = int((query.get("limit") or [0])[0] or 0)
        result: dict[str, Any] = {}
        if limit > 0:
            page = items[:limit]
            if len(page) == limit:
                params = {k: v[0] for k, v in query.items() if k not in ("marker",)}
                params["marker"] = page[-1]["id"]
                result[f"{plural}_links"] = [{"rel": "next", "href": f"{self.public_url}"
                                              f"/network/v2.0/{collection}?{urlencode(params)}"}]
            items = page
        result[plural] = [self._neutron_view(i) for i in items]
        return result

    def _next_address(self, subnet: dict) -> str:
        net = ipaddress.ip_network(subnet["cidr"])
        used = {f["ip_address"] for p in self.ports.values() for f in p["fixed_ips"]}
        used |= {f["floating_ip_address"] for f in self.floatingips.values()}
        for host in itertools.islice(net.hosts(), 1, None):
            if str(host) not in used:
                return str(host)
        raise neutron_error(409, "IpAddressGenerationFailure",
                            f"No more IP addresses available on network {subnet['network_id']}.")

    def _create_port(self, request: dict, server: dict | None = None) -> dict:
        network = self.networks.get(request.get("network_id"))
        if network is None:
            raise neutron_error(404, "NetworkNotFound",
                                f"Network {request.get('network_id')} could not be found.")
        subnet = self.subnets[network["subnets"][0]]
        stamp = now_iso()
        mac = next(self._macs)
        port = {"id": str(uuid.uuid4()), "name": "", "network_id": network["id"],
                "tenant_id": self.project["id"], "project_id": self.project["id"],
                "mac_address": f"fa:16:3e:{mac >> 16 & 255:02x}:{mac >> 8 & 255:02x}:"
                               f"{mac & 255:02x}",
                "admin_state_up": True, "status": "ACTIVE" if server else "DOWN",
                "device_id": server["id"] if server else request.get("device_id", ""),
                "device_owner": "compute:nova" if server else request.get("device_owner", ""),
                "fixed_ips": [{"subnet_id": subnet["id"],
                               "ip_address": request.get("fixed_ip") or
                               self._next_address(subnet)}],
                "allowed_address_pairs": [], "extra_dhcp_opts": [],
                "security_groups": list(request.get("security_groups") or []),
                "port_security_enabled": True, "binding:vnic_type": "normal",
                "description": "", "created_at": stamp, "updated_at": stamp,
                "revision_number": 1, "tags": [], "_serial": next(self._serial)}
        self.ports[port["id"]] = port
        return port

    def _delete_port(self, port: Any) -> None:
        port_id = port["id"] if isinstance(port, dict) else port
        for fip in self.floatingips.values():
            if fip["port_id"] == port_id:  # the floating IP stays allocated
                fip.update(port_id=None, fixed_ip_address=None, status="DOWN",
                           router_id=None, updated_at=now_iso())
        del self.ports[port_id]

    def _create_floatingip(self, request: dict) -> dict:
        network = self.networks.get(request.get("floating_network_id"))
        if network is None:
            raise neutron_error(404, "NetworkNotFound", f"Network "
                                f"{request.get('floating_network_id')} could not be found.")
        if not network["router:external"]:
            raise neutron_error(400, "BadRequest", "Bad floatingip request: Network "
                                f"{network['id']} is not a valid external network.")
        stamp = now_iso()
        fip = {"id": str(uuid.uuid4()), "floating_network_id": network["id"],
               "floating_ip_address": self._next_address(self.subnets[network["subnets"][0]]),
               "fixed_ip_address": None, "port_id": None, "router_id": None,
               "status": "DOWN", "tenant_id": self.project["id"],
               "project_id": self.project["id"], "description":
               str(request.get("description") or ""), "dns_domain": "", "dns_name": "",
               "port_details": None, "qos_policy_id": None, "port_forwardings": [],
               "tags": [], "created_at": stamp, "updated_at": stamp, "revision_number": 0,
               "_serial": next(self._serial)}
        if request.get("port_id"):  # a failed association allocates nothing
            self._update_floatingip(fip, {"port_id": request["port_id"]})
        self.floatingips[fip["id"]] = fip
        return fip

    def _update_floatingip(self, fip: dict, changes: dict) -> dict:
        if "port_id" in changes:
            port_id = changes["port_id"]
            if port_id is None:
                fip.update(port_id=None, fixed_ip_address=None, status="DOWN",
                           router_id=None, port_details=None)
            else:
                port = self.ports.get(port_id)
                if port is None:
                    raise neutron_error(404, "PortNotFound",
                                        f"Port {port_id} could not be found.")
                subnet = self.subnets[port["fixed_ips"][0]["subnet_id"]]
                if not subnet["_routed"]:
                    raise neutron_error(404, "ExternalGatewayForFloatingIPNotFound",
                                        f"External network {fip['floating_network_id']} is "
                                        f"not reachable from subnet {subnet['id']}.  "
                                        f"Therefore, cannot associate Port {port_id} with a "
                                        "Floating IP.")
                if fip["port_id"] not in (None, port_id):
                    raise neutron_error(409, "FloatingIPPortAlreadyAssociated",
                                        f"Cannot associate floating IP "
                                        f"{fip['floating_ip_address']} ({fip['id']}) with "
                                        f"port {port_id} using fixed IP ..., as that fixed "
                                        f"IP already has a floating IP on external network "
                                        f"{fip['floating_network_id']}.")
                fip.update(port_id=port_id, fixed_ip_address=port["fixed_ips"][0]["ip_address"],
                           status="ACTIVE", router_id=str(uuid.uuid5(uuid.NAMESPACE_URL,
                                                                    "router1")),
                           port_details={"name": port["name"],
                                         "network_id": port["network_id"],
                                         "mac_address": port["mac_address"],
                                         "admin_state_up": True, "status": port["status"],
                                         "device_id": port["device_id"],
                                         "device_owner": port["device_owner"]})
        if "description" in changes:
            fip["description"] = str(changes["description"] or "")
        fip["updated_at"] = now_iso()
        fip["revision_number"] += 1
        return fip

    def _delete_floatingip(self, fip: dict) -> None:
        del self.floatingips[fip["id"]]

    def _create_security_group(self, request: dict) -> dict:
        name = request.get("name")
        if not isinstance(name, str) or len(name) > 255:
            raise neutron_error(400, "HTTPBadRequest", "Invalid input for name.")
        if name == "default":
            raise neutron_error(409, "SecurityGroupDefaultAlreadyExists",
                                "Default security group already exists.")
        return self._security_group(name, str(request.get("description") or ""))

    def _update_security_group(self, group: dict, changes: dict) -> dict:
        for key in ("name", "description"):
            if key in changes:
                group[key] = changes[key]
        return group

    def _delete_security_group(self, group: dict) -> None:
        if group["name"] == "default":
            raise neutron_error(409, "SecurityGroupCannotRemoveDefault",
                                "Insufficient rights for removing default security group.")
        if any(group["id"] in p["security_groups"] for p in self.ports.values()):
            raise neutron_error(409, "SecurityGroupInUse",
                                f"Security Group {group['id']} in use.")
        for rule_id in [r for r, v in self.rules.items() if v["security_group_id"]
                        == group["id"]]:
            del self.rules[rule_id]
        del self.security_groups[group["id"]]

    def _create_security_group_rule(self, request: dict) -> dict:
        group_id = request.get("security_group_id")
        if group_id not in self.security_groups:
            raise neutron_error(404, "SecurityGroupNotFound",
                                f"Security group {group_id} does not exist")
        direction = request.get("direction")
        if direction not in ("ingress", "egress"):
            raise neutron_error(400, "HTTPBadRequest", "Invalid input for direction. Reason: "
                                f"{direction} is not in valid_values.")
        ethertype = request.get("ethertype", "IPv4")
        protocol = request.get("protocol")
        if protocol is not None:
            protocol = str(protocol).lower()
            if protocol not in ("tcp", "udp", "icmp", "icmpv6", "6", "17", "1", "any"):
                raise neutron_error(400, "SecurityGroupRuleInvalidProtocol",
                                    f"Security group rule protocol {protocol} not supported.")
        low, high = request.get("port_range_min"), request.get("port_range_max")
        if protocol in ("tcp", "udp", "6", "17") and low is not None:
            if high is None or not 1 <= int(low) <= int(high) <= 65535:
                raise neutron_error(400, "SecurityGroupInvalidPortRange",
                                    "For TCP/UDP protocols, port_range_min must be <= "
                                    "port_range_max")
        prefix = request.get("remote_ip_prefix")
        if prefix is not None:
            try:
                network = ipaddress.ip_network(prefix, strict=False)
            except ValueError:
                raise neutron_error(400, "HTTPBadRequest", f"Invalid input for "
                                    f"remote_ip_prefix. Reason: '{prefix}' is not a valid IP "
                                    "subnet.") from None
            if ("IPv%d" % network.version) != ethertype:
                raise neutron_error(400, "SecurityGroupRuleParameterConflict",
                                    f"Conflicting value ethertype {ethertype} for CIDR "
                                    f"{prefix}")
        for rule in self.rules.values():
            if (rule["security_group_id"], rule["direction"], rule["ethertype"],
                    rule["protocol"], rule["port_range_min"], rule["port_range_max"],
                    rule["remote_ip_prefix"], rule["remote_group_id"]) == (
                    group_id, direction, ethertype, protocol, low, high, prefix,
                    request.get("remote_group_id")):
                raise neutron_error(409, "SecurityGroupRuleExists", "Security group rule "
                                    f"already exists. Rule id is {rule['id']}.")
        return self._rule(group_id, direction, ethertype, protocol, low, high, prefix,
                          request.get("remote_group_id"), str(request.get("description")
                                                              or ""))

    def _delete_security_group_rule(self, rule: dict) -> None:
        del self.rules[rule["id"]]

    def _create_network(self, request: dict) -> dict:
        raise neutron_error(403, "HTTPForbidden", "Creating networks is not allowed in this "
                            "fake; tests call add_network")

    def populate(self, count: int, prefix: str = "vm", public_ip: bool = True) -> None:
        """``count`` ACTIVE servers at once (for benchmarks), each with a port on the
        tenant network and, with ``public_ip``, a floating IP."""
        image = next(iter(self.images.values()))
        with self.lock:
            for number in range(count):
                self._server_create((2, 96), {}, {"server": {
                    "name": f"{prefix}-{number}", "imageRef": image["id"], "flavorRef": "1",
                    "networks": [{"uuid": self.tenant_network["id"]}]}}, {})
            self._pending.clear()
            for server in self.servers.values():
                if server["status"] == "BUILD":
                    self._finish_build(server)
                    if public_ip:
                        (port,) = [p for p in self.ports.values()
                                   if p["device_id"] == server["id"]]
                        self._create_floatingip({"floating_network_id":
                                                 self.external_network_id,
                                                 "port_id": port["id"]})

    # ---- what the tests read back -----------------------------------------------------
    def server_by_name(self, name: str) -> list[dict]:
        with self.lock:
            return [s for s in self.servers.values() if s["name"] == name]

    def delivered_keys(self, server_id: str) -> list[str]:
        """The public keys the boot request carried: the key pair named at boot, as
        cloud-init's metadata service would hand it to the VM."""
        with self.lock:
            server = self.servers.get(server_id)
            return [server["_public_key"]] if server and server["_public_key"] else []

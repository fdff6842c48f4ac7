"""The HTTP side of the fake Compute Engine (see state.py for the API it follows, and
spec.py for the check of every request against the v1 API description): a
threaded server on 127.0.0.1 that routes the v1 REST paths to ComputeState, checks the
bearer token, and serves an OAuth token endpoint for service-account files (the JWT
bearer grant of RFC 7523, as oauth2.googleapis.com/token answers it)."""

from __future__ import annotations

import base64
import copy
import json
import re
import secrets
import socket
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from . import spec
from .state import (LINK, ApiError, ComputeState, OperationFailure, not_found, offset_of,
                    compile_filter, page_size, paged, _token)

P = r"/compute/v1/projects/(?P<project>[^/]+)"
Z = P + r"/zones/(?P<zone>[^/]+)"
SEGMENT = r"[^/]+"


class GoogleFake:
    """The fake Compute Engine. ``url`` is what goes into ``api_endpoint``; ``token`` the
    access token it accepts. Tests read its state (``instance(name)``) and inject faults
    (``fail_next``)."""

    def __init__(self, project: str = "cms-test", delay: float = 0.2,
                 zones: tuple[str, ...] = ("us-central1-a", "us-central1-b",
                                           "europe-west1-b")) -> None:
        self._made_with = {"project": project, "zones": zones, "delay": delay}
        self.token = "ya29.fake-" + secrets.token_urlsafe(24)  # made per run
        self._server: ThreadingHTTPServer | None = None
        self.url = ""
        self.reset()

    def reset(self) -> None:
        """Forget everything since start: a new project state (instances, operations,
        quotas, faults), no requests, service accounts or violations. The server, its
        url and its token stay, so one fake can serve test after test."""
        self.state = ComputeState(**self._made_with)
        self.service_accounts: dict[str, Any] = {}  # client_email -> public key
        self.requests: list[tuple[str, str]] = []   # (method, path?query)
        self.unauthorized: list[tuple[str, str]] = []
        #: requests outside the API description (spec.py), each answered with GCE's 400;
        #: the tests' fixtures fail a test that sent one
        self.violations: list[str] = []
        self.wait_cap = 2.0  # seconds operations.wait holds a request (GCE: ~120)

    # ---- life --------------------------------------------------------------------
    def start(self) -> str:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def setup(self) -> None:
                super().setup()
                # headers and body go out in two writes: without this, Nagle's algorithm
                # and the client's delayed ACK add 40 ms to every answer
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                status, body = fake.handle(self.command, self.path, self.headers, raw)
                data = json.dumps(body, separators=(",", ":")).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = do_PATCH = do_PUT = _serve

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True,
                         name="google-fake").start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # ---- what tests use ----------------------------------------------------------
    @property
    def project(self) -> str:
        return self.state.project

    def instance(self, name: str, zone: str | None = None) -> dict | None:
        """The raw Instance JSON the fake holds (None when there is none)."""
        self.state.tick()
        with self.state.lock:
            for (z, n), found in self.state.instances.items():
                if n == name and zone in (None, z):
                    return copy.deepcopy(found)
        return None

    def reboot_count(self, name: str) -> int:
        """How many instances.reset calls GCE accepted for this instance (by name or id)."""
        with self.state.lock:
            for (_, n), found in self.state.instances.items():
                if name in (n, found.get("id")):
                    return self.state.resets.get(found["id"], 0)
        return 0

    def disks(self) -> list[str]:
        self.state.tick()
        with self.state.lock:
            return sorted(f"{z}/{n}" for z, n in self.state.disks)

    def ssh_keys(self, name: str) -> list[str]:
        """The OpenSSH public key lines the instance's ``ssh-keys`` metadata carries
        (``user:key`` entries, user stripped), as the guest agent reads them."""
        instance = self.instance(name) or {}
        items = (instance.get("metadata") or {}).get("items") or []
        value = next((i.get("value") or "" for i in items if i.get("key") == "ssh-keys"), "")
        return [line.split(":", 1)[1] for line in value.splitlines() if ":" in line]

    def project_ssh_keys(self) -> list[str]:
        items = self.state.common_metadata.get("items") or []
        value = next((i.get("value") or "" for i in items if i.get("key") == "ssh-keys"), "")
        return [line for line in value.splitlines() if line.strip()]

    def fail_next(self, operation_type: str, code: str, message: str, http: int = 400) -> None:
        """The next operation of this type (insert, start, stop, delete, ...; or
        "delete disks" for one on that kind of resource) ends DONE with this error, as
        quota and capacity errors do on GCE."""
        with self.state.lock:
            self.state.injected.append((operation_type,
                                        OperationFailure(code, message, http)))

    def add_instances(self, count: int, zone: str | None = None, prefix: str = "bulk",
                      status: str = "RUNNING") -> None:
        """Put ``count`` running instances straight into the state (for paging tests
        and benchmarks), spread over the zones unless one is given."""
        state = self.state
        with state.lock:
            state.cpu_quota += count * 2
            for n in range(count):
                where = zone or state.zones[n % len(state.zones)]
                name = f"{prefix}-{n:05d}"
                image = state.images["debian-cloud"][1]
                operation = state.insert_instance(state.project, where, {
                    "name": name, "machineType": f"zones/{where}/machineTypes/e2-micro",
                    "disks": [{"boot": True, "autoDelete": True,
                               "initializeParams": {"sourceImage": image["selfLink"]}}],
                    "networkInterfaces": [{"network": "global/networks/default",
                                           "accessConfigs": [{"type": "ONE_TO_ONE_NAT"}]}],
                    "metadata": {"items": [{"key": "purpose", "value": "bulk"}]}}, None)
                found = state.operations[operation["selfLink"][len(LINK):]]
                for _, step in found.steps:
                    step()
                found.steps = []
                found.finish()
                state.instances[(where, name)]["status"] = status

    def register_service_account(self, email: str, public_key: Any) -> None:
        """Accept JWT grants signed by this key (for service_account_file tests)."""
        self.service_accounts[email] = public_key

    # ---- dispatch ----------------------------------------------------------------
    def handle(self, method: str, target: str, headers: Any, raw: bytes) -> tuple[int, Any]:
        parsed = urllib.parse.urlsplit(target)
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(parsed.query).items()}
        path = parsed.path
        self.requests.append((method, target))
        if path == "/token" and method == "POST":
            return self._token(raw)
        if not self._authorized(headers.get("Authorization") or ""):
            self.unauthorized.append((method, target))
            message = ("Request had invalid authentication credentials. Expected OAuth 2 "
                       "access token, login cookie or other valid authentication "
                       "credential. See https://developers.google.com/identity/sign-in/"
                       "web/devconsole-project.")
            return 401, {"error": {"code": 401, "message": message, "errors": [
                {"message": message, "domain": "global", "reason": "unauthorized"}],
                "status": "UNAUTHENTICATED"}}
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            return 400, ApiError(400, "parseError", "Parse Error").body()
        try:
            spec.check(method, path, urllib.parse.parse_qs(parsed.query,
                                                           keep_blank_values=True), body)
        except spec.SpecViolation as violation:
            self.violations.append(f"{violation.operation}: {violation.message}")
            return 400, violation.body()
        for verb, pattern, function in self._routes():
            match = re.fullmatch(pattern, path)
            if match and verb == method:
                try:
                    if match.groupdict().get("operation") is None or "/wait" not in path:
                        self.state.tick()
                    if "/wait" in path:  # holds the request: not under the lock
                        return 200, function(query, body, **match.groupdict())
                    with self.state.lock:
                        return 200, copy.deepcopy(function(query, body, **match.groupdict()))
                except ApiError as error:
                    return error.code, error.body()
                except Exception:  # a bug of the fake: say so, as GCE's 500 would
                    import traceback

                    traceback.print_exc()
                    return 500, ApiError(500, "backendError", "Internal error in the "
                                                              "fake").body()
        return 404, not_found(path.split("/compute/v1/", 1)[-1]).body()

    def _routes(self) -> list[tuple[str, str, Callable]]:
        s = self.state
        return [
            ("GET", P, lambda q, b, project: s.get_project(project)),
            ("POST", P + "/setCommonInstanceMetadata",
             lambda q, b, project: s.set_common_metadata(project, b, q.get("requestId"))),
            ("GET", P + "/aggregated/instances", self._aggregated_instances),
            ("GET", Z + "/instances", self._list_instances),
            ("POST", Z + "/instances",
             lambda q, b, project, zone: s.insert_instance(project, zone, b,
                                                           q.get("requestId"))),
            ("GET", Z + r"/instances/(?P<name>[^/]+)",
             lambda q, b, project, zone, name: s.instance(project, zone, name)),
            ("DELETE", Z + r"/instances/(?P<name>[^/]+)",
             lambda q, b, project, zone, name: s.instance_action(
                 project, zone, name, "delete", q.get("requestId"))),
            ("POST", Z + r"/instances/(?P<name>[^/]+)/(?P<action>start|stop|reset|suspend|"
                         r"resume)",
             lambda q, b, project, zone, name, action: s.instance_action(
                 project, zone, name, action, q.get("requestId"))),
            ("POST", Z + r"/instances/(?P<name>[^/]+)/setMetadata",
             lambda q, b, project, zone, name: s.set_instance_metadata(
                 project, zone, name, b, q.get("requestId"))),
            ("POST", Z + r"/instances/(?P<name>[^/]+)/setTags",
             lambda q, b, project, zone, name: s.set_tags(project, zone, name, b,
                                                          q.get("requestId"))),
            ("GET", Z + r"/operations/(?P<operation>[^/]+)",
             lambda q, b, project, zone, operation: s.get_operation(project, zone, operation)),
            ("POST", Z + r"/operations/(?P<operation>[^/]+)/wait",
             lambda q, b, project, zone, operation: s.wait_operation(
                 project, zone, operation, time.monotonic() + self.wait_cap)),
            ("GET", Z + "/operations",
             lambda q, b, project, zone: paged(s.list_operations(project, zone),
                                               "compute#operationList",
                                               f"projects/{project}/zones/{zone}/operations",
                                               q, s.max_page)),
            ("GET", P + r"/global/operations/(?P<operation>[^/]+)",
             lambda q, b, project, operation: s.get_operation(project, None, operation)),
            ("POST", P + r"/global/operations/(?P<operation>[^/]+)/wait",
             lambda q, b, project, operation: s.wait_operation(
                 project, None, operation, time.monotonic() + self.wait_cap)),
            ("GET", P + "/global/images",
             lambda q, b, project: self._list(s.check_project(project, True)
                                              or s.images.get(project, []),
                                              "compute#imageList",
                                              f"projects/{project}/global/images", q)),
            ("GET", P + r"/global/images/family/(?P<family>[^/]+)",
             lambda q, b, project, family: s.image_from_family(project, family)),
            ("GET", P + r"/global/images/(?P<name>[^/]+)",
             lambda q, b, project, name: s.image(project, name)),
            ("GET", Z + "/machineTypes",
             lambda q, b, project, zone: self._list(
                 s.machine_types(project, zone), "compute#machineTypeList",
                 f"projects/{project}/zones/{zone}/machineTypes", q)),
            ("GET", Z + r"/machineTypes/(?P<name>[^/]+)",
             lambda q, b, project, zone, name: s.machine_type(project, zone, name)),
            ("GET", P + "/zones",
             lambda q, b, project: self._list(
                 [s.zone(project, z) for z in s.zones] if not s.check_project(project)
                 else [], "compute#zoneList", f"projects/{project}/zones", q)),
            ("GET", Z, lambda q, b, project, zone: s.zone(project, zone)),
            ("GET", P + "/global/networks",
             lambda q, b, project: self._list(
                 list(s.networks.values()) if not s.check_project(project) else [],
                 "compute#networkList", f"projects/{project}/global/networks", q)),
            ("GET", P + r"/global/networks/(?P<name>[^/]+)", self._network),
            ("GET", P + "/global/firewalls",
             lambda q, b, project: self._list(
                 list(s.firewalls.values()) if not s.check_project(project) else [],
                 "compute#firewallList", f"projects/{project}/global/firewalls", q)),
            ("POST", P + "/global/firewalls",
             lambda q, b, project: s.insert_firewall(project, b, q.get("requestId"))),
            ("GET", P + r"/global/firewalls/(?P<name>[^/]+)",
             lambda q, b, project, name: s.firewall(project, name)),
            ("PATCH", P + r"/global/firewalls/(?P<name>[^/]+)",
             lambda q, b, project, name: s.patch_firewall(project, name, b,
                                                          q.get("requestId"))),
            ("DELETE", P + r"/global/firewalls/(?P<name>[^/]+)",
             lambda q, b, project, name: s.delete_firewall(project, name,
                                                           q.get("requestId"))),
            ("GET", Z + "/disks",
             lambda q, b, project, zone: self._list(
                 [d for (z, _), d in s.disks.items() if z == zone]
                 if not s.check_zone(project, zone) else [],
                 "compute#diskList", f"projects/{project}/zones/{zone}/disks", q)),
            ("GET", Z + r"/disks/(?P<name>[^/]+)",
             lambda q, b, project, zone, name: s.disk(project, zone, name)),
            ("DELETE", Z + r"/disks/(?P<name>[^/]+)",
             lambda q, b, project, zone, name: s.delete_disk(project, zone, name,
                                                             q.get("requestId"))),
        ]

    def _list(self, items: list[dict], kind: str, link: str, query: dict) -> dict:
        return paged(items, kind, link, query, self.state.max_page)

    def _network(self, query: dict, body: dict, project: str, name: str) -> dict:
        self.state.check_project(project)
        if name not in self.state.networks:
            raise not_found(f"projects/{project}/global/networks/{name}")
        return self.state.networks[name]

    def _list_instances(self, query: dict, body: dict, project: str, zone: str) -> dict:
        self.state.check_zone(project, zone)
        items = [i for (z, _), i in self.state.instances.items() if z == zone]
        return self._list(items, "compute#instanceList",
                          f"projects/{project}/zones/{zone}/instances", query)

    def _aggregated_instances(self, query: dict, body: dict, project: str) -> dict:
        """instances.aggregatedList: one page over every zone's instances, as a map of
        scopes; a zone with nothing on this page carries NO_RESULTS_ON_PAGE."""
        state = self.state
        state.check_project(project)
        accept = compile_filter(query.get("filter"))
        rows = [(z, i) for z in state.zones for (iz, _), i in state.instances.items()
                if iz == z and accept(i)]
        start = offset_of(query.get("pageToken"))
        size = page_size(query.get("maxResults"), state.max_page)
        page = rows[start:start + size]
        items: dict[str, Any] = {}
        for zone in state.zones:
            chosen = [i for z, i in page if z == zone]
            scope = f"zones/{zone}"
            items[scope] = {"instances": chosen} if chosen else {"warning": {
                "code": "NO_RESULTS_ON_PAGE",
                "message": f"There are no results for scope '{scope}' on this page.",
                "data": [{"key": "scope", "value": scope}]}}
        answer = {"kind": "compute#instanceAggregatedList",
                  "id": f"projects/{project}/aggregated/instances", "items": items,
                  "selfLink": f"{LINK}projects/{project}/aggregated/instances"}
        if start + size < len(rows):
            answer["nextPageToken"] = _token(start + size)
        return answer

    # ---- credentials ---------------------------------------------------------------
    def _authorized(self, header: str) -> bool:
        """The access token, or a self-signed JWT of a registered service account (the
        client library sends those instead of exchanging them: always_use_jwt_access)."""
        if header == f"Bearer {self.token}":
            return True
        if header.startswith("Bearer ") and header.count(".") == 2:
            return self._verified(header[7:]) is not None
        return False

    def _verified(self, jwt: str) -> dict | None:
        try:
            header_b64, payload_b64, signature_b64 = jwt.split(".")
            decode = lambda part: base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
            payload = json.loads(decode(payload_b64))
            key = self.service_accounts[payload["iss"]]
            from cryptography.hazmat.primitives import hashes
            from cryptography.hazmat.primitives.asymmetric import padding

            key.verify(decode(signature_b64), f"{header_b64}.{payload_b64}".encode(),
                       padding.PKCS1v15(), hashes.SHA256())
        except Exception:
            return None
        return payload if payload.get("exp", 0) >= time.time() else None

    # ---- OAuth token endpoint (service-account files point token_uri here) --------
    def _token(self, raw: bytes) -> tuple[int, Any]:
        form = {k: v[-1] for k, v in urllib.parse.parse_qs(raw.decode()).items()}
        refused = {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return 400, {"error": "unsupported_grant_type",
                         "error_description": "Invalid grant_type"}
        if self._verified(form.get("assertion") or "") is None:
            return 400, refused
        return 200, {"access_token": self.token, "expires_in": 3599, "token_type": "Bearer"}

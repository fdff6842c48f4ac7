"""Compute Engine's own answers, recorded by Apache Libcloud from the real cloud
(tests/samples/google/SOURCES), served through google-cloud-compute to the google
provider; every field of the records is compared with the sample's own values.

The replay server answers only what the samples hold, checks each request against the
Compute Engine v1 description (tests/fakes/google/spec.py) and the bearer token, and
records what it was asked."""

from __future__ import annotations

import copy
import json
import re
import secrets
import threading
import urllib.parse
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from cloudmesh.compute import Provider
from cloudmesh.compute.errors import NotFound
from cloudmesh.compute.testing.fixtures import write_config
from fakes.google import spec

pytest.importorskip("google.cloud.compute_v1")

SAMPLES = Path(__file__).parent / "samples" / "google"
STATUS = {"RUNNING": "running", "SUSPENDED": "suspended", "TERMINATED": "stopped"}


def sample(name: str) -> Any:
    return json.loads((SAMPLES / name).read_text())


def last(link: str) -> str:
    return link.rsplit("/", 1)[-1]


def utc(stamp: str) -> str:
    """The sample's Pacific timestamp in UTC, to the second, as cms writes times."""
    moment = datetime.fromisoformat(stamp).astimezone(timezone.utc).replace(microsecond=0)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def sample_instances() -> list[dict]:
    """Every recorded instance: the aggregated list's eight, and the stopped one."""
    found = [i for scope in sample("aggregated_instances.json")["items"].values()
             for i in scope.get("instances", ())]
    return found + [sample("zones_us_central1_a_instances_stopped_node.json")]


class Replay:
    """An HTTP server on 127.0.0.1 that answers Compute Engine v1 paths from the samples."""

    def __init__(self) -> None:
        self.token = "ya29.replay-" + secrets.token_urlsafe(16)
        self.requests: list[str] = []
        self.violations: list[str] = []
        self.instances = sample_instances()

    def answer(self, method: str, target: str, headers: Any) -> tuple[int, Any]:
        parsed = urllib.parse.urlsplit(target)
        query = urllib.parse.parse_qs(parsed.query, keep_blank_values=True)
        self.requests.append(f"{method} {target}")
        if headers.get("Authorization") != f"Bearer {self.token}":
            return 401, {"error": {"code": 401, "message": "Request had invalid "
                                   "authentication credentials.", "status": "UNAUTHENTICATED"}}
        try:
            operation = spec.check(method, parsed.path, query, None)
        except spec.SpecViolation as violation:
            self.violations.append(violation.message)
            return 400, violation.body()
        path = parsed.path
        m = re.fullmatch(r"/compute/v1/projects/[^/]+/(.*)", path)
        rest = m.group(1) if m else ""
        if operation == "compute.instances.aggregatedList":
            return 200, self.aggregated((query.get("filter") or [""])[0])
        if operation == "compute.instances.get":
            zone, ref = rest.split("/")[1], rest.split("/")[3]
            for instance in self.instances:
                if last(instance["zone"]) == zone and ref in (instance["name"],
                                                               instance["id"]):
                    return 200, instance
            return 404, self.not_found(rest)
        if operation == "compute.machineTypes.list":
            return 200, sample("zones_us-central1-a_machineTypes.json")
        if operation == "compute.machineTypes.get":
            for item in sample("zones_us-central1-a_machineTypes.json")["items"]:
                if item["name"] == last(path):
                    return 200, item
            return 404, self.not_found(rest)
        if operation == "compute.images.list":
            project = path.split("/")[4]
            name = f"projects_{project}_global_images.json"
            if (SAMPLES / name).exists():
                return 200, sample(name)
            return 200, {"kind": "compute#imageList", "id": f"projects/{project}/global/images"}
        return 404, self.not_found(rest)

    def aggregated(self, filter_: str) -> dict:
        wanted = re.fullmatch(r'(name|id) = "([^"]*)"', filter_) if filter_ else None
        answer = copy.deepcopy(sample("aggregated_instances.json"))
        stopped = sample("zones_us_central1_a_instances_stopped_node.json")
        answer["items"]["zones/us-central1-a"]["instances"].append(stopped)
        for scope in answer["items"].values():
            if wanted and "instances" in scope:
                field, value = wanted.groups()
                scope["instances"] = [i for i in scope["instances"] if i[field] == value]
        return answer

    @staticmethod
    def not_found(what: str) -> dict:
        message = f"The resource 'projects/cms-test/{what}' was not found"
        return {"error": {"code": 404, "message": message, "errors": [
            {"message": message, "domain": "global", "reason": "notFound"}]}}


@pytest.fixture
def replay():
    server = Replay()

    class Handler(BaseHTTPRequestHandler):
        # headers and body are two writes: without this the body waits for the client's
        # delayed ACK (40 ms an answer)
        disable_nagle_algorithm = True
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            status, body = server.answer(self.command, self.path, self.headers)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_POST = do_DELETE = do_GET

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
    server.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield server
    httpd.shutdown()
    httpd.server_close()
    assert not server.violations, server.violations


@pytest.fixture
def cloud(cms_home: Path, replay: Replay) -> str:
    write_config(cms_home, {"gce": {
        "cm": {"kind": "google", "label": "replayed GCE", "timeout": 10, "retries": 0},
        "credentials": {"project": "cms-test", "zone": "us-central1-a",
                        "access_token": replay.token, "api_endpoint": replay.url},
        "default": {"image_projects": "debian-cloud,ubuntu-os-cloud"}}}, default="gce")
    return "gce"


def expected_vm(instance: dict, username: str) -> dict[str, Any]:
    zone = last(instance["zone"])
    nics = instance["networkInterfaces"]
    return {
        "name": instance["name"], "id": instance["id"], "status": STATUS[instance["status"]],
        "state": instance["status"], "flavor": last(instance["machineType"]),
        "zone": zone, "region": zone.rsplit("-", 1)[0],
        "private_ips": [n["networkIP"] for n in nics],
        "public_ips": [a["natIP"] for n in nics for a in n.get("accessConfigs", ())
                       if a.get("natIP")],
        "secgroups": instance["tags"].get("items", []),
        "created": utc(instance["creationTimestamp"]),
        "image": None, "key": None, "metadata": {}, "username": username,
        "cloud": "gce", "kind": "google"}


def compare(record: dict, expected: dict) -> None:
    differ = {f: (record.get(f), want) for f, want in expected.items()
              if record.get(f) != want}
    assert not differ, f"{expected['name']}: (cms, sample) differ: {differ}"


def test_vm_list_matches_every_recorded_instance(cloud: str, replay: Replay) -> None:
    provider = Provider(cloud)
    records = {r["name"]: r for r in provider.list()}
    instances = sample_instances()
    assert sorted(records) == sorted(i["name"] for i in instances)
    assert {r["status"] for r in records.values()} == {"running", "suspended", "stopped"}
    login = provider.provider.default_username
    for instance in instances:
        compare(records[instance["name"]], expected_vm(instance, login))
    assert sum("/aggregated/instances" in r for r in replay.requests) == 1


@pytest.mark.parametrize("ref, sample_name", [
    ("node-name", "node-name"),                      # in the configured zone: one GET
    ("libcloud-demo-np-node", "libcloud-demo-np-node"),  # another zone
    ("stopped-node", "stopped-node"),
    ("10947706194464948790", "libcloud-demo-europe-multiple-nodes-000"),  # by id
])
def test_vm_info_matches_the_recorded_instance(cloud: str, replay: Replay, ref: str,
                                               sample_name: str) -> None:
    provider = Provider(cloud)
    (instance,) = [i for i in sample_instances() if i["name"] == sample_name]
    record = provider.info(ref)
    compare(record, expected_vm(instance, provider.provider.default_username))


def test_vm_info_of_an_unknown_name_is_not_found(cloud: str) -> None:
    with pytest.raises(NotFound):
        Provider(cloud).info("nobody-here")


def expected_image(image: dict, project: str) -> dict[str, Any]:
    return {"name": image["name"], "id": f"projects/{project}/global/images/{image['name']}",
            "status": image["status"], "created": utc(image["creationTimestamp"]),
            "arch": {"X86_64": "x86_64", "ARM64": "arm64"}.get(image.get("architecture"),
                                                               image.get("architecture")),
            "cloud": "gce", "kind": "google"}


def recorded_images() -> list[tuple[dict, str]]:
    return [(image, project) for project in ("debian-cloud", "ubuntu-os-cloud")
            for image in sample(f"projects_{project}_global_images.json")["items"]]


def test_image_list_all_builds_matches_every_recorded_image(cloud: str) -> None:
    records = {r["id"]: r for r in Provider(cloud).provider.images(all_builds=True)}
    images = recorded_images()
    assert len(records) == len(images) == 28
    for image, project in images:
        expected = expected_image(image, project)
        compare(records[expected["id"]], expected)
    ubuntu = records["projects/ubuntu-os-cloud/global/images/ubuntu-1404-trusty-v20141212"]
    assert ubuntu["os"] == "ubuntu"


def test_image_list_default_leaves_deprecated_builds_out(cloud: str) -> None:
    records = {r["id"] for r in Provider(cloud).provider.images()}
    current = {expected_image(i, p)["id"] for i, p in recorded_images()
               if (i.get("deprecated") or {}).get("state") not in ("DEPRECATED", "OBSOLETE",
                                                                    "DELETED")}
    assert records == current and len(current) < 28


def test_flavor_list_matches_the_recorded_machine_types(cloud: str) -> None:
    records = {r["name"]: r for r in Provider(cloud).provider.flavors()}
    machines = sample("zones_us-central1-a_machineTypes.json")["items"]
    assert sorted(records) == sorted(m["name"] for m in machines)
    for machine in machines:
        compare(records[machine["name"]], {
            "name": machine["name"], "id": machine["name"], "vcpus": machine["guestCpus"],
            "ram_mb": machine["memoryMb"], "cloud": "gce", "kind": "google"})

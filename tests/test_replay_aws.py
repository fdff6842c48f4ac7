"""EC2's own answers, recorded by Apache Libcloud from the real cloud
(tests/samples/aws/SOURCES), served through boto3 to the aws provider; every field of
the vm and image records is compared with the sample's own values.

The replay server answers the EC2 Query API actions the samples hold, filters them as
EC2 does for the filters the provider sends (tag:Name, instance-id, InstanceId.N,
ImageId.N, name, state), and refuses a request that is not signed with the test key."""

from __future__ import annotations

import threading
import urllib.parse
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest

from cloudmesh.compute import Provider
from cloudmesh.compute.errors import NotFound
from conftest import TEST_KEY_ID, TEST_SECRET, cms_here, write_config

pytest.importorskip("boto3")

SAMPLES = Path(__file__).parent / "samples" / "aws"
STATUS = {"pending": "booting", "running": "running", "stopped": "stopped",
          "terminated": "terminated"}
ANSWERS = {"DescribeInstances": "describe_instances.xml",
           "DescribeImages": "describe_images.xml",
           "DescribeAvailabilityZones": "describe_availability_zones.xml"}


def sample(name: str) -> ET.Element:
    return ET.fromstring((SAMPLES / name).read_text())


def field(item: ET.Element, path: str) -> str | None:
    """The text at ``path`` (slash-separated EC2 element names) under ``item``."""
    found = item.find("/".join(f"{{*}}{step}" for step in path.split("/")))
    return found.text if found is not None and found.text else None


def items(element: ET.Element, path: str) -> list[ET.Element]:
    return element.findall("/".join(f"{{*}}{step}" for step in path.split("/")) + "/{*}item")


def tags(instance: ET.Element) -> dict[str, str]:
    return {field(t, "key"): field(t, "value") or "" for t in items(instance, "tagSet")}


def sample_instances() -> list[ET.Element]:
    return [i for r in items(sample("describe_instances.xml"), "reservationSet")
            for i in items(r, "instancesSet")]


def sample_images() -> list[ET.Element]:
    return items(sample("describe_images.xml"), "imagesSet")


def keep(instance_or_image: ET.Element, form: dict[str, list[str]]) -> bool:
    """Whether EC2 would return this item for the request's filters and ids."""
    ids = [v[0] for k, v in form.items() if k.startswith(("InstanceId.", "ImageId."))]
    own_id = field(instance_or_image, "instanceId") or field(instance_or_image, "imageId")
    if ids and own_id not in ids:
        return False
    number = 1
    while f"Filter.{number}.Name" in form:
        name = form[f"Filter.{number}.Name"][0]
        values = [v[0] for k, v in form.items() if k.startswith(f"Filter.{number}.Value.")]
        actual = {"tag:Name": tags(instance_or_image).get("Name"), "instance-id": own_id,
                  "name": field(instance_or_image, "name"),
                  "state": field(instance_or_image, "imageState")}.get(name)
        if actual not in values:
            return False
        number += 1
    return True


class Replay:
    """EC2's Query API on 127.0.0.1, answering from the samples."""

    def __init__(self) -> None:
        self.actions: list[str] = []
        replay = self

        class Handler(BaseHTTPRequestHandler):
            # headers and body are two writes: without this the body waits for the client's
            # delayed ACK (40 ms an answer)
            disable_nagle_algorithm = True
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                form = urllib.parse.parse_qs(body.decode())
                action = form.get("Action", [""])[0]
                replay.actions.append(action)
                signed = f"Credential={TEST_KEY_ID}/" in (self.headers.get("Authorization")
                                                           or "")
                if not signed or action not in ANSWERS:
                    self.answer(400, b"<Response><Errors><Error><Code>"
                                + (b"InvalidAction" if signed else b"AuthFailure")
                                + b"</Code><Message>not in the samples</Message></Error>"
                                b"</Errors><RequestID>replay</RequestID></Response>")
                    return
                root = sample(ANSWERS[action])
                for holder in root.iter():
                    for item in list(holder):
                        if item.tag.endswith("}item") and holder.tag.endswith(
                                ("}instancesSet", "}imagesSet")) and not keep(item, form):
                            holder.remove(item)
                for reservations in root.iter("{*}reservationSet"):
                    for reservation in list(reservations):
                        if not items(reservation, "instancesSet"):
                            reservations.remove(reservation)
                self.answer(200, ET.tostring(root))

            def answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "text/xml;charset=UTF-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()  # shutdown() returns within 0.05 s


@pytest.fixture
def replay(cms_home: Path) -> Iterator[Replay]:
    server = Replay()
    write_config(cms_home, {"ec2": {
        "cm": {"kind": "aws", "timeout": 10, "retries": 0},
        "credentials": {"region": "us-east-1", "endpoint_url": server.url,
                        "access_key_id": TEST_KEY_ID, "secret_access_key": TEST_SECRET}}},
        default="ec2")
    yield server
    server.server.shutdown()
    server.server.server_close()


def utc(stamp: str) -> str:
    """EC2's launch time (UTC, milliseconds) as cms writes times: to the second, Z."""
    return stamp.split(".")[0] + "Z"


def expected_vm(instance: ET.Element) -> dict[str, Any]:
    """The vm record fields the sample itself says."""
    own = tags(instance)
    interfaces = items(instance, "networkInterfaceSet")
    private = [field(a, "privateIpAddress") for i in interfaces
               for a in items(i, "privateIpAddressesSet")] or [field(instance,
                                                                    "privateIpAddress")]
    groups = [field(g, "groupName") for g in items(instance, "groupSet")]
    return {"id": field(instance, "instanceId"),
            "name": own.pop("Name", None) or field(instance, "instanceId"),
            "state": field(instance, "instanceState/name"),
            "status": STATUS[field(instance, "instanceState/name")],
            "image": field(instance, "imageId"), "flavor": field(instance, "instanceType"),
            "public_ips": [field(instance, "ipAddress")], "private_ips": private,
            "key": field(instance, "keyName"), "secgroups": groups,
            "zone": field(instance, "placement/availabilityZone"), "region": "us-east-1",
            "created": utc(field(instance, "launchTime")), "metadata": own,
            "username": "ubuntu", "cloud": "ec2", "kind": "aws"}


def test_the_samples_hold_a_name_with_spaces_and_an_unnamed_vm():
    names = [tags(i).get("Name") for i in sample_instances()]
    assert names == [None, "Test Server 2"]


def test_vm_list_gives_each_recorded_instance_field_by_field(replay: Replay):
    records = {r["id"]: r for r in Provider("ec2").list()}
    expected = [expected_vm(i) for i in sample_instances()]
    assert sorted(records) == sorted(e["id"] for e in expected)
    for wanted in expected:
        record = records[wanted["id"]]
        assert {k: record[k] for k in wanted} == wanted


@pytest.mark.parametrize("ref", ["Test Server 2", "i-8474834a"])
def test_vm_info_by_a_name_with_spaces_or_by_id(replay: Replay, ref: str):
    (instance,) = [i for i in sample_instances() if tags(i).get("Name") == "Test Server 2"]
    result = cms_here("vm", "info", ref, "--output=json")
    assert result.code == 0, result
    record = result.json()
    record = record[0] if isinstance(record, list) else record
    wanted = expected_vm(instance)
    assert {k: record[k] for k in wanted} == wanted


def test_vm_info_of_an_unknown_name_is_not_found(replay: Replay):
    with pytest.raises(NotFound, match="Test Server 3"):
        Provider("ec2").info("Test Server 3")
    assert "DescribeInstances" in replay.actions


def test_image_list_gives_each_recorded_image_field_by_field(replay: Replay):
    records = {r["id"]: r for r in Provider("ec2").images()}
    assert sorted(records) == sorted(field(i, "imageId") for i in sample_images())
    for image in sample_images():
        created = field(image, "creationDate")
        wanted = {"name": field(image, "name"), "id": field(image, "imageId"),
                  "os": field(image, "platformDetails") or field(image, "platform")
                  or "Linux/UNIX",
                  "version": field(image, "description"),
                  "arch": field(image, "architecture"), "status": field(image, "imageState"),
                  "created": utc(created) if created else None}
        record = records[wanted["id"]]
        assert {k: record[k] for k in wanted} == wanted
        assert record["native"]["root_device"] == field(image, "rootDeviceName")


def test_image_by_name_with_spaces(replay: Replay):
    assert Provider("ec2").image("Test Image 2")["id"] == "ami-85b2a8ae"


def test_check_counts_the_recorded_zones(replay: Replay):
    zones = items(sample("describe_availability_zones.xml"), "availabilityZoneInfo")
    assert Provider("ec2").check() == f"region us-east-1, {len(zones)} availability zones"

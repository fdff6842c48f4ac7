"""Recorded OCI answers (tests/samples/oracle, origins in SOURCES) served through the real
oci SDK to the oracle provider; each record field is compared with the sample's own
value. The recorded instances carry only what OCI's answer held (id, compartment,
display name, availability domain, lifecycle state, creation time, tags): the server
serves exactly those fields, nothing made up."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

pytest.importorskip("oci")

from cloudmesh.compute.provider import Provider  # noqa: E402
from cloudmesh.compute.testing.fixtures import write_config  # noqa: E402
from fakes.oracle.harness import cloud_spec, make_api_key  # noqa: E402

SAMPLES = Path(__file__).parent / "samples" / "oracle"
SUMMARIES = json.loads((SAMPLES / "recorded_instance_summaries.json").read_text())
DOMAINS = json.loads((SAMPLES / "recorded_list_availability_domains.json").read_text())
#: the recorded fields that an Instance of ListInstances has under the same JSON name
INSTANCE_FIELDS = ("compartmentId", "timeCreated", "displayName", "availabilityDomain",
                   "lifecycleState", "freeformTags", "definedTags", "systemTags")


def as_instance(summary: dict) -> dict:
    return {"id": summary["identifier"], **{k: summary[k] for k in INSTANCE_FIELDS}}


class Replay:
    """ListInstances, GetInstance, ListVnicAttachments (none recorded: empty) and
    ListAvailabilityDomains answered from the samples."""

    def __init__(self) -> None:
        instances = {s["identifier"]: as_instance(s) for s in SUMMARIES}
        self.paths: list[str] = []
        replay = self

        class Handler(BaseHTTPRequestHandler):
            # headers and body are two writes: without this the body waits for the client's
            # delayed ACK (40 ms an answer)
            disable_nagle_algorithm = True
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                replay.paths.append(self.path)
                path = self.path.split("?", 1)[0]
                if path == "/20160918/instances":
                    name = dict(p.split("=", 1) for p in self.path.split("?", 1)[1]
                                .split("&")).get("displayName")
                    body = [i for i in instances.values() if not name
                            or i["displayName"] == name]
                elif path.startswith("/20160918/instances/"):
                    body = instances[path.rsplit("/", 1)[1]]
                elif path == "/20160918/availabilityDomains":
                    body = DOMAINS
                else:
                    body = []
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()


@pytest.fixture
def replayed(cms_home: Path, tmp_path: Path):
    server = Replay()
    key_file, fingerprint = make_api_key(tmp_path / "oci")
    spec = cloud_spec(server.url, key_file, fingerprint)
    spec["credentials"]["compartment_id"] = SUMMARIES[0]["compartmentId"]
    write_config(cms_home, {"oci": spec}, default="oci")
    yield server
    server.server.shutdown()
    server.server.server_close()


def utc(text: str) -> str:
    """The recorded time in UTC at the second (cms records keep whole seconds)."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)
    return moment.replace(microsecond=0).isoformat()


STATUS = {"RUNNING": "running", "TERMINATING": "deleting"}


def test_vm_list_fields_are_the_recorded_values(replayed: Replay) -> None:
    records = {r["id"]: r for r in Provider("oci").list()}
    assert sorted(records) == sorted(s["identifier"] for s in SUMMARIES)
    for summary in SUMMARIES:
        record = records[summary["identifier"]]
        assert record["name"] == summary["displayName"]
        assert record["state"] == summary["lifecycleState"]
        assert record["status"] == STATUS[summary["lifecycleState"]]
        assert record["zone"] == summary["availabilityDomain"]
        assert record["region"] == "us-phoenix-1"  # from the configuration, as OCI wants
        assert record["metadata"] == summary["freeformTags"]
        assert record["public_ips"] == [] and record["private_ips"] == []
        assert datetime.fromisoformat(record["created"]).astimezone(timezone.utc) \
            .isoformat() == utc(summary["timeCreated"])
        assert record["created"].endswith(("+00:00", "Z"))


def test_vm_info_by_exact_recorded_name_and_by_id(replayed: Replay) -> None:
    running = [s for s in SUMMARIES if s["lifecycleState"] == "RUNNING"]
    provider = Provider("oci")
    for summary in running:
        by_name = provider.info(summary["displayName"])
        assert by_name["id"] == summary["identifier"]
        assert provider.info(summary["identifier"])["name"] == summary["displayName"]


def test_recorded_availability_domains_decide_the_default_zone(replayed: Replay) -> None:
    provider = Provider("oci").provider
    assert provider._availability_domain() == sorted(d["name"] for d in DOMAINS)[0]

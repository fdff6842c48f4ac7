"""Recorded ARM answers (tests/samples/azure, origins in SOURCES) served through the real
azure-mgmt-* SDKs to the azure provider; each field of the records is compared with the
sample's own values. Every request cms sends must also pass the API description check
of tests/fakes/azure/spec.py."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from cloudmesh.compute import Provider
from conftest import write_config
from fakes.azure import spec

SAMPLES = Path(__file__).parent / "samples" / "azure" / "libcloud"
SUB = "99999999-9999-9999-9999-999999999999"
RG = "000000"


def sample(name: str) -> Any:
    return json.loads((SAMPLES / f"_subscriptions_99999999_{name}.json").read_text())


class Replay:
    """A server on 127.0.0.1 answering the provider's requests with the samples."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.violations: list[str] = []
        replay = self

        class Handler(BaseHTTPRequestHandler):
            # headers and body are two writes: without this the body waits for the client's
            # delayed ACK (40 ms an answer)
            disable_nagle_algorithm = True
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                status, body = replay.answer(self.path)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def answer(self, raw: str) -> tuple[int, Any]:
        self.requests.append(raw)
        split = urlsplit(raw)
        path = split.path
        query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        refusal = spec.check("GET", path, {**query, "api-version": spec.COMPUTE
                                           if "Microsoft.Compute" in path else spec.NETWORK}
                             if "$skiptoken" in query else query, None)
        if refusal:
            self.violations.append(f"{raw}: {refusal.message}")
            return 400, {"error": {"code": refusal.code, "message": refusal.message}}
        vms = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Compute/virtualMachines"
        if "$skiptoken" in query and path.endswith("/virtualMachines"):
            # the recorded nextLink (its path and api-version as ARM wrote them)
            return 200, sample("providers_Microsoft_Compute_virtualMachines_1")
        if path == vms:
            page = sample("providers_Microsoft_Compute_virtualMachines")
            page["nextLink"] = page["nextLink"].replace("https://management.azure.com:443",
                                                        self.url)
            return 200, page
        if path == f"/subscriptions/{SUB}/providers/Microsoft.Compute/virtualMachines":
            assert query.get("statusOnly") == "true"
            return 200, {"value": [
                {"id": f"{vms}/test-node-{n}", "name": f"test-node-{n}", "properties": {
                    "instanceView": sample(f"resourceGroups_000000_providers_Microsoft_Compute_"
                                           f"virtualMachines_test_node_{n}_InstanceView")}}
                for n in (1, 2)]}
        nics = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Network/networkInterfaces"
        if path == nics:
            return 200, {"value": [sample("resourceGroups_000000_providers_Microsoft_Network_"
                                          f"networkInterfaces_test_node_{n}_nic") for n in (1, 2)]}
        if path.endswith("/publicIPAddresses"):
            return 200, {"value": []}
        if path == f"{vms}/test_vm":
            return 200, sample("resourceGroups_000000_providers_Microsoft_Compute_"
                               "virtualMachines_test_node_1")
        if path.endswith("/vmSizes"):
            return 200, sample("providers_Microsoft_Compute_locations_eastus_vmSizes")
        return 404, {"error": {"code": "ResourceNotFound", "message": f"{path} not found"}}


@pytest.fixture
def replay(cms_home: Path):
    server = Replay()
    write_config(cms_home, {"az": {"cm": {"kind": "azure"}, "credentials": {
        "subscription_id": SUB, "resource_group": RG, "location": "eastus",
        "access_token": "replay-token", "base_url": server.url}}}, default="az")
    yield server
    server.server.shutdown()
    server.server.server_close()
    assert not server.violations, server.violations


def test_vm_list_fields_match_the_recorded_answers(replay: Replay) -> None:
    records = {r["name"]: r for r in Provider("az").list()}
    assert sorted(records) == ["test-node-1", "test-node-2"]  # page 2 came via nextLink
    for n in (1, 2):
        record = records[f"test-node-{n}"]
        nic = sample(f"resourceGroups_000000_providers_Microsoft_Network_networkInterfaces_"
                     f"test_node_{n}_nic")
        assert record["id"] == (f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/"
                                f"Microsoft.Compute/virtualMachines/test-node-{n}")
        # instance view: ProvisioningState/updating, PowerState/running
        assert (record["status"], record["state"]) == ("running", "running")
        assert record["flavor"] == "Standard_A1"
        assert record["image"] == "OpenLogic:CentOS:7.3:latest"
        assert record["private_ips"] == [nic["properties"]["ipConfigurations"][0]["properties"]
                                         ["privateIPAddress"]] == [f"10.0.0.{n}"]
        assert record["public_ips"] == []
        assert (record["region"], record["zone"]) == ("eastus", None)
        assert record["username"] == "user"
        assert record["created"] is None  # the recording has no timeCreated
        assert record["kind"] == "azure" and record["cloud"] == "az"
    # models, statuses (one request), NICs, public IPs: no request per VM
    assert len(replay.requests) == 5, replay.requests


def test_vm_info_finds_a_name_cms_would_not_create(replay: Replay) -> None:
    record = Provider("az").info("test_vm")
    assert record["name"] == "test_vm"
    assert record["id"].endswith("/resourceGroups/0000/providers/Microsoft.Compute/"
                                 "virtualMachines/test_vm")
    assert record["flavor"] == "Standard_A1"
    assert record["metadata"]["tag_key1"] == "tag_val1"
    assert record["private_ips"] == []  # its NIC is not among the samples (404)


def test_flavor_list_matches_the_recorded_sizes(replay: Replay) -> None:
    flavors = {f["name"]: f for f in Provider("az").flavors()}
    expected = sample("providers_Microsoft_Compute_locations_eastus_vmSizes")["value"]
    assert sorted(flavors) == sorted(s["name"] for s in expected)
    for size in expected:
        record = flavors[size["name"]]
        assert (record["vcpus"], record["ram_mb"], record["disk_gb"]) == (
            size["numberOfCores"], size["memoryInMB"], size["resourceDiskSizeInMB"] // 1024)

"""Hostile Compute Engine endpoints (issue 21): servers on 127.0.0.1 that answer as GCE
does, but hostile; 127.0.0.2 stands for a host nobody configured. Each test asserts the
harm did not happen: no credential reached 127.0.0.2, the command ended within its
deadline with exit code 1 and a one-line reason, only the validated key reached ssh-keys."""

from __future__ import annotations

import itertools
import json
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from cloudmesh.compute import Provider
from cloudmesh.compute.errors import CloudError, UsageError
from cloudmesh.compute.testing.fixtures import write_config
from conftest import cms_here, run_cms
from hostile import HostileServer as Hostile
from hostile import drip, send_json, unconfigured_host

pytest.importorskip("google.cloud.compute_v1")
TOKEN = "ya29.hostile-test-token-0123456789"


@pytest.fixture
def elsewhere():
    """A server on 127.0.0.2 that nobody configured: it must receive nothing."""
    with unconfigured_host(lambda h: send_json(h, {})) as server:
        yield server
    assert server.seen == [], f"a request reached the unconfigured host: {server.seen}"


def configure(cms_home: Path, url: str, timeout: float = 3, retries: int = 0,
              token: str = TOKEN, default: dict | None = None) -> str:
    write_config(cms_home, {"gce": {
        "cm": {"kind": "google", "label": "hostile", "timeout": timeout, "retries": retries},
        "credentials": {"project": "cms-test", "zone": "us-central1-a",
                        "access_token": token, "api_endpoint": url},
        "default": default or {}}}, default="gce")
    return "gce"


def one_line_error(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines and "Traceback" not in stderr, stderr
    assert TOKEN not in stderr
    return lines[0]


def test_endless_new_page_tokens_end_the_list(cms_home: Path, elsewhere: Hostile) -> None:
    """(a) every aggregated page is empty and names a new next page (some of them URLs of
    the unconfigured host): the list stops after the kit's run of empty pages with exit
    code 1, in seconds (a nextPageToken is a token for GCE, never a URL to fetch)."""
    counter = itertools.count()

    def page(handler: BaseHTTPRequestHandler) -> None:
        n = next(counter)
        token = f"{elsewhere.url}/compute/v1/page{n}" if n % 2 else f"token-{n}"
        send_json(handler, {"kind": "compute#instanceAggregatedList", "items": {},
                            "nextPageToken": token})
    server = Hostile(page)
    try:
        configure(cms_home, server.url)
        started = time.monotonic()
        result = cms_here("vm", "list", "--output=json")
        took = time.monotonic() - started
    finally:
        server.stop()
    assert result.code == 1, result
    assert "100 empty pages in a row" in one_line_error(result.err)
    assert len(server.seen) == 100 and took < 60


def test_repeated_page_token_ends_the_list(cms_home: Path, elsewhere: Hostile) -> None:
    """(a) the same nextPageToken again: stopped at the repeat, a few requests in all."""
    server = Hostile(lambda h: send_json(h, {"kind": "compute#instanceAggregatedList",
                                             "items": {}, "nextPageToken": "again"}))
    try:
        configure(cms_home, server.url)
        result = cms_here("vm", "list")
    finally:
        server.stop()
    assert result.code == 1, result
    assert "repeated page token 'again'" in one_line_error(result.err)
    assert len(server.seen) == 2
    assert all(seen.authorization == f"Bearer {TOKEN}" for seen in server.seen)


INSTANCE = {"kind": "compute#instance", "id": "1234567890123", "name": "vm1",
            "status": "RUNNING", "zone": "https://www.googleapis.com/compute/v1/projects/"
            "cms-test/zones/us-central1-a", "machineType": "zones/us-central1-a/"
            "machineTypes/e2-micro", "creationTimestamp": "2025-01-02T03:04:05.000-08:00"}
RUNNING = {"kind": "compute#operation", "id": "77", "name": "operation-forever",
           "operationType": "stop", "status": "RUNNING", "zone": INSTANCE["zone"],
           "targetLink": "projects/cms-test/zones/us-central1-a/instances/vm1"}


def test_operation_running_forever_is_bounded(cms_home: Path, elsewhere: Hostile) -> None:
    """(b) a zone operation that stays RUNNING: stop ends at the operation timeout with a
    CloudError naming it, polled with backoff (not hundreds of requests)."""
    def answer(handler: BaseHTTPRequestHandler) -> None:
        if handler.path.split("?")[0].endswith("/instances/vm1"):
            send_json(handler, INSTANCE)
        else:  # the stop call and every poll of its operation
            send_json(handler, RUNNING)
    server = Hostile(answer)
    try:
        # the verb's bound (default.operation_timeout), shortened for the test
        provider = Provider(configure(cms_home, server.url, timeout=5,
                                      default={"operation_timeout": 1.5})).provider
        started = time.monotonic()
        with pytest.raises(CloudError) as caught:
            provider.stop("vm1")
        took = time.monotonic() - started
    finally:
        server.stop()
    assert 1.5 <= took < 6.5
    assert "did not finish within 1.5 s" in caught.value.message
    assert "\n" not in caught.value.message
    polls = [s.path for s in server.seen if "/operations/operation-forever" in s.path]
    assert 2 <= len(polls) <= 12


def test_one_byte_a_second_ends_at_cm_timeout(cms_home: Path, elsewhere: Hostile) -> None:
    """(c) an endpoint that sends one byte a second: cms vm list with cm.timeout 1 and
    retries 0 ends at its deadline (not before, and not after the whole body), exit
    code 1, one line saying so. A process: it must exit while its request is still stuck
    on the dripping answer."""
    body = json.dumps({"kind": "compute#instanceAggregatedList", "items": {}}).encode()
    with Hostile(lambda handler: drip(handler, body, 1.0)) as server:
        configure(cms_home, server.url, timeout=1, retries=0)
        started = time.monotonic()
        result = run_cms("vm", "list", timeout=60)
        took = time.monotonic() - started
    assert result.code == 1, result
    assert "within 1 s" in one_line_error(result.err)
    assert 1 <= took < 10, f"took {took:.1f} s"


def test_a_second_key_line_never_reaches_ssh_keys(cms_home: Path) -> None:
    """Issue 21 attack 5 on the injection side: a stored key text with mallory's key on a
    second line is refused before any request; nothing reaches the VM's ssh-keys."""
    from cloudmesh.compute.bootspec import BootSpec
    from cloudmesh.compute.keys import generate_ed25519

    from fakes.google import GoogleFake

    fake = GoogleFake(delay=0.05)
    fake.start()
    try:
        provider = Provider(configure(cms_home, fake.url, timeout=10,
                                      token=fake.token)).provider
        alice = generate_ed25519(cms_home / "alice", "alice")["public_key"]
        mallory = generate_ed25519(cms_home / "mallory", "mallory")["public_key"]
        spec = BootSpec(name="vm1", image="family/debian-12", flavor="e2-micro",
                        key={"name": "team", "public_key": f"{alice}\nroot:{mallory}",
                             "fingerprint": None}, username="alice")
        with pytest.raises(UsageError):
            provider.create(spec)
        assert fake.instance("vm1") is None
        provider.create(BootSpec(name="vm2", image="family/debian-12", flavor="e2-micro",
                                 key={"name": "team", "public_key": f"{alice}  \n",
                                      "fingerprint": None}, username="alice"))
        assert fake.ssh_keys("vm2") == [alice]
    finally:
        fake.stop()
    assert not fake.violations, fake.violations

"""Hostile OCI endpoints (issue 21): servers on 127.0.0.1 that answer as OCI does, but
hostile; 127.0.0.2 stands for a host nobody configured. Each test asserts the harm did
not happen: no signed request reached 127.0.0.2, and the command ended within its
deadline with exit code 1 and a one-line reason."""

from __future__ import annotations

import itertools
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

pytest.importorskip("oci")

from cloudmesh.compute.testing.fixtures import write_config  # noqa: E402
from conftest import cms_here, run_cms  # noqa: E402
from fakes.oracle.harness import cloud_spec, make_api_key  # noqa: E402
from hostile import HostileServer as Hostile  # noqa: E402
from hostile import drip, send, send_json, unconfigured_host  # noqa: E402


def send_oci(handler: BaseHTTPRequestHandler, payload, headers: dict | None = None) -> None:
    """``payload`` as OCI answers it: JSON with an opc-request-id."""
    send_json(handler, payload, headers={"opc-request-id": "HOSTILE", **(headers or {})})


@pytest.fixture(scope="module")
def api_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One throwaway RSA API key for the module (generating one is the slow part)."""
    return make_api_key(tmp_path_factory.mktemp("oci"))

@pytest.fixture
def configure(cms_home: Path, api_key: tuple[Path, str]):
    key_file, fingerprint = api_key

    def write(endpoint: str, default: dict | None = None, **cm) -> None:
        spec = cloud_spec(endpoint, key_file, fingerprint, **(default or {}))
        spec["cm"].update(cm)
        write_config(cms_home, {"oci": spec}, default="oci")

    return write


def one_line_failure(result, seconds: float, limit: float) -> None:
    assert result.code == 1, result
    assert seconds < limit, f"took {seconds:.1f} s"
    reason = [line for line in result.err.splitlines() if line.strip()]
    assert len(reason) <= 2 and "Traceback" not in result.err, result.err


def test_endless_new_pages_stop_at_the_page_limit(configure, monkeypatch) -> None:
    """(a) every page empty and naming a new opc-next-page: the list stops at the kit's
    page limit (lowered here from 10,000 to keep the test short) with a CloudError."""
    from cloudmesh.compute.errors import CloudError
    from cloudmesh.compute.provider import Provider

    monkeypatch.setattr("cloudmesh.oracle.compute.MAX_PAGES", 50)
    counter = itertools.count()
    server = Hostile(lambda h: send_oci(h, [], {"opc-next-page": f"p{next(counter)}"}))
    try:
        configure(server.url, timeout=3, retries=0)
        started = time.monotonic()
        with pytest.raises(CloudError) as raised:
            Provider("oci").list()
        assert time.monotonic() - started < 30
        assert "\n" not in str(raised.value) and "page" in str(raised.value).lower()
        assert 50 <= len(server.seen) <= 52
    finally:
        server.stop()


def test_a_repeated_page_token_stops_the_list(configure) -> None:
    server = Hostile(lambda h: send_oci(h, [], {"opc-next-page": "same"}))
    try:
        configure(server.url, timeout=3, retries=0)
        started = time.monotonic()
        result = cms_here("vm", "list", "--cloud=oci")
        one_line_failure(result, time.monotonic() - started, 15)
        assert "repeated" in result.err, result.err
        assert len(server.seen) == 2  # the first page and the repeat, no more
    finally:
        server.stop()


def test_work_request_in_progress_forever_is_bounded(configure) -> None:
    """(b) a terminate whose work request says IN_PROGRESS forever ends with exit 1 at
    default.work_timeout (1.5 s), not before."""
    instance = {"id": "ocid1.instance.oc1.phx.hostile", "displayName": "stuck",
                "lifecycleState": "RUNNING", "compartmentId": "ocid1.tenancy.oc1..x",
                "availabilityDomain": "Uocm:PHX-AD-1", "shape": "VM.Standard2.1",
                "region": "phx", "timeCreated": "2016-08-25T21:10:29.600Z"}

    def answer(handler: BaseHTTPRequestHandler) -> None:
        if handler.command == "DELETE":
            handler.send_response(204)
            handler.send_header("opc-work-request-id", "ocid1.workrequest.stuck")
            handler.send_header("Content-Length", "0")
            handler.end_headers()
        elif "/workRequests/" in handler.path:
            send_oci(handler, {"id": "ocid1.workrequest.stuck", "status": "IN_PROGRESS",
                                "operationType": "TerminateInstance",
                                "compartmentId": instance["compartmentId"],
                                "percentComplete": 10.0,
                                "timeAccepted": instance["timeCreated"]})
        elif "/instances" in handler.path:
            send_oci(handler, [instance] if "/instances?" in handler.path else instance)
        else:
            send_oci(handler, [])

    server = Hostile(answer)
    try:
        configure(server.url, default={"work_timeout": 1.5}, timeout=3, retries=0)
        started = time.monotonic()
        result = cms_here("vm", "delete", "stuck", "--cloud=oci", "--yes")
        took = time.monotonic() - started
        one_line_failure(result, took, 30)
        assert took >= 1.5, f"ended before the work request's deadline ({took:.1f} s)"
        assert "work request" in result.err, result.err
    finally:
        server.stop()


def test_one_byte_a_second_ends_at_cm_timeout(configure) -> None:
    """(c) an endpoint that trickles its answer one byte a second: cm.timeout 1 and
    retries 0 end the command at about 1 s (not before), not after the whole body. A
    process: it must exit while its request is still stuck on the dripping answer."""
    with Hostile(lambda handler: drip(handler, b"[" + b" " * 60 + b"]", 1.0)) as server:
        configure(server.url, timeout=1, retries=0)
        started = time.monotonic()
        result = run_cms("vm", "list", "--cloud=oci", timeout=60)
        took = time.monotonic() - started
        one_line_failure(result, took, 15)
        assert took >= 1, f"ended before cm.timeout ({took:.1f} s)"
        assert "within 1 s" in result.err, result.err


def test_a_page_on_another_host_never_gets_the_signature(configure) -> None:
    """A redirect to 127.0.0.2 (a host nobody configured): the guarded session refuses
    before a byte is sent there; the signed request never arrives."""
    other = unconfigured_host(lambda h: send_oci(h, []))

    def answer(handler: BaseHTTPRequestHandler) -> None:
        send(handler, status=307, headers={"Location": f"{other.url}{handler.path}"})

    server = Hostile(answer)
    try:
        configure(server.url, timeout=3, retries=0)
        result = cms_here("vm", "list", "--cloud=oci")
        assert result.code == 1, result
        assert "refused to send credentials" in result.err, result.err
        assert other.seen == []
    finally:
        server.stop()
        other.stop()

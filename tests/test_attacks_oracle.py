"""Hostile OCI endpoints (issue 21): servers on 127.0.0.1 that answer as OCI does, but
hostile; 127.0.0.2 stands for a host nobody configured. Each test asserts the harm did
not happen: no signed request reached 127.0.0.2, and the command ended within its
deadline with exit code 1 and a one-line reason."""

from __future__ import annotations

import itertools
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable

import pytest

pytest.importorskip("oci")

from cloudmesh.compute.testing.fixtures import write_config  # noqa: E402
from conftest import run_cms  # noqa: E402
from fakes.oracle.harness import cloud_spec, make_api_key  # noqa: E402

Answer = Callable[[BaseHTTPRequestHandler], None]


class Hostile:
    """An HTTP server on ``host`` whose every request is answered by ``answer``; it keeps
    the Authorization header of each request it saw."""

    def __init__(self, answer: Answer, host: str = "127.0.0.1") -> None:
        self.seen: list[tuple[str, str | None]] = []
        hostile = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                hostile.seen.append((self.path, self.headers.get("Authorization")))
                answer(self)

            do_POST = do_PUT = do_DELETE = do_GET

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://{host}:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def send_json(handler: BaseHTTPRequestHandler, payload, headers: dict | None = None) -> None:
    data = json.dumps(payload).encode()
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("opc-request-id", "HOSTILE")
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


@pytest.fixture
def configure(cms_home: Path, tmp_path: Path):
    key_file, fingerprint = make_api_key(tmp_path / "oci")

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
    server = Hostile(lambda h: send_json(h, [], {"opc-next-page": f"p{next(counter)}"}))
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
    server = Hostile(lambda h: send_json(h, [], {"opc-next-page": "same"}))
    try:
        configure(server.url, timeout=3, retries=0)
        started = time.monotonic()
        result = run_cms("vm", "list", "--cloud=oci")
        one_line_failure(result, time.monotonic() - started, 15)
        assert "repeated" in result.err, result.err
        assert len(server.seen) == 2  # the first page and the repeat, no more
    finally:
        server.stop()


def test_work_request_in_progress_forever_is_bounded(configure) -> None:
    """(b) a terminate whose work request says IN_PROGRESS forever ends with exit 1 within
    default.work_timeout."""
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
            send_json(handler, {"id": "ocid1.workrequest.stuck", "status": "IN_PROGRESS",
                                "operationType": "TerminateInstance",
                                "compartmentId": instance["compartmentId"],
                                "percentComplete": 10.0,
                                "timeAccepted": instance["timeCreated"]})
        elif "/instances" in handler.path:
            send_json(handler, [instance] if "/instances?" in handler.path else instance)
        else:
            send_json(handler, [])

    server = Hostile(answer)
    try:
        configure(server.url, default={"work_timeout": 3}, timeout=3, retries=0)
        started = time.monotonic()
        result = run_cms("vm", "delete", "stuck", "--cloud=oci", "--yes")
        one_line_failure(result, time.monotonic() - started, 30)
        assert "work request" in result.err, result.err
    finally:
        server.stop()


def test_one_byte_a_second_ends_at_cm_timeout(configure) -> None:
    """(c) an endpoint that trickles its answer one byte a second: cm.timeout 3 and
    retries 0 end the command in about 3 s, not after the whole body."""
    def answer(handler: BaseHTTPRequestHandler) -> None:
        body = b"[" + b" " * 60 + b"]"
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        try:
            for byte in body:
                handler.wfile.write(bytes([byte]))
                handler.wfile.flush()
                time.sleep(1)
        except OSError:
            pass

    server = Hostile(answer)
    try:
        configure(server.url, timeout=3, retries=0)
        started = time.monotonic()
        result = run_cms("vm", "list", "--cloud=oci")
        one_line_failure(result, time.monotonic() - started, 15)
        assert "within 3 s" in result.err, result.err
    finally:
        server.stop()


def test_a_page_on_another_host_never_gets_the_signature(configure) -> None:
    """A redirect to 127.0.0.2 (a host nobody configured): the guarded session refuses
    before a byte is sent there; the signed request never arrives."""
    try:
        other = Hostile(lambda h: send_json(h, []), host="127.0.0.2")
    except OSError:
        pytest.skip("127.0.0.2 is not bindable here")

    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(307)
        handler.send_header("Location", f"{other.url}{handler.path}")
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    server = Hostile(answer)
    try:
        configure(server.url, timeout=3, retries=0)
        result = run_cms("vm", "list", "--cloud=oci")
        assert result.code == 1, result
        assert "refused to send credentials" in result.err, result.err
        assert other.seen == []
    finally:
        server.stop()
        other.stop()

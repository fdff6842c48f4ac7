"""Hostile ARM endpoints (issue 21): servers on 127.0.0.1 that answer as Azure does but
send the client elsewhere or keep it waiting; 127.0.0.2 stands for a host nobody
configured. Each test asserts the harm did not happen: no request (so no bearer token)
reached 127.0.0.2, and the command ended in time with a one-line CloudError (exit 1)."""

from __future__ import annotations

import itertools
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable

import pytest

from cloudmesh.compute import Provider
from cloudmesh.compute.errors import CloudError
from conftest import write_config

SUB = "00000000-0000-0000-0000-0000000000aa"
RG = "rg-hostile"
NSG = (f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Network/"
       "networkSecurityGroups/sg1")

Answer = Callable[[str, str], "tuple[int, dict[str, str], Any]"]


class Server:
    """An HTTP server on ``host`` that records each request and answers with ``answer``."""

    def __init__(self, host: str, answer: Answer) -> None:
        self.seen: list[tuple[str, str, str | None]] = []  # method, path, Authorization
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _any(self) -> None:
                server.seen.append((self.command, self.path, self.headers.get("Authorization")))
                status, headers, body = answer(self.command, self.path)
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_DELETE = do_PUT = do_POST = _any

        self.httpd = ThreadingHTTPServer((host, 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        self.url = f"http://{host}:{self.httpd.server_address[1]}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def elsewhere():
    """The host nobody configured: it answers, and records what reached it."""
    server = Server("127.0.0.2", lambda method, path: (200, {}, {"value": []}))
    yield server
    server.stop()


def hostile(cms_home: Path, answer: Answer, **default: Any) -> Server:
    server = Server("127.0.0.1", answer)
    write_config(cms_home, {"az": {"cm": {"kind": "azure", "timeout": 3, "retries": 0},
                                   "credentials": {
        "subscription_id": SUB, "resource_group": RG, "location": "eastus",
        "access_token": "secret-bearer-token", "base_url": server.url},
        "default": default}}, default="az")
    return server


def assert_refused(error: CloudError, origin: str) -> None:
    assert error.exit_code == 1
    assert "\n" not in str(error)
    assert f"refused to send credentials to {origin}" in str(error)


def test_a_next_link_to_another_host_gets_no_token(cms_home: Path, elsewhere: Server) -> None:
    def answer(method: str, path: str):
        return 200, {}, {"value": [], "nextLink": f"{elsewhere.url}/subscriptions/{SUB}/"
                         "providers/Microsoft.Compute/virtualMachines?page=2"}
    server = hostile(cms_home, answer)
    try:
        with pytest.raises(CloudError) as refused:
            _azure("az").list()
    finally:
        server.stop()
    assert_refused(refused.value, elsewhere.url)
    assert elsewhere.seen == []


def test_an_operation_url_on_another_host_is_not_polled(cms_home: Path,
                                                        elsewhere: Server) -> None:
    def answer(method: str, path: str):
        if method == "DELETE":
            operation = f"{elsewhere.url}/subscriptions/{SUB}/providers/Microsoft.Network/locations/eastus/operations/x?api-version=2026-03-01"
            return 202, {"Azure-AsyncOperation": operation, "Location": operation,
                         "Retry-After": "0"}, None
        return 200, {}, {"id": NSG, "name": "sg1", "location": "eastus",
                         "properties": {"securityRules": []}}
    server = hostile(cms_home, answer)
    try:
        azure = _azure("az")
        with pytest.raises(CloudError) as refused:
            azure.secgroup_delete("sg1")
    finally:
        server.stop()
    assert_refused(refused.value, elsewhere.url)
    assert elsewhere.seen == []
    assert [m for m, _, _ in server.seen].count("DELETE") == 1


def _azure(cloud: str):
    """The azure provider of a configured cloud, as the facade makes it."""
    return Provider(cloud).provider


def test_endless_new_pages_stop_at_the_page_limit(cms_home: Path, monkeypatch) -> None:
    from cloudmesh.azure.compute import Provider as Azure

    counter = itertools.count()
    holder: dict[str, str] = {}

    def answer(method: str, path: str):
        return 200, {}, {"value": [], "nextLink": f"{holder['url']}/subscriptions/{SUB}/"
                         f"resourceGroups/{RG}/providers/Microsoft.Compute/virtualMachines"
                         f"?api-version=2026-04-01&$skiptoken={next(counter)}"}
    server = hostile(cms_home, answer)
    holder["url"] = server.url
    monkeypatch.setattr(Azure, "max_pages", 40)
    started = time.monotonic()
    try:
        with pytest.raises(CloudError) as stopped:
            _azure("az").list()
    finally:
        server.stop()
    assert "more than 40 pages" in str(stopped.value) and "\n" not in str(stopped.value)
    assert len(server.seen) == 40 and time.monotonic() - started < 20  # no 41st request


def test_a_repeated_next_link_stops_the_list(cms_home: Path) -> None:
    holder: dict[str, str] = {}

    def answer(method: str, path: str):
        return 200, {}, {"value": [], "nextLink": f"{holder['url']}/subscriptions/{SUB}/"
                         f"resourceGroups/{RG}/providers/Microsoft.Compute/virtualMachines"
                         "?api-version=2026-04-01&$skiptoken=same"}
    server = hostile(cms_home, answer)
    holder["url"] = server.url
    try:
        with pytest.raises(CloudError) as stopped:
            _azure("az").list()
    finally:
        server.stop()
    assert "repeated page token" in str(stopped.value)
    assert len(server.seen) == 2


def test_an_operation_in_progress_forever_with_retry_after_a_day_ends(cms_home: Path) -> None:
    holder: dict[str, str] = {}

    def answer(method: str, path: str):
        operation = (f"{holder['url']}/subscriptions/{SUB}/providers/Microsoft.Network/"
                     "locations/eastus/operations/x?api-version=2026-03-01")
        if method == "DELETE":
            return 202, {"Azure-AsyncOperation": operation, "Retry-After": "86400"}, None
        if "/operations/" in path:
            return 200, {"Retry-After": "86400"}, {"status": "InProgress"}
        return 200, {}, {"id": NSG, "name": "sg1", "location": "eastus",
                         "properties": {"securityRules": []}}
    server = hostile(cms_home, answer, operation_timeout=2)
    holder["url"] = server.url
    started = time.monotonic()
    try:
        with pytest.raises(CloudError) as late:
            _azure("az").secgroup_delete("sg1")
    finally:
        server.stop()
    took = time.monotonic() - started
    assert "did not finish within 2 s" in str(late.value) and late.value.exit_code == 1
    assert took < 10, took

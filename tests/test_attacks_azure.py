"""Hostile ARM endpoints (issue 21): servers on 127.0.0.1 that answer as Azure does but
send the client elsewhere or keep it waiting; 127.0.0.2 stands for a host nobody
configured. Each test asserts the harm did not happen: no request (so no bearer token)
reached 127.0.0.2, and the command ended in time with a one-line CloudError (exit 1)."""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from cloudmesh.compute import Provider
from cloudmesh.compute.errors import CloudError
from conftest import write_config
from hostile import Handler, HostileServer, send_json, unconfigured_host

SUB = "00000000-0000-0000-0000-0000000000aa"
RG = "rg-hostile"
NSG = (f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Network/"
       "networkSecurityGroups/sg1")

Answer = Callable[[str, str], "tuple[int, dict[str, str], Any]"]


def arm(answer: Answer) -> Callable[[Handler], None]:
    """A hostile server's script from ``answer(method, path)``: status, headers, JSON."""
    def respond(handler: Handler) -> None:
        status, headers, body = answer(handler.command, handler.path)
        send_json(handler, body, status, headers)
    return respond


@pytest.fixture
def elsewhere():
    """The host nobody configured: it answers, and records what reached it."""
    with unconfigured_host(arm(lambda method, path: (200, {}, {"value": []}))) as server:
        yield server


def hostile(cms_home: Path, answer: Answer, **default: Any) -> HostileServer:
    server = HostileServer(arm(answer))
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


def test_a_next_link_to_another_host_gets_no_token(cms_home: Path,
                                                   elsewhere: HostileServer) -> None:
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
                                                        elsewhere: HostileServer) -> None:
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
    assert [seen.method for seen in server.seen].count("DELETE") == 1


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
    server = hostile(cms_home, answer, operation_timeout=1)
    holder["url"] = server.url
    started = time.monotonic()
    try:
        with pytest.raises(CloudError) as late:
            _azure("az").secgroup_delete("sg1")
    finally:
        server.stop()
    took = time.monotonic() - started
    assert "did not finish within 1 s" in str(late.value) and late.value.exit_code == 1
    assert 1 <= took < 10, took

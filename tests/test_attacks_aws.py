"""Hostile EC2-compatible endpoints (issue 21, attacks 7 and 8 on kind aws): every
``cms vm list`` ends, with exit 1 and a line saying why, however the server answers.

Each server here is a tiny http.server on 127.0.0.1 that answers the EC2 Query API's
DescribeInstances as EC2 does, but hostile: a new NextToken on every page, a token that
comes back, or an answer dripped one byte a second. cms runs in this process, but as a
process where the test is about the process ending (with a request still stuck in it).
cm.timeout bounds each request, never a whole list: a slow account with many pages lists.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

import hostile
from conftest import TEST_KEY_ID, TEST_SECRET, cms_here, run_cms, write_config
from hostile import HostileServer

#: a command (boto3's first import included) must end well within this
LIMIT = 15


def page(token: str | None, instance: str | None = None) -> bytes:
    """A DescribeInstances page that names ``token`` as the next one, holding one running
    instance of id ``instance`` (or none)."""
    following = f"<nextToken>{token}</nextToken>" if token else ""
    reservations = "<reservationSet/>" if not instance else (
        f"<reservationSet><item><reservationId>r-{instance[2:]}</reservationId>"
        f"<ownerId>123456789012</ownerId><instancesSet><item><instanceId>{instance}"
        "</instanceId><imageId>ami-1e749f67</imageId><instanceState><code>16</code>"
        "<name>running</name></instanceState><instanceType>t3.micro</instanceType>"
        "<launchTime>2024-01-02T03:04:05.000Z</launchTime></item></instancesSet>"
        "</item></reservationSet>")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">'
            f"<requestId>6f2c1d5e-hostile</requestId>{reservations}"
            f"{following}</DescribeInstancesResponse>").encode()


class Hostile(HostileServer):
    """An EC2 endpoint whose answer to request number n names ``answer(n)`` as the next
    page (or none); with ``drip``, the first page comes one byte a second; with
    ``delay``, each page comes that many seconds late and holds one instance."""

    def __init__(self, answer: Callable[[int], str | None], drip: bool = False,
                 delay: float = 0) -> None:
        def respond(handler: BaseHTTPRequestHandler) -> None:
            number = self.requests
            if delay and self.wait(delay):
                return
            body = page(answer(number), f"i-{number:017x}" if delay else None)
            if drip:  # one byte a second: each read is on time, the whole never
                hostile.drip(handler, body, 1.0, content_type="text/xml;charset=UTF-8")
            else:
                hostile.send(handler, body, content_type="text/xml;charset=UTF-8")

        super().__init__(respond)


@pytest.fixture
def hostile_cloud(cms_home: Path) -> Iterator[Callable[..., str]]:
    def configure(server: Hostile, timeout: float = 3) -> str:
        write_config(cms_home, {"evil": {
            "cm": {"kind": "aws", "timeout": timeout, "retries": 0},
            "credentials": {"region": "us-east-1", "endpoint_url": server.url,
                            "access_key_id": TEST_KEY_ID, "secret_access_key": TEST_SECRET}}},
            default="evil")
        return "evil"
    yield configure


def list_vms(cloud: str, process: bool = False) -> tuple[object, float]:
    started = time.monotonic()
    result = (run_cms("vm", "list", f"--cloud={cloud}", timeout=60) if process
              else cms_here("vm", "list", f"--cloud={cloud}"))
    return result, time.monotonic() - started


def test_a_new_next_token_on_every_page_stops_at_the_page_limit(hostile_cloud, monkeypatch):
    from cloudmesh.compute.kit import paging

    monkeypatch.setattr(paging, "MAX_PAGES", 25)  # 10,000 in use: too many for a test
    with Hostile(lambda n: f"page-{n}") as server:
        result = cms_here("vm", "list", f"--cloud={hostile_cloud(server)}")
    assert result.code == 1, result
    assert "named more than 25 pages; stopped" in result.err, result.err
    assert "Traceback" not in result.err
    assert server.requests == 25  # it followed every page up to the limit, and no more


def test_cm_timeout_bounds_each_page_not_the_whole_list(hostile_cloud):
    """Four pages of 0.6 s each take 2.4 s in all, more than cm.timeout (2 s): a large
    account lists, since each request is on time (1.4 s to spare on a busy machine)."""
    with Hostile(lambda n: f"page-{n}" if n < 4 else None, delay=0.6) as server:
        started = time.monotonic()
        result = cms_here("vm", "list", f"--cloud={hostile_cloud(server, timeout=2)}",
                          "--output=json")
        seconds = time.monotonic() - started
    assert result.code == 0, result
    assert seconds > 2, f"the pages came faster than the test meant ({seconds:.1f} s)"
    assert sorted(vm["id"] for vm in result.json()) == [f"i-{n:017x}" for n in range(1, 5)]
    assert server.requests == 4


@pytest.mark.parametrize("tokens", [("same",), ("a", "b")], ids=["same-token", "a-b-a"])
def test_a_repeated_next_token_ends_the_list(hostile_cloud, tokens):
    with Hostile(lambda n: tokens[(n - 1) % len(tokens)]) as server:
        result, seconds = list_vms(hostile_cloud(server))
    assert result.code == 1, result
    assert seconds < LIMIT
    assert "token" in result.err.lower() and "Traceback" not in result.err, result.err
    assert server.requests <= len(tokens) + 1


def test_an_endpoint_dripping_a_byte_a_second_ends_at_cm_timeout(hostile_cloud):
    """A page of some 600 bytes at one a second: cm.timeout (1 s) ends the command, not
    the whole answer (and not before the deadline). A process: it must exit while its
    request is still stuck on the dripping answer."""
    with Hostile(lambda n: None, drip=True) as server:
        result, seconds = list_vms(hostile_cloud(server, timeout=1), process=True)
    assert result.code == 1, result
    assert 1 <= seconds < LIMIT, f"cms vm list took {seconds:.1f} s against a dripping endpoint"
    assert "EC2 did not answer within 1s" in result.err, result.err
    assert server.requests == 1  # retries: 0 means one request


@pytest.fixture
def elsewhere() -> Iterator[HostileServer]:
    """A server on 127.0.0.2 (a host nobody configured) that answers an empty
    DescribeInstances page; ``seen`` holds each request's Authorization header."""
    with hostile.unconfigured_host(lambda h: hostile.send(h, page(None))) as server:
        yield server


def authorizations(server: HostileServer) -> list[str | None]:
    return [request.authorization for request in server.seen]


@pytest.mark.parametrize("status", [301, 307])
def test_a_redirect_elsewhere_gets_no_signed_request(hostile_cloud, elsewhere, status):
    """The endpoint answers every request with a redirect to 127.0.0.2: the command ends
    with one line and exit 1, and nothing signed reaches the other host."""
    redirect = {"Location": elsewhere.url + "/"}
    with HostileServer(lambda h: hostile.send(h, status=status, headers=redirect)) as server:
        result = cms_here("vm", "list", f"--cloud={hostile_cloud(server)}")
    assert result.code == 1, result
    assert len(result.err.strip().splitlines()) == 1 and "Traceback" not in result.err
    assert server.requests >= 1
    assert [a for a in authorizations(elsewhere) if a] == []


def test_the_origin_guard_refuses_a_request_sent_elsewhere(hostile_cloud, elsewhere):
    """botocore's own hooks may rewrite where a request goes (as its S3 redirector does):
    a request whose URL left the configured endpoint is refused before a byte is sent."""
    from cloudmesh.compute import Provider
    from cloudmesh.compute.errors import CloudError

    with Hostile(lambda n: None) as server:
        facade = Provider(hostile_cloud(server))
        client = facade.provider.client

        def send_elsewhere(request, **_: object) -> None:
            request.url = elsewhere.url + "/"

        client.meta.events.register_first("before-send.ec2", send_elsewhere)
        with pytest.raises(CloudError, match=r"refused to send credentials to "
                                             r"http://127\.0\.0\.2:\d+"):
            facade.list()
    assert authorizations(elsewhere) == []
    assert server.requests == 0

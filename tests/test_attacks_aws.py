"""Hostile EC2-compatible endpoints (issue 21, attacks 7 and 8 on kind aws): every
``cms vm list`` ends, with exit 1 and a line saying why, however the server answers.

Each server here is a tiny http.server on 127.0.0.1 that answers the EC2 Query API's
DescribeInstances as EC2 does, but hostile: a new NextToken on every page, a token that
comes back, or an answer dripped one byte a second. cms runs as a subprocess where the
test is about the process ending; in this process where the test lowers the page limit.
cm.timeout bounds each request, never a whole list: a slow account with many pages lists.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import TEST_KEY_ID, TEST_SECRET, cms_here, run_cms, write_config

#: a whole process, boto3's import included, must end well within this
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


class Hostile:
    """A server whose answer to request number n is ``answer(n)`` (token or None), or,
    with ``drip``, the first page sent one byte a second; with ``delay``, each page comes
    that many seconds late and holds one instance."""

    def __init__(self, answer: Callable[[int], str | None], drip: bool = False,
                 delay: float = 0) -> None:
        self.answer, self.drip, self.delay = answer, drip, delay
        self.requests = 0
        self.stop = threading.Event()
        hostile = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                hostile.requests += 1
                number = hostile.requests
                if hostile.delay and hostile.stop.wait(hostile.delay):
                    return
                body = page(hostile.answer(number),
                            f"i-{number:017x}" if hostile.delay else None)
                self.send_response(200)
                self.send_header("Content-Type", "text/xml;charset=UTF-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if not hostile.drip:
                    self.wfile.write(body)
                    return
                for byte in body:  # one byte a second: each read is on time, the whole never
                    if hostile.stop.wait(1):
                        return
                    try:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                    except OSError:
                        return

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def __enter__(self) -> Hostile:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hostile_cloud(cms_home: Path) -> Iterator[Callable[[Hostile], str]]:
    def configure(server: Hostile) -> str:
        write_config(cms_home, {"evil": {
            "cm": {"kind": "aws", "timeout": 3, "retries": 0},
            "credentials": {"region": "us-east-1", "endpoint_url": server.url,
                            "access_key_id": TEST_KEY_ID, "secret_access_key": TEST_SECRET}}},
            default="evil")
        return "evil"
    yield configure


def list_vms(cloud: str) -> tuple[object, float]:
    started = time.monotonic()
    result = run_cms("vm", "list", f"--cloud={cloud}", timeout=60)
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
    """Eight pages of 0.8 s each take 6.4 s in all, twice cm.timeout (3 s): a large
    account lists, since each request is on time."""
    with Hostile(lambda n: f"page-{n}" if n < 8 else None, delay=0.8) as server:
        started = time.monotonic()
        result = cms_here("vm", "list", f"--cloud={hostile_cloud(server)}", "--output=json")
        seconds = time.monotonic() - started
    assert result.code == 0, result
    assert seconds > 3, f"the pages came faster than the test meant ({seconds:.1f} s)"
    assert sorted(vm["id"] for vm in result.json()) == [f"i-{n:017x}" for n in range(1, 9)]
    assert server.requests == 8


@pytest.mark.parametrize("tokens", [("same",), ("a", "b")], ids=["same-token", "a-b-a"])
def test_a_repeated_next_token_ends_the_list(hostile_cloud, tokens):
    with Hostile(lambda n: tokens[(n - 1) % len(tokens)]) as server:
        result, seconds = list_vms(hostile_cloud(server))
    assert result.code == 1, result
    assert seconds < LIMIT
    assert "token" in result.err.lower() and "Traceback" not in result.err, result.err
    assert server.requests <= len(tokens) + 1


def test_an_endpoint_dripping_a_byte_a_second_ends_at_cm_timeout(hostile_cloud):
    with Hostile(lambda n: None, drip=True) as server:
        result, seconds = list_vms(hostile_cloud(server))
    assert result.code == 1, result
    assert seconds < LIMIT, f"cms vm list took {seconds:.1f} s against a dripping endpoint"
    assert "EC2 did not answer within 3s" in result.err, result.err
    assert server.requests == 1  # retries: 0 means one request


class Recorder:
    """A server on 127.0.0.2 (a host nobody configured) that notes each request's
    Authorization header and answers an empty DescribeInstances page."""

    def __init__(self) -> None:
        self.authorizations: list[str | None] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                recorder.authorizations.append(self.headers.get("Authorization"))
                body = page(None)
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST  # noqa: N815 - a redirected request may come as GET

            def log_message(self, *args: object) -> None:
                pass

        try:
            self.server = ThreadingHTTPServer(("127.0.0.2", 0), Handler)
        except OSError:
            pytest.skip("127.0.0.2 is not bindable here")
        self.url = f"http://127.0.0.2:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def elsewhere() -> Iterator[Recorder]:
    recorder = Recorder()
    yield recorder
    recorder.close()


@pytest.mark.parametrize("status", [301, 307])
def test_a_redirect_elsewhere_gets_no_signed_request(hostile_cloud, elsewhere, status):
    """The endpoint answers every request with a redirect to 127.0.0.2: the command ends
    with one line and exit 1, and nothing signed reaches the other host."""

    class Redirecting(Hostile):
        def __init__(self) -> None:
            super().__init__(lambda n: None)
            handler = self.server.RequestHandlerClass

            def redirect(request: BaseHTTPRequestHandler) -> None:
                request.rfile.read(int(request.headers.get("Content-Length") or 0))
                self.requests += 1
                request.send_response(status)
                request.send_header("Location", elsewhere.url + "/")
                request.send_header("Content-Length", "0")
                request.end_headers()

            handler.do_POST = redirect

    with Redirecting() as server:
        result = cms_here("vm", "list", f"--cloud={hostile_cloud(server)}")
    assert result.code == 1, result
    assert len(result.err.strip().splitlines()) == 1 and "Traceback" not in result.err
    assert server.requests >= 1
    assert [a for a in elsewhere.authorizations if a] == []


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
    assert elsewhere.authorizations == []
    assert server.requests == 0

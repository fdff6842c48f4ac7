"""Hostile EC2-compatible endpoints (issue 21, attacks 7 and 8 on kind aws): every
``cms vm list`` ends, with exit 1 and a line saying why, however the server answers.

Each server here is a tiny http.server on 127.0.0.1 that answers the EC2 Query API's
DescribeInstances as EC2 does, but hostile: a new NextToken on every page, a token that
comes back, or an answer dripped one byte a second. cms runs as a subprocess: these are
about the process ending.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import TEST_KEY_ID, TEST_SECRET, run_cms, write_config

#: a whole process, boto3's import included, must end well within this
LIMIT = 15


def page(token: str | None) -> bytes:
    """An empty DescribeInstances page that names ``token`` as the next one."""
    following = f"<nextToken>{token}</nextToken>" if token else ""
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">'
            "<requestId>6f2c1d5e-hostile</requestId><reservationSet/>"
            f"{following}</DescribeInstancesResponse>").encode()


class Hostile:
    """A server whose answer to request number n is ``answer(n)`` (token or None), or,
    with ``drip``, the first page sent one byte a second."""

    def __init__(self, answer: Callable[[int], str | None], drip: bool = False) -> None:
        self.answer, self.drip = answer, drip
        self.requests = 0
        self.stop = threading.Event()
        hostile = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                hostile.requests += 1
                body = page(hostile.answer(hostile.requests))
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


def test_a_new_next_token_on_every_page_ends_within_the_deadline(hostile_cloud):
    with Hostile(lambda n: f"page-{n}") as server:
        result, seconds = list_vms(hostile_cloud(server))
    assert result.code == 1, result
    assert seconds < LIMIT, f"cms vm list took {seconds:.1f} s"
    assert "still naming a next page" in result.err and "cm.timeout" in result.err, result.err
    assert "Traceback" not in result.err
    assert server.requests > 1  # it did follow pages, and then stopped


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
    assert "no answer from" in result.err and "within 3 s (cm.timeout)" in result.err, \
        result.err
    assert server.requests == 1  # retries: 0 means one request

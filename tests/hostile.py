"""Hostile endpoints for the attack tests (issue 21): a threaded HTTP server on 127.0.0.1
that answers every request as a script says (late, dripped, redirected, paged forever),
and the same server on 127.0.0.2, a host nobody configured, that must receive nothing.

Ports are the OS's choice (safe under xdist workers). ``stop()`` ends at once: the
serving loop polls every 0.05 s, handler threads are daemons, and a handler that drips
or waits does so on ``server.wait(seconds)``, which returns True as soon as the server
stops.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple

import pytest

#: the host of a server nobody configured: a request there is a credential sent astray
UNCONFIGURED_HOST = "127.0.0.2"


class Seen(NamedTuple):
    """One request a hostile server received."""

    method: str
    path: str
    authorization: str | None
    headers: dict[str, str]
    body: bytes


class Handler(BaseHTTPRequestHandler):
    """Reads the request's body, records it on the server, and lets its answer reply."""
    # headers and body are two writes: without this the body waits for the client's
    # delayed ACK (40 ms an answer)
    disable_nagle_algorithm = True

    protocol_version = "HTTP/1.1"
    server: _Threaded
    body: bytes = b""

    def log_message(self, *args: Any) -> None:
        pass

    def _any(self) -> None:
        self.body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        hostile = self.server.hostile
        with hostile.lock:
            hostile.seen.append(Seen(self.command, self.path,
                                     self.headers.get("Authorization"),
                                     dict(self.headers), self.body))
        try:
            hostile.answer(self)
        except OSError:  # the client gave up (a deadline passed): nothing to answer
            self.close_connection = True
        if hostile.stopping.is_set():
            # an answer cut short: close, or a client still reading it waits forever
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _any  # noqa: N815


class _Threaded(ThreadingHTTPServer):
    daemon_threads = True
    hostile: HostileServer


class HostileServer:
    """An HTTP/1.1 server on ``host`` (a port the OS picks) whose every request is
    answered by ``answer(handler)``; ``seen`` lists the requests in order. Use it as a
    context manager, or call ``stop()``."""

    def __init__(self, answer: Callable[[Handler], None], host: str = "127.0.0.1") -> None:
        self.answer = answer
        self.seen: list[Seen] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.httpd = _Threaded((host, 0), Handler)
        self.httpd.hostile = self
        self.url = f"http://{host}:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    @property
    def requests(self) -> int:
        """How many requests arrived."""
        return len(self.seen)

    def wait(self, seconds: float) -> bool:
        """Sleep ``seconds`` in a handler; True (stop answering) once the server stops."""
        return self.stopping.wait(seconds)

    def stop(self) -> None:
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> HostileServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def unconfigured_host(answer: Callable[[Handler], None]) -> HostileServer:
    """A hostile server on 127.0.0.2; the test is skipped where that is not bindable."""
    try:
        return HostileServer(answer, host=UNCONFIGURED_HOST)
    except OSError:
        pytest.skip(f"{UNCONFIGURED_HOST} is not bindable here")


def send(handler: BaseHTTPRequestHandler, body: bytes = b"", status: int = 200,
         headers: dict[str, str] | None = None, content_type: str | None = None) -> None:
    """One whole answer: status, headers, Content-Length and body."""
    handler.send_response(status)
    if content_type:
        handler.send_header("Content-Type", content_type)
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def send_json(handler: BaseHTTPRequestHandler, payload: Any, status: int = 200,
              headers: dict[str, str] | None = None) -> None:
    """``payload`` as JSON (None: an empty body)."""
    body = b"" if payload is None else json.dumps(payload).encode()
    send(handler, body, status, headers, content_type="application/json")


def drip(handler: Handler, body: bytes, seconds_per_byte: float,
         content_type: str = "application/json") -> None:
    """Headers at once, then ``body`` a byte at a time, each ``seconds_per_byte`` after
    the last: every read is on time, the whole answer never is. It ends when the client
    goes away or the server stops."""
    handler.send_response(200)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    for byte in body:
        if handler.server.hostile.wait(seconds_per_byte):
            return
        try:
            handler.wfile.write(bytes([byte]))
            handler.wfile.flush()
        except OSError:
            return

"""A fault-injecting HTTP proxy on 127.0.0.1 for any cloud's fake (or moto), used by
``FaultSuite`` and by the project's own fault tests.

It forwards every request to the target and records it; faults scheduled with ``add``
replace the answer for the next N matching requests:

- ``status``: answer with an HTTP status and body (a 500, a 503, a throttling error);
- ``hang``: hold the connection for some seconds, then close it without an answer;
- ``drop``: close the connection at once without an answer;
- ``lose_answer``: forward the request (so the cloud acts on it), then drop the answer,
  as when a network fails after the server did the work.

A ``match`` picks requests in one of two ways:

- ``"METHOD /path"`` (a REST call): the method and the path must be equal, not merely
  contained: ``"POST /v1/instances"`` matches ``POST /v1/instances?x=1`` and never
  ``POST /v1/instances/ID/start``. A ``*`` stands for one path segment
  (``"POST /v1/instances/*/start"``); the query string is ignored, unless the pattern has
  a ``?``, after which the request's query must start with what follows it.
- anything else: a substring of ``"METHOD PATH BODY"``, for APIs that name the operation
  in the body (EC2's ``Action=RunInstances``) or a body field (``"client_token"``).

The proxy keeps the target's path: in front of ``http://127.0.0.1:P/v1`` its own URL is
``http://127.0.0.1:Q/v1``, so a client configured with it asks for the same paths.
"""

from __future__ import annotations

import http.client
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

EC2_ERROR = ('<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>{code}'
             '</Code><Message>{message}</Message></Error></Errors>'
             '<RequestID>fault-proxy</RequestID></Response>')


def ec2_error(code: str, message: str) -> bytes:
    return EC2_ERROR.format(code=code, message=message).encode()


METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def matches(match: str, method: str, path: str, body: bytes = b"") -> bool:
    """Whether a request is picked by ``match`` (the two forms of the module's doc)."""
    verb, _, pattern = match.strip().partition(" ")
    if verb in METHODS and pattern.startswith("/"):
        wanted_path, question, wanted_query = pattern.partition("?")
        request_path, _, query = path.partition("?")
        segments = (re.escape(part) for part in wanted_path.split("*"))
        if method != verb or not re.fullmatch("[^/]*".join(segments), request_path):
            return False
        return not question or query.startswith(wanted_query)
    return match in f"{method} {path} " + body.decode("utf-8", "replace")


@dataclass
class Fault:
    kind: str
    match: str = ""
    times: int = 1
    status: int = 500
    body: bytes = b""
    seconds: float = 0.0


@dataclass
class Seen:
    method: str
    path: str
    body: bytes
    answered: str  # "forwarded", or the fault's kind


@dataclass
class FaultProxy:
    target: str
    faults: list[Fault] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, match: str = "", times: int = 1, **options) -> None:
        with self.lock:
            self.faults.append(Fault(kind, match, times, **options))

    def clear(self) -> None:
        with self.lock:
            self.faults.clear()
            self.seen.clear()

    def requests(self, match: str = "") -> list[Seen]:
        with self.lock:
            return [s for s in self.seen if matches(match, s.method, s.path, s.body)]

    def _take(self, method: str, path: str, body: bytes) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.times > 0 and matches(fault.match, method, path, body):
                    fault.times -= 1
                    return fault
        return None

    def start(self) -> str:
        proxy = self
        target = urlsplit(self.target)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # headers and body are two writes: with Nagle's algorithm the body waits for
            # the client's delayed ACK of the headers (up to 40 ms a request)
            disable_nagle_algorithm = True

            def log_message(self, *args) -> None:  # quiet
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                fault = proxy._take(self.command, self.path, body)
                with proxy.lock:
                    proxy.seen.append(Seen(self.command, self.path, body,
                                           fault.kind if fault else "forwarded"))
                if fault and fault.kind == "status":
                    self.send_response(fault.status)
                    self.send_header("Content-Type", "text/xml")
                    self.send_header("Content-Length", str(len(fault.body)))
                    self.end_headers()
                    self.wfile.write(fault.body)
                    return
                if fault and fault.kind in ("hang", "drop"):
                    if fault.kind == "hang":
                        time.sleep(fault.seconds)
                    self._close()
                    return
                status, headers, payload = self._forward(body)
                if fault and fault.kind == "lose_answer":
                    self._close()
                    return
                self.send_response(status)
                for name, value in headers:
                    if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _forward(self, body: bytes):
                connection = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                headers["Host"] = target.netloc
                # as a reverse proxy says it: a fake that writes absolute links (ARM's
                # nextLink, Azure-AsyncOperation) points them at the proxy, not past it
                headers["X-Forwarded-Host"] = self.headers.get("Host") or ""
                connection.request(self.command, self.path, body=body, headers=headers)
                response = connection.getresponse()
                payload = response.read()
                connection.close()
                return response.status, response.getheaders(), payload

            def _close(self) -> None:
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        # poll_interval: stop() returns within 0.05 s instead of the default 0.5
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        # the target's path is kept: a REST API at http://127.0.0.1:P/v1 stays at /v1
        return f"http://127.0.0.1:{self.server.server_address[1]}{target.path}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

"""A fault-injecting HTTP proxy on 127.0.0.1 for any cloud's fake (or moto), used by
``FaultSuite`` and by the project's own fault tests.

It forwards every request to the target and records it; faults scheduled with ``add``
replace the answer for the next N matching requests:

- ``status``: answer with an HTTP status and body (a 500, a 503, a throttling error);
- ``hang``: hold the connection for some seconds, then close it without an answer;
- ``drop``: close the connection at once without an answer;
- ``lose_answer``: forward the request (so the cloud acts on it), then drop the answer,
  as when a network fails after the server did the work.

A request matches when ``match`` occurs in its method, path or body (EC2's
``Action=RunInstances``, a REST path, ...).
"""

from __future__ import annotations

import http.client
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
            return [s for s in self.seen if match in f"{s.method} {s.path} "
                    + s.body.decode("utf-8", "replace")]

    def _take(self, text: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.times > 0 and fault.match in text:
                    fault.times -= 1
                    return fault
        return None

    def start(self) -> str:
        proxy = self
        target = urlsplit(self.target)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                text = f"{self.command} {self.path} " + body.decode("utf-8", "replace")
                fault = proxy._take(text)
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
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

"""A small fault-injecting HTTP proxy in front of an S3-compatible server (moto), on 127.0.0.1.

Every request is handled according to the current `mode`:
- `pass`: forwarded to the upstream as is, the answer relayed;
- `error_500` / `error_503`: answered with an S3 XML error, nothing forwarded (nothing written);
- `reset`: the connection is reset (RST) before anything is forwarded;
- `slow`: forwarded, and the answer relayed after `delay_s`;
- `blackhole`: forwarded (the write happens upstream) but the answer is held for `delay_s` and then
  the connection reset: the client cannot know whether its write landed.
"""

from __future__ import annotations

import http.client
import socket
import struct
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Optional
from urllib.parse import urlsplit

_ERROR_BODY = (
    '<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
    "<Message>injected by the reliability proxy</Message><RequestId>proxy</RequestId></Error>"
)
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "expect", "proxy-connection", "upgrade"}


class FaultProxy:
    """Start with `start()`, switch faults with `mode = …`, stop with `stop()`."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream_host = parts.hostname or "127.0.0.1"
        self.upstream_port = parts.port or 80
        self.mode = "pass"
        self.delay_s = 0.0
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._server: Optional[ThreadingHTTPServer] = None
        self._thread: Optional[threading.Thread] = None
        self._stopping = threading.Event()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FaultProxy:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                return

            def _any(self) -> None:
                proxy._handle(self)

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _any

        self._server = _QuietServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _count(self, what: str) -> None:
        with self._lock:
            self.counts[what] += 1

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        mode, delay = self.mode, self.delay_s
        length = int(handler.headers.get("content-length") or 0)
        body = handler.rfile.read(length) if length else b""
        self._count(f"{mode}:{handler.command}")
        if mode in ("error_500", "error_503"):
            status = int(mode[-3:])
            code = "InternalError" if status == 500 else "SlowDown"
            self._reply(handler, status, _ERROR_BODY.format(code=code).encode(), {"Content-Type": "application/xml"})
            return
        if mode == "reset":
            _reset(handler)
            return
        upstream = http.client.HTTPConnection(self.upstream_host, self.upstream_port, timeout=30)
        try:
            headers = {k: v for k, v in handler.headers.items() if k.lower() not in _HOP_BY_HOP}
            upstream.request(handler.command, handler.path, body=body, headers=headers)
            answer = upstream.getresponse()
            payload = answer.read()
            status = answer.status
            answer_headers = {k: v for k, v in answer.getheaders() if k.lower() not in _HOP_BY_HOP | {"content-length"}}
        finally:
            upstream.close()
        if mode in ("slow", "blackhole") and delay:
            self._stopping.wait(delay)
        if mode == "blackhole":
            _reset(handler)
            return
        self._reply(handler, status, payload, answer_headers, head=handler.command == "HEAD")

    @staticmethod
    def _reply(
        handler: BaseHTTPRequestHandler, status: int, payload: bytes, headers: dict[str, str], head: bool = False
    ) -> None:
        try:
            handler.send_response(status)
            for name, value in headers.items():
                handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            if not head:
                handler.wfile.write(payload)
        except OSError:
            handler.close_connection = True


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        return  # connections this proxy resets on purpose end in errors; they are not news


def _reset(handler: BaseHTTPRequestHandler) -> None:
    """Close with RST (SO_LINGER 0): the client sees 'connection reset by peer'."""
    connection: socket.socket = handler.connection
    try:
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        connection.close()
    except OSError:
        pass
    handler.close_connection = True

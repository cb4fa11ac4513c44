"""HTTP plumbing of the Graph stand-in: the request handler class, body parsing, the reply type."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl

__all__ = ["Reply", "handler_class", "parse_body"]


@dataclass(frozen=True)
class Reply:
    """What the stand-in answers: status, body, content type and extra headers."""

    status: int
    body: bytes
    content_type: str
    headers: dict[str, str]


def parse_body(content_type: str, raw: bytes) -> Any:
    """A JSON or form body as Python values (form bodies become a flat dict), else text."""
    if not raw:
        return None
    if "json" in content_type:
        try:
            return json.loads(raw)
        except ValueError:
            return raw.decode("utf-8", "replace")
    if "x-www-form-urlencoded" in content_type:
        return dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
    return raw.decode("utf-8", "replace")


def handler_class(handle: Callable[[str, str, Mapping[str, str], bytes], Reply]) -> type[BaseHTTPRequestHandler]:
    """A handler class that answers every request with ``handle(method, path, headers, body)``."""

    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def do_DELETE(self) -> None:
            self._serve("DELETE")

        def _serve(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            headers = {key.lower(): value for key, value in self.headers.items()}
            reply = handle(method, self.path, headers, raw)
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(reply.body)))
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(reply.body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test); nothing to answer

        def log_message(self, format: str, *args: Any) -> None:
            pass  # tests stay quiet; requests are recorded on the stand-in instead

    return _Handler

"""Calling the receiver's ASGI app in-process, with raw control over path, headers and body
(no HTTP client in between to normalise hostile input away)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


async def call(
    app: Starlette,
    method: str,
    raw_path: bytes,
    headers: Sequence[tuple[bytes, bytes]],
    body: bytes,
    chunk_size: int = 65536,
) -> RawResponse:
    """One HTTP request through the ASGI interface; the body arrives in chunks."""
    path_text = raw_path.split(b"?", 1)[0].decode("latin-1")
    from urllib.parse import unquote

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": unquote(path_text, errors="surrogateescape"),
        "raw_path": raw_path.split(b"?", 1)[0],
        "query_string": raw_path.split(b"?", 1)[1] if b"?" in raw_path else b"",
        "root_path": "",
        "headers": [(k.lower(), v) for k, v in headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8080),
    }
    chunks = [body[i : i + chunk_size] for i in range(0, len(body), chunk_size)] or [b""]
    messages = [
        {"type": "http.request", "body": chunk, "more_body": index < len(chunks) - 1}
        for index, chunk in enumerate(chunks)
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop(0)
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    payload = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return RawResponse(
        start["status"], {k.decode("latin-1"): v.decode("latin-1") for k, v in start.get("headers", [])}, payload
    )

"""The servers of the receiver benchmarks, one per process (so each can be pinned with taskset).

    python -m benchmarks.receiver_servers KIND --port P

KIND:
- `receiver`: the real thing, exactly `meta-capi-receiver serve` (settings from META_CAPI_*).
- `bare`: a Starlette endpoint on the same route that reads the body and answers a small JSON,
  under the same uvicorn settings as `serve` (uvloop + httptools, no access log, same backlog).
- `naive`: the same endpoint plus one put_object per request (no validation, no idempotency,
  no group commit) to the S3 endpoint in NAIVE_S3_ENDPOINT / bucket NAIVE_S3_BUCKET (keys under
  NAIVE_S3_PREFIX, default `naive`), answered
  after the put returns. The blocking boto3 call runs in Starlette's thread pool (40 threads),
  so concurrent requests have concurrent puts in flight: the strongest version of the baseline.
- `moto`: moto's S3 server (ThreadedMotoServer) on 127.0.0.1 (`--s3-server moto`; SeaweedFS,
  the default S3 server, is a binary: benchmarks/s3_server.py starts it).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
import uuid
from typing import Any

BARE_ANSWER = b'{"status":"ok"}'


def _uvicorn_settings(port: int) -> dict[str, Any]:
    """The settings `meta-capi-receiver serve` passes to uvicorn (source_meta_capi/receiver/cli.py)."""
    return {
        "host": "127.0.0.1",
        "port": port,
        "log_config": None,
        "access_log": False,
        "timeout_graceful_shutdown": 15,
        "backlog": 2048,
        "server_header": False,
    }


def _bare_app() -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def events(request: Request) -> Response:
        await request.body()
        return Response(BARE_ANSWER, media_type="application/json")

    return Starlette(routes=[Route("/v1/pixels/{pixel_id}/events", events, methods=["POST"])])


def _naive_app() -> Any:
    import boto3
    from botocore.config import Config
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    bucket = os.environ["NAIVE_S3_BUCKET"]
    prefix = os.environ.get("NAIVE_S3_PREFIX", "naive")
    client = boto3.client(
        "s3",
        endpoint_url=os.environ["NAIVE_S3_ENDPOINT"],
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(max_pool_connections=64),
    )

    async def events(request: Request) -> Response:
        body = await request.body()
        pixel = request.path_params["pixel_id"]
        key = f"{prefix}/pixel_id={pixel}/{uuid.uuid4().hex}.json"
        await run_in_threadpool(client.put_object, Bucket=bucket, Key=key, Body=body)
        return Response(BARE_ANSWER, media_type="application/json")

    return Starlette(routes=[Route("/v1/pixels/{pixel_id}/events", events, methods=["POST"])])


def _moto(port: int) -> None:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    stop = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stop.set())
    stop.wait()
    server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=("receiver", "bare", "naive", "moto"))
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    if args.kind == "moto":
        _moto(args.port)
        return
    if args.kind == "receiver":
        from source_meta_capi.receiver import cli

        raise SystemExit(cli.main(["serve", "--port", str(args.port)]))
    import uvicorn

    uvicorn.run(_bare_app() if args.kind == "bare" else _naive_app(), **_uvicorn_settings(args.port))


if __name__ == "__main__":
    main()

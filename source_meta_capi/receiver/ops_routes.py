"""The operations routes: `/healthz` (the process answers), `/readyz` (the store takes writes) and
`/metrics` (Prometheus text exposition of this runtime's registry)."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from source_meta_capi.receiver.metrics import CONTENT_TYPE
from source_meta_capi.receiver.runtime import ReceiverRuntime
from source_meta_capi.staging.store import StoreError

# What /readyz asks a load balancer to wait before probing an unready store again.
STORE_RETRY_AFTER_S = 5


def ops_routes(runtime: ReceiverRuntime) -> list[Route]:
    """The three GET routes, bound to one runtime."""
    rt = runtime

    async def healthz(request: Request) -> Response:
        rt.metrics.child(rt.metrics.requests, "healthz", "200").inc()
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        try:
            # Ready means able to stage: a read-only store must not answer ready.
            probe = getattr(rt.store, "check_writable", rt.store.check)
            await asyncio.get_running_loop().run_in_executor(rt.executor, probe)
        except StoreError as error:
            rt.metrics.child(rt.metrics.requests, "readyz", "503").inc()
            return JSONResponse(
                {"status": "unavailable", "store": rt.store.url, "reason": type(error).__name__},
                status_code=503,
                headers={"Retry-After": str(STORE_RETRY_AFTER_S)},
            )
        rt.metrics.child(rt.metrics.requests, "readyz", "200").inc()
        return JSONResponse({"status": "ready", "store": rt.store.url, "forward_mode": rt.settings.forward_mode})

    async def metrics(request: Request) -> Response:
        return Response(rt.metrics.render(), media_type=CONTENT_TYPE)

    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]

"""The receiver's HTTP API (Starlette): the same app under uvicorn and under Lambda (Mangum).

`POST /v1/pixels/{pixel_id}/events` answers 2xx only after the batch is durably staged. The
endpoint is a straight path of steps: pixel id (400) → Content-Encoding (415) → body size (413
before reading it all) → signature over the raw bytes (401) → pixel allowlist (404, after
authentication so pixels cannot be probed) → parse (400/415) → validate + normalize, refusing
every event of a test_event_code request for a pixel META_CAPI_TEST_EVENT_PIXELS does not list
(422 when nothing is usable) → stage in the pixel's group commit (503 + Retry-After on store
failure; a retry is processed and staged again, harmlessly: staging-format.md, "Retries are
safe") → forward (per META_CAPI_FORWARD_MODE) → answer. A step that refuses raises `ApiError`;
`_Endpoint.handle` renders it as `{"error": {code, message, pixel_id, event_ids, field,
request_id, …}}` and counts the answer. The operations routes live in ops_routes.py; Meta's own
`POST /{api_version}/{pixel_id}/events` (the Graph-compatible intake, authenticated by access
token, answered in Meta's shapes) lives in graph_intake.py and shares the steps that are the same
(`read_body`, `process`, `stage`, `record_staged`, `forward`).

Logs: one "batch staged" line per group commit (group_commit.py), and one line per request that
is refused, has rejected events or fails.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, Optional

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from source_meta_capi.capi.graph_api import PIXEL_ID_RULE
from source_meta_capi.receiver.forwarding import ForwardBatch, resend_safe
from source_meta_capi.receiver.graph_intake import graph_routes
from source_meta_capi.receiver.group_commit import GroupAbandonedError
from source_meta_capi.receiver.http_messages import (
    ApiError,
    BodyTimeoutError,
    PayloadTooLargeError,
    RequestHeaders,
    answer_for,
    check_content_encoding,
    headers_too_large,
    read_limited,
    request_id_of,
    signature_headers,
)
from source_meta_capi.receiver.intake_report import report_staged
from source_meta_capi.receiver.json_logging import log
from source_meta_capi.receiver.ops_routes import ops_routes
from source_meta_capi.receiver.pipeline import (
    BodyError,
    Intake,
    RequestContext,
    body_digest,
    new_batch_id,
    parse_body,
    process,
)
from source_meta_capi.receiver.queue_intake import QueueUnavailableError, encode_message
from source_meta_capi.receiver.runtime import ReceiverRuntime, build_runtime
from source_meta_capi.receiver.settings import ReceiverSettings, load_settings
from source_meta_capi.receiver.signatures import SignatureError, SignaturePolicy, VerifiedSignature
from source_meta_capi.staging.keys import InvalidKeySegmentError, validate_pixel_id
from source_meta_capi.staging.store import StoreError

EVENTS_ROUTE = "/v1/pixels/{pixel_id}/events"
# Bodies above this are validated on a worker thread so the event loop keeps serving others.
_INLINE_PROCESSING_BYTES = 64 * 1024


class _OrjsonResponse(JSONResponse):
    """The same JSON as Starlette's JSONResponse (compact, UTF-8), serialized by orjson: the
    stdlib encoder is a visible share of the per-request CPU."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


class _Endpoint:
    """The events endpoint, bound to one runtime: a straight path of steps, each of which either
    returns what the next needs or raises ApiError; `handle` renders that error."""

    def __init__(self, runtime: ReceiverRuntime) -> None:
        self.rt = runtime
        settings = runtime.settings
        self.policy = SignaturePolicy(
            settings.webhook_keys,
            settings.hub_secrets,
            settings.signature_tolerance_s,
            settings.allow_unsigned,
            settings.webhook_keys_by_pixel,
            settings.hub_secrets_by_pixel,
            settings.signature_pixel_binding,
        )

    async def handle(self, request: Request) -> Response:
        """Answer one POST (a bound method, so Starlette treats it as a request handler)."""
        started = time.monotonic()
        headers = RequestHeaders.of(request)
        request_id = request_id_of(headers)
        try:
            response = await self._answer(request, headers, request_id)
        except ApiError as error:
            response = error.response(request_id)
        # Appended raw: no answer sets it before, and MutableHeaders rescans every header.
        response.raw_headers.append((b"x-request-id", request_id.encode("latin-1")))
        metrics = self.rt.metrics
        metrics.child(metrics.requests, "events", str(response.status_code)).inc()
        metrics.child(metrics.request_seconds, "events").observe(time.monotonic() - started)
        return response

    async def _answer(self, request: Request, headers: RequestHeaders, request_id: str) -> Response:
        pixel_id = _pixel_id_of(request)
        check_content_encoding(headers, pixel_id)
        raw = await self.read_body(request, headers, pixel_id)
        signature = self._verify(raw, headers, request_id, pixel_id)
        self._check_pixel_allowed(pixel_id)
        context = RequestContext(
            pixel_id, request_id, new_batch_id(), signature.status, signature.webhook_id, body_digest(raw)
        )
        intake = await self._intake(raw, headers, context)
        return await self._stage_and_answer(intake)

    async def read_body(self, request: Request, headers: RequestHeaders, pixel_id: str) -> bytes:
        """The body, refused (ApiError 413/400) past META_CAPI_MAX_BODY_BYTES (shared step)."""
        limit = self.rt.settings.max_body_bytes
        if headers_too_large(request):
            raise ApiError(431, "headers_too_large", "the request headers exceed 16 KiB", pixel_id=pixel_id)
        try:
            return await read_limited(request, limit, headers.get("content-length"), self.rt.settings.body_timeout_s)
        except BodyTimeoutError:
            raise ApiError(
                408,
                "body_timeout",
                f"the body did not arrive within {self.rt.settings.body_timeout_s:g} s",
                pixel_id=pixel_id,
                field="body",
            ) from None
        except PayloadTooLargeError:
            raise ApiError(
                413,
                "payload_too_large",
                f"the body exceeds {limit} bytes; split the batch",
                pixel_id=pixel_id,
                field="body",
            ) from None
        except ValueError as error:
            raise ApiError(
                400, "invalid_content_length", str(error), pixel_id=pixel_id, field="content-length"
            ) from None

    def _verify(self, raw: bytes, headers: RequestHeaders, request_id: str, pixel_id: str) -> VerifiedSignature:
        rt = self.rt
        try:
            return self.policy.verify(raw, signature_headers(headers), rt.wall_clock(), pixel_id)
        except SignatureError as error:
            rt.metrics.child(rt.metrics.signature_failures, error.reason).inc()
            log(
                logging.WARNING,
                "signature refused",
                request_id=request_id,
                pixel_id=pixel_id,
                signature_status="failed",
                signature_reason=error.reason,
            )
            raise ApiError(
                401,
                "invalid_signature",
                error.message,
                pixel_id=pixel_id,
                field=error.header,
                extra={"reason": error.reason},
            ) from None

    def _check_pixel_allowed(self, pixel_id: str) -> None:
        # After authentication, so that pixels cannot be probed.
        if not self.rt.settings.allows_pixel(pixel_id):
            raise ApiError(
                404,
                "unknown_pixel",
                f"pixel {pixel_id} is not configured on this receiver",
                pixel_id=pixel_id,
                field="pixel_id",
            )

    async def _intake(self, raw: bytes, headers: RequestHeaders, context: RequestContext) -> Intake:
        try:
            return await self.process(parse_body(raw, headers.get("content-type")), context, len(raw))
        except BodyError as error:
            log(
                logging.WARNING,
                "body refused",
                request_id=context.request_id,
                pixel_id=context.pixel_id,
                signature_status=context.signature_status,
                reason=error.code,
                field=error.field,
            )
            raise ApiError(
                error.status,
                error.code,
                error.message,
                pixel_id=context.pixel_id,
                field=error.field,
                extra={"batch_id": context.batch_id},
            ) from None

    async def process(self, body: Any, context: RequestContext, size: int) -> Intake:
        """Validate, normalize and hash a parsed body of `size` bytes (shared step; BodyError)."""
        if size > _INLINE_PROCESSING_BYTES:
            intake: Intake = await self._io(self._process, body, context)
            return intake
        return self._process(body, context)

    def _process(self, body: Any, context: RequestContext) -> Intake:
        settings = self.rt.settings
        return process(
            body,
            context,
            self.rt.wall_clock(),
            default_country=settings.default_country,
            salt=settings.pseudonymize_salt,
            test_events_allowed=settings.allows_test_events(context.pixel_id),
        )

    async def _stage_and_answer(self, intake: Intake) -> Response:
        status, body = answer_for(intake)
        queued = await self.stage(intake)
        self.record_staged(intake)
        forwarding = await self.forward(intake, queued)
        if forwarding is not None:
            body = {**body, "forwarding": forwarding}
        return _OrjsonResponse(body, status_code=status)

    async def stage(self, intake: Intake) -> bool:
        """Stage the intake durably (shared step); raises ApiError 503 when the store failed.
        True when it went to the queue (META_CAPI_INTAKE_MODE=queue) rather than the store.

        A retried request is processed and staged again: its events keep their identities, so
        the copy is harmless (staging-format.md, "Retries are safe").
        """
        rt, context = self.rt, intake.context
        if rt.queue is not None and (intake.accepted or intake.dead_letters):
            # One durable write per request: the SendMessage. A request too large for a message
            # (SQS takes 256 KiB; a body may be 4 MiB) is staged directly below, one S3 write.
            message = encode_message(intake, with_forward=self._forwards(intake))
            if len(message) <= rt.settings.queue_max_message_bytes:
                try:
                    await self._io(rt.queue.send, message)
                except QueueUnavailableError as error:
                    rt.metrics.child(rt.metrics.store_errors, "enqueue").inc()
                    _log_staging_failed(intake, type(error.__cause__ or error).__name__)
                    raise _unavailable(context, rt.retry_after_s) from None
                rt.metrics.child(rt.metrics.objects_staged, "queue_messages").inc()
                return True
        try:
            await rt.committer.submit(intake)
        except GroupAbandonedError as error:
            _log_staging_failed(intake, type(error.__cause__ or error).__name__)
            raise _unavailable(context, error.retry_after_s) from None
        except StoreError as error:
            rt.metrics.child(rt.metrics.store_errors, "stage").inc()
            _log_staging_failed(intake, type(error).__name__)
            raise _unavailable(context, rt.retry_after_s) from None
        return False

    def _forwards(self, intake: Intake) -> bool:
        mode = self.rt.settings.forward_mode
        return bool(intake.accepted) and mode != "off" and self.rt.forwarder.has_token(intake.context.pixel_id)

    def record_staged(self, intake: Intake) -> None:
        """Count and log a staged intake's test events and rejections (shared step)."""
        report_staged(intake, self.rt.metrics, self.rt.settings.schema_version)

    async def forward(self, intake: Intake, queued: bool = False) -> Optional[dict[str, Any]]:
        """Forward a staged intake per META_CAPI_FORWARD_MODE (shared step); the summary. A
        `queued` intake is forwarded by the batch Lambda (batch_handler.py), not here."""
        rt, context = self.rt, intake.context
        mode = rt.settings.forward_mode
        if not self._forwards(intake):
            return {"mode": mode, "status": "not_configured" if mode != "off" else "off"} if intake.accepted else None
        if queued:
            return {"mode": "queue", "status": "queued"}
        now = rt.wall_clock()
        events = tuple(event.forward for event in intake.accepted if resend_safe(event.forward, now))
        if not events:
            return {"mode": mode, "status": "left_to_redrive"}
        batch = ForwardBatch(
            pixel_id=context.pixel_id,
            batch_id=context.batch_id,
            events=events,
            test_event_code=intake.test_event_code,
            partner_agent=intake.partner_agent,
            request_id=context.request_id,
            accepted_monotonic=time.monotonic(),
        )
        if mode == "inline":
            try:
                result = await self._io(rt.forwarder.forward, batch, rt.settings.forward_deadline_s)
            except Exception as error:
                # The batch is staged: a forwarding bug must not turn the answer into an error
                # (the caller would retry what is already accepted); redrive sends it later.
                log(
                    logging.ERROR,
                    "inline forwarding failed",
                    request_id=context.request_id,
                    pixel_id=context.pixel_id,
                    batch_id=context.batch_id,
                    reason=type(error).__name__,
                )
                return {"mode": mode, "status": "left_to_redrive"}
            return {"mode": mode, **result.as_json()}
        queued = rt.background is not None and rt.background.submit(batch)
        return {"mode": mode, "status": "queued" if queued else "left_to_redrive"}

    async def _io(self, function: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.rt.executor, function, *args)


def create_app(
    settings: Optional[ReceiverSettings] = None,
    *,
    runtime: Optional[ReceiverRuntime] = None,
    environ: Optional[Mapping[str, str]] = None,
    lifespan_owned: bool = True,
) -> Starlette:
    """The ASGI app. Give a runtime (tests), settings, or an environ mapping (default: os.environ).

    With `lifespan_owned`, startup starts the background forwarder and shutdown stops it and
    the runtime's threads.
    """
    if runtime is None:
        if settings is None:
            settings = load_settings(environ if environ is not None else os.environ)
        runtime = build_runtime(settings)
    rt = runtime
    endpoint = _Endpoint(rt)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if lifespan_owned and rt.background is not None:
            rt.background.start()
        try:
            yield
        finally:
            if lifespan_owned:
                rt.close()

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        code = {404: "not_found", 405: "method_not_allowed"}.get(
            status, "internal_error" if status == 500 else "http_error"
        )
        message = exc.detail if isinstance(exc, HTTPException) else "internal error; nothing was accepted"
        error = ApiError(status, code, message, field="path" if status in (404, 405) else None)
        return error.response(request_id_of(request))

    app = Starlette(
        exception_handlers={HTTPException: http_error, Exception: http_error},
        routes=[Route(EVENTS_ROUTE, endpoint.handle, methods=["POST"]), *ops_routes(rt), *graph_routes(endpoint)],
        lifespan=lifespan,
    )
    app.state.runtime = rt
    return app


def _pixel_id_of(request: Request) -> str:
    try:
        return validate_pixel_id(request.path_params.get("pixel_id", ""))
    except InvalidKeySegmentError:
        raise ApiError(
            400, "invalid_pixel_id", f"the pixel id in the path must be {PIXEL_ID_RULE}", field="pixel_id"
        ) from None


def _unavailable(context: RequestContext, retry_after_s: int) -> ApiError:
    return ApiError(
        503,
        "staging_unavailable",
        "the batch could not be staged durably; nothing was accepted, retry later",
        pixel_id=context.pixel_id,
        field=None,
        headers={"Retry-After": str(retry_after_s)},
        extra={"batch_id": context.batch_id},
    )


def _log_staging_failed(intake: Intake, reason: str) -> None:
    context = intake.context
    log(
        logging.ERROR,
        "staging failed",
        request_id=context.request_id,
        pixel_id=context.pixel_id,
        batch_id=context.batch_id,
        event_ids=intake.accepted_event_ids,
        reason=reason,
    )

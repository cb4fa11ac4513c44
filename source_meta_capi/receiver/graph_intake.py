"""The Graph-compatible intake: Meta's own `POST /{api_version}/{pixel_id}/events` on the receiver.

Any Conversions API client (Meta's business SDKs, tag managers, in-house code) mirrors its events
by replacing Meta's base URL with the receiver's: same path, body forms (graph_requests.py),
credentials (graph_auth.py) and answers. A straight path of steps, shared with the signed route
where they are the same (app.py's `_Endpoint`): path (400 2500 / 100-33) → Content-Encoding →
body size → token and proof when they are outside the body (400 104 / 190 / 100 / 100-33) →
parse (400 100) → token and proof wherever they are → pixel allowlist (100/33) → validate +
normalize (events isolated as on the signed route) → stage durably (503 code 2, transient) →
forward → answer `{"events_received", "messages", "fbtrace_id"}`.

Answers (docs/receiver.md, "Graph-compatible intake"): `events_received` counts the events
accepted; each rejected event is a `messages` string naming its index, event_id, field and
reason (and it is dead-lettered); when no event is usable the answer is Meta's 400 code 100 with
the same text in `error_user_msg`. `fbtrace_id` is the receiver's request id. Every refusal is a
`GraphError` in Meta's envelope, so Meta's SDKs raise `FacebookRequestError` as they would.

Routes: API Gateway (REST) allows one path variable per level and the same name for it across
routes, so both routes name their first segment `{node}`: the version in
`/{node}/{pixel_id}/events`, the pixel in `/{node}/events` (Meta's unversioned form).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any, Optional, Protocol

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from source_meta_capi.capi.event_validation import EventRejection
from source_meta_capi.capi.graph_api import API_VERSION_PATTERN, is_pixel_id
from source_meta_capi.receiver.graph_auth import AUTHENTICATION_REASONS, authenticate
from source_meta_capi.receiver.graph_requests import (
    INVALID_PARAMETER,
    SERVICE_UNAVAILABLE,
    UNKNOWN_ERROR,
    UNKNOWN_PATH,
    GraphCredentials,
    GraphError,
    invalid_parameter,
    object_not_found,
    outer_credentials,
    parse_graph_request,
)
from source_meta_capi.receiver.http_messages import ApiError, RequestHeaders, check_content_encoding, request_id_of
from source_meta_capi.receiver.json_logging import log
from source_meta_capi.receiver.pipeline import BodyError, Intake, RequestContext, body_digest, new_batch_id
from source_meta_capi.receiver.runtime import ReceiverRuntime

VERSIONED_ROUTE = "/{node}/{pixel_id}/events"
UNVERSIONED_ROUTE = "/{node}/events"
GRAPH_ROUTES = (VERSIONED_ROUTE, UNVERSIONED_ROUTE)
# The metrics' route label.
ROUTE_LABEL = "graph_events"


class IntakeSteps(Protocol):
    """The steps the Graph intake shares with the signed route (app.py's `_Endpoint`)."""

    rt: ReceiverRuntime

    async def read_body(self, request: Request, headers: RequestHeaders, pixel_id: str) -> bytes: ...

    async def process(self, body: Any, context: RequestContext, size: int) -> Intake: ...

    # Returns once the intake is durable; True when it went to the queue (queue intake mode).
    async def stage(self, intake: Intake) -> bool: ...

    def record_staged(self, intake: Intake) -> None: ...

    async def forward(self, intake: Intake, queued: bool = False) -> Optional[dict[str, Any]]: ...


def graph_routes(steps: IntakeSteps) -> list[Route]:
    """The two POST routes, bound to the shared steps."""
    endpoint = GraphEndpoint(steps)
    return [Route(path, endpoint.handle, methods=["POST"]) for path in GRAPH_ROUTES]


class GraphEndpoint:
    """Meta's events edge on the receiver; `handle` renders every refusal as Meta's error."""

    def __init__(self, steps: IntakeSteps) -> None:
        self.steps = steps
        self.rt = steps.rt

    async def handle(self, request: Request) -> Response:
        """Answer one POST (a bound method, so Starlette treats it as a request handler)."""
        started = time.monotonic()
        headers = RequestHeaders.of(request)
        request_id = request_id_of(headers)
        pixel_id: Optional[str] = None
        try:
            pixel_id = _pixel_id_of(request)
            response = await self._answer(request, headers, request_id, pixel_id)
        except GraphError as error:
            response = self._refused(error, request_id, pixel_id)
        except ApiError as error:
            response = self._refused(_graph_error_of(error), request_id, pixel_id)
        except Exception as error:
            # Meta's shape even here, so an SDK raises FacebookRequestError rather than choke.
            log(
                logging.ERROR,
                "graph request failed",
                request_id=request_id,
                pixel_id=pixel_id,
                reason=type(error).__name__,
            )
            failure = GraphError(
                500, UNKNOWN_ERROR, "An unknown error has occurred.", reason="internal_error", is_transient=True
            )
            response = self._refused(failure, request_id, pixel_id)
        response.raw_headers.append((b"x-request-id", request_id.encode("latin-1")))
        metrics = self.rt.metrics
        metrics.child(metrics.requests, ROUTE_LABEL, str(response.status_code)).inc()
        metrics.child(metrics.request_seconds, ROUTE_LABEL).observe(time.monotonic() - started)
        return response

    async def _answer(self, request: Request, headers: RequestHeaders, request_id: str, pixel_id: str) -> Response:
        steps, rt = self.steps, self.rt
        check_content_encoding(headers, pixel_id)
        raw = await steps.read_body(request, headers, pixel_id)
        query, authorization = request.query_params.multi_items(), request.headers.get("authorization")
        early = outer_credentials(query, authorization)
        if early.access_token is not None and (early.appsecret_proof is not None or rt.settings.app_secret is None):
            # Credentials outside the body (the SDK's query string, a Bearer header): a wrong
            # token costs no parsing. Meta's clients may also put them in the body, hence after.
            self._authenticate(pixel_id, early)
        parsed = parse_graph_request(raw, headers.get("content-type"), query, authorization)
        scheme = self._authenticate(pixel_id, parsed.credentials)
        if not rt.settings.allows_pixel(pixel_id):
            # After authentication, as on the signed route, so that pixels cannot be probed.
            raise object_not_found(pixel_id)
        # A repeated request is staged again, which is harmless (events keep their identity; the
        # source and Meta deduplicate); the body digest keeps its intake dead-letter ids stable.
        context = RequestContext(pixel_id, request_id, new_batch_id(), f"verified:{scheme}", None, body_digest(raw))
        try:
            intake = await steps.process(parsed.body, context, len(raw))
        except BodyError as error:
            raise invalid_parameter(error.message, reason=error.code, field=error.field) from None
        status, body = graph_answer(intake)
        queued = await steps.stage(intake)
        steps.record_staged(intake)
        await steps.forward(intake, queued)
        return _json_response(body, status)

    def _authenticate(self, pixel_id: str, credentials: GraphCredentials) -> str:
        rt = self.rt
        settings = rt.settings
        try:
            return authenticate(pixel_id, credentials, settings.access_tokens, settings.app_secret, rt.wall_clock())
        except GraphError as error:
            rt.metrics.child(rt.metrics.signature_failures, error.reason).inc()
            raise

    def _refused(self, error: GraphError, request_id: str, pixel_id: Optional[str]) -> Response:
        authentication = error.reason in AUTHENTICATION_REASONS
        log(
            logging.WARNING,
            "graph request refused",
            route=ROUTE_LABEL,
            request_id=request_id,
            pixel_id=pixel_id,
            signature_status="failed" if authentication else None,
            signature_reason=error.reason if authentication else None,
            reason=error.reason,
            field=error.field,
            error_code=error.code,
            error_subcode=error.subcode,
        )
        return _json_response(error.body(request_id), error.status, error.headers)


def graph_answer(intake: Intake) -> tuple[int, dict[str, Any]]:
    """Meta's answer to a processed batch: 200 `{events_received, messages, fbtrace_id}` with
    the accepted count and one message per rejected event, or Meta's 400 code 100 when no event
    is usable."""
    request_id = intake.context.request_id
    messages = [rejection_message(rejection) for rejection in intake.rejections]
    if intake.accepted:
        return 200, {"events_received": len(intake.accepted), "messages": messages, "fbtrace_id": request_id}
    first = intake.rejections[0] if intake.rejections else None
    error = GraphError(
        400,
        INVALID_PARAMETER,
        "Invalid parameter",
        reason="all_events_rejected",
        field=first.field if first else None,
        user_title="No event was accepted",
        user_msg=" ".join(messages),
    )
    return 400, error.body(request_id)


def rejection_message(rejection: EventRejection) -> str:
    """One rejected event as a `messages` string: index, event_id, field, reason (never a value)."""
    event_id = f"event_id {rejection.event_id}" if rejection.event_id is not None else "no event_id"
    return (
        f"Event {rejection.index} ({event_id}) was not accepted and is dead-lettered: "
        f"{rejection.field}: {rejection.reason}."
    )


def _pixel_id_of(request: Request) -> str:
    params = request.path_params
    node = str(params.get("node", ""))
    if "pixel_id" not in params:
        pixel_id = node
    else:
        pixel_id = str(params["pixel_id"])
        if not API_VERSION_PATTERN.fullmatch(node):
            raise GraphError(
                400,
                UNKNOWN_PATH,
                f"Unknown path components: /{pixel_id}/events (the version must look like v26.0)",
                reason="unknown_version",
                field="api_version",
            )
    if not is_pixel_id(pixel_id):
        raise object_not_found(pixel_id[:40])
    return pixel_id


def _graph_error_of(error: ApiError) -> GraphError:
    """A shared step's refusal (our envelope) in Meta's envelope."""
    if error.status == 503:
        return GraphError(
            503,
            SERVICE_UNAVAILABLE,
            "(#2) Service temporarily unavailable: " + error.message,
            reason=error.code,
            is_transient=True,
            headers=error.headers,
        )
    if 400 <= error.status < 500:
        return invalid_parameter(error.message, reason=error.code, field=error.field)
    return GraphError(error.status, UNKNOWN_ERROR, error.message, reason=error.code, is_transient=True)


def _json_response(body: Mapping[str, Any], status: int, headers: Optional[Mapping[str, str]] = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, headers=dict(headers or {}), media_type="application/json")

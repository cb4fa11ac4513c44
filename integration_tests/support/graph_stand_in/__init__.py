"""A real HTTP server on 127.0.0.1 that answers like Meta's Graph API, for integration tests.

Routes (``{ver}`` is any ``vNN.N``; fact sheet sections in brackets):

- ``POST /{ver}/{pixel_id}/events`` [§1]: JSON body ``{"data": [...]}`` or a form body with
  ``data`` as a JSON string. Validates the shape (at most 1,000 events; ``event_name``,
  integer ``event_time`` no older than 7 days (62 for ``physical_store``), ``action_source``,
  ``user_data`` object) and answers ``{"events_received", "messages", "fbtrace_id"}``. Only
  accepted requests are recorded as received (Meta's batches are all-or-nothing).
- ``GET /{ver}/{pixel_id}?fields=...`` [§8.1]: the pixel's stored fields, projected.
- ``GET /{ver}/{pixel_id}/stats?aggregation=&start_time=&end_time=&limit=&after=`` [§8.2]:
  stored hourly buckets (nested ``data``) filtered by time, cursor-paged with absolute
  ``paging.next`` URLs pointing back at this server (keeping ``access_token`` if it was in the
  query, as Graph does).
- ``GET /{ver}/dataset_quality?dataset_id=&fields=web{...}&agent_name=`` [§8.3]:
  ``{"web": [...]}`` projected by ``fields``, or ``{}`` when there is no data.
- Anything else, including ``/{ver}/{id}/dataset_quality``: HTTP 400 code 2500.

Auth: the token comes from ``Authorization: Bearer``, or an ``access_token`` query, form or
JSON body parameter. Missing → code 104; unknown → 190; listed in ``expired_tokens`` →
190/463. With ``app_secret`` set, ``appsecret_proof`` is required (query or body), classic or
time-stamped with ``appsecret_time`` within 300 s of ``clock()`` [§7.4]. Unknown pixels →
100/33.

Usage::

    with GraphStandIn(access_token="tok") as graph:      # DEFAULT_PIXEL_ID is pre-registered
        graph.add_pixel("42", name="Shop pixel", last_fired_time="2026-11-26T05:59:12+0000")
        graph.add_stats("42", "event", [{"start_time": "2026-11-25T10:00:00+0000",
                                         "data": [{"value": "Purchase", "count": 2}]}])
        graph.set_dataset_quality("42", [{"event_name": "Purchase", ...}])
        graph.enqueue(EVENTS, rate_limited(17, regain_minutes=1), server_error(503))
        graph.reject_event_ids({"bad-1"})                # 400 100/2804009 for the whole batch
        ... graph.base_url ...                           # "http://127.0.0.1:<port>"
        graph.received_event_ids("42"); graph.requests; graph.requests_to(STATS)

Faults: ``enqueue(route, *responses)`` queues :class:`ScriptedResponse` objects per route
(``EVENTS``, ``PIXEL``, ``STATS``, ``DATASET_QUALITY``); the n-th request to a route gets the
n-th queued answer before any auth check, then normal behaviour resumes. Helpers live in
:mod:`integration_tests.support.graph_stand_in.responses` (``graph_error``, ``rate_limited``,
``server_error``, ``html_error``, ``delayed``, ``usage_headers``). ``set_route_headers``
adds headers (e.g. usage headers) to every normal answer of a route. ``fbtrace_id`` values are
``StandIn000001``, ``StandIn000002``, … in answer order, so runs are deterministic.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from integration_tests.support.graph_stand_in.http import Reply, handler_class, parse_body
from integration_tests.support.graph_stand_in.reads import (
    check_aggregation,
    dataset_quality_answer,
    project_pixel,
    stats_page,
)
from integration_tests.support.graph_stand_in.responses import ScriptedResponse, error_envelope
from integration_tests.support.graph_stand_in.validation import StandInError, check_appsecret_proof, validate_events
from source_meta_capi.capi.appsecret_proof import APPSECRET_TIME_MAX_AGE_SECONDS

__all__ = [
    "DATASET_QUALITY",
    "DEFAULT_PIXEL_ID",
    "EVENTS",
    "PIXEL",
    "STATS",
    "GraphStandIn",
    "RecordedRequest",
]

EVENTS, PIXEL, STATS, DATASET_QUALITY = "events", "pixel", "stats", "dataset_quality"
DEFAULT_PIXEL_ID = "1234567890"
_VERSION = re.compile(r"v\d+\.\d+")


@dataclass(frozen=True)
class RecordedRequest:
    """One request the stand-in received (``Authorization`` masked), and its answer status."""

    method: str
    path: str
    route: str | None
    query: tuple[tuple[str, str], ...]
    headers: Mapping[str, str]
    body: Any
    status: int


@dataclass(frozen=True)
class _Reject:
    code: int
    subcode: int
    user_title: str
    user_msg: str
    blame_index: bool


@dataclass
class _State:
    pixels: dict[str, dict[str, Any]] = field(default_factory=dict)
    stats: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    quality: dict[tuple[str, str | None], list[dict[str, Any]]] = field(default_factory=dict)
    queues: dict[str, deque[ScriptedResponse]] = field(default_factory=dict)
    route_headers: dict[str, dict[str, str]] = field(default_factory=dict)
    rejects: dict[str, _Reject] = field(default_factory=dict)
    received: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    requests: list[RecordedRequest] = field(default_factory=list)
    trace_seq: int = 0


class GraphStandIn:
    """The Graph API stand-in server; see the module docstring for routes and faults."""

    def __init__(
        self,
        *,
        access_token: str | Collection[str] = "test-token",
        expired_tokens: Collection[str] = (),
        app_secret: str | None = None,
        page_size: int = 25,
        pixels: Iterable[str] = (DEFAULT_PIXEL_ID,),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.valid_tokens = {access_token} if isinstance(access_token, str) else set(access_token)
        self.expired_tokens = set(expired_tokens)
        self.app_secret = app_secret
        self.page_size = page_size
        self.clock = clock
        self._state = _State()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        for pixel_id in pixels:
            self.add_pixel(pixel_id, name=f"Stand-in pixel {pixel_id}")

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> GraphStandIn:
        """Bind 127.0.0.1 on a free port and serve in a daemon thread."""
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler_class(self.handle))
        server.daemon_threads = True
        self._server = server
        # A short poll interval keeps stop() fast; the default 0.5 s adds up across many tests.
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="graph-stand-in", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> GraphStandIn:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``, to pass as the Graph base URL."""
        if self._server is None:
            raise RuntimeError("GraphStandIn is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # -- fixtures and faults ---------------------------------------------------------------
    def add_pixel(self, pixel_id: str, **fields: Any) -> None:
        """Register a pixel (events and reads to unknown pixels fail with 100/33)."""
        with self._lock:
            self._state.pixels[pixel_id] = {"id": pixel_id, **fields}

    def add_stats(self, pixel_id: str, aggregation: str, buckets: Iterable[Mapping[str, Any]]) -> None:
        """Append hourly buckets (``start_time`` Graph datetime, nested ``data``) for an aggregation."""
        with self._lock:
            rows = self._state.stats.setdefault((pixel_id, aggregation), [])
            rows.extend({"aggregation": aggregation, **dict(bucket)} for bucket in buckets)

    def add_hourly_stats(self, pixel_id: str, aggregation: str, now: datetime, hours: int) -> None:
        """Seed `hours` hourly buckets before `now`, two values each (`<aggregation>-a` counting the
        hour's age, `<aggregation>-b` counting 1): a realistic history for paging and slicing tests."""
        self.add_stats(
            pixel_id,
            aggregation,
            [
                {
                    "start_time": f"{now - timedelta(hours=hour):%Y-%m-%dT%H:%M:%S+0000}",
                    "data": [{"value": f"{aggregation}-a", "count": hour}, {"value": f"{aggregation}-b", "count": 1}],
                }
                for hour in range(1, hours + 1)
            ],
        )

    def set_dataset_quality(
        self, dataset_id: str, web: Iterable[Mapping[str, Any]] | None, agent_name: str | None = None
    ) -> None:
        """Set the ``web`` array for a dataset (and optional ``agent_name``); None means no data."""
        with self._lock:
            key = (dataset_id, agent_name)
            if web is None:
                self._state.quality.pop(key, None)
            else:
                self._state.quality[key] = [dict(item) for item in web]

    def enqueue(self, route: str, *responses: ScriptedResponse) -> None:
        """Queue scripted answers for the next requests to ``route``."""
        with self._lock:
            self._state.queues.setdefault(route, deque()).extend(responses)

    def set_route_headers(self, route: str, headers: Mapping[str, str]) -> None:
        """Headers (e.g. usage headers) added to every normal answer of ``route``."""
        with self._lock:
            self._state.route_headers[route] = dict(headers)

    def reject_event_ids(
        self,
        event_ids: Iterable[str],
        *,
        code: int = 100,
        subcode: int = 2804009,
        user_title: str = "Purchase value missing",
        user_msg: str = "A purchase event must include a value.",
        blame_index: bool = False,
    ) -> None:
        """Make any batch containing one of ``event_ids`` fail as a whole with a 400.

        With ``blame_index`` the error's ``blame_field_specs`` names ``data[i]`` of the first
        offending event; by default it does not, as in the fixture of §6.1.
        """
        rule = _Reject(code, subcode, user_title, user_msg, blame_index)
        with self._lock:
            self._state.rejects.update(dict.fromkeys(event_ids, rule))

    # -- inspection ------------------------------------------------------------------------
    def received_events(self, pixel_id: str | None = None) -> list[dict[str, Any]]:
        """Events of accepted ``/events`` requests, in arrival order."""
        with self._lock:
            return [dict(e) for p, e in self._state.received if pixel_id is None or p == pixel_id]

    def received_event_ids(self, pixel_id: str | None = None) -> list[str]:
        """``event_id`` of every received event (repeats kept, so double delivery shows)."""
        return [str(event.get("event_id")) for event in self.received_events(pixel_id)]

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, in order."""
        with self._lock:
            return list(self._state.requests)

    def requests_to(self, route: str) -> list[RecordedRequest]:
        """Requests received on one route."""
        return [r for r in self.requests if r.route == route]

    # -- request handling (called from the server threads) ---------------------------------
    def handle(self, method: str, raw_path: str, headers: Mapping[str, str], raw_body: bytes) -> Reply:
        """Answer one request; public only for the handler class."""
        parts = urlsplit(raw_path)
        query = tuple(parse_qsl(parts.query, keep_blank_values=True))
        body = parse_body(headers.get("content-type", ""), raw_body)
        params = {**(body if isinstance(body, dict) else {}), **dict(query)}
        segments = [s for s in parts.path.split("/") if s]
        route, node = _route(method, segments)
        scripted = self._next_scripted(route)
        if scripted is not None and scripted.delay_seconds:
            time.sleep(scripted.delay_seconds)
        if scripted is not None and not scripted.passthrough:
            reply = Reply(scripted.status, scripted.encoded_body(), scripted.content_type(), dict(scripted.headers))
        else:
            try:
                if route is None:
                    raise StandInError(400, 2500, f"Unknown path components: {parts.path}")
                self._authenticate(headers, params)
                payload = self._dispatch(route, node, params, query, parts.path)
                extra = self._state.route_headers.get(route, {})
                reply = Reply(200, json.dumps(payload).encode(), "application/json", dict(extra))
            except StandInError as error:
                reply = self._error_reply(error)
        masked = {k: ("Bearer ***" if k.lower() == "authorization" else v) for k, v in headers.items()}
        with self._lock:
            self._state.requests.append(RecordedRequest(method, parts.path, route, query, masked, body, reply.status))
        return reply

    def _next_scripted(self, route: str | None) -> ScriptedResponse | None:
        with self._lock:
            queue = self._state.queues.get(route or "")
            return queue.popleft() if queue else None

    def _trace_id(self) -> str:
        with self._lock:
            self._state.trace_seq += 1
            return f"StandIn{self._state.trace_seq:06d}"

    def _error_reply(self, error: StandInError) -> Reply:
        body = error_envelope(
            error.code,
            error.message,
            subcode=error.subcode,
            type=error.type,
            user_title=error.user_title,
            user_msg=error.user_msg,
            error_data=error.error_data,
            fbtrace_id=self._trace_id(),
        )
        return Reply(error.status, json.dumps(body).encode(), "application/json", {})

    def _authenticate(self, headers: Mapping[str, str], params: Mapping[str, Any]) -> None:
        authorization = headers.get("authorization", "")
        token = authorization[7:].strip() if authorization.lower().startswith("bearer ") else None
        token = token or (str(params["access_token"]) if params.get("access_token") else None)
        if token is None:
            raise StandInError(400, 104, "An access token is required to request this resource.")
        if token in self.expired_tokens:
            raise StandInError(400, 190, "Error validating access token: Session has expired.", subcode=463)
        if token not in self.valid_tokens:
            raise StandInError(400, 190, "Invalid OAuth access token - Cannot parse access token")
        if self.app_secret is not None:
            check_appsecret_proof(self.app_secret, token, params, self.clock(), APPSECRET_TIME_MAX_AGE_SECONDS)

    def _pixel(self, pixel_id: str, method: str) -> dict[str, Any]:
        with self._lock:
            pixel = self._state.pixels.get(pixel_id)
        if pixel is None:
            raise StandInError(
                400,
                100,
                f"Unsupported {method} request. Object with ID '{pixel_id}' does not exist, cannot be "
                "loaded due to missing permissions, or does not support this operation.",
                subcode=33,
                type="GraphMethodException",
            )
        return pixel

    def _dispatch(
        self, route: str, node: str, params: Mapping[str, Any], query: tuple[tuple[str, str], ...], path: str
    ) -> dict[str, Any]:
        if route == EVENTS:
            return self._events(node, params)
        if route == PIXEL:
            return project_pixel(self._pixel(node, "get"), str(params.get("fields", "id,name")))
        if route == STATS:
            return self._stats(node, params, query, path)
        return self._dataset_quality(params)

    def _events(self, pixel_id: str, params: Mapping[str, Any]) -> dict[str, Any]:
        self._pixel(pixel_id, "post")
        events = validate_events(params.get("data"), self.clock())
        with self._lock:
            rejects = dict(self._state.rejects)
        for index, event in enumerate(events):
            rule = rejects.get(str(event.get("event_id")))
            if rule is not None:
                blame = [["data", str(index), "custom_data"]] if rule.blame_index else [["custom_data"]]
                raise StandInError(
                    400,
                    rule.code,
                    "Invalid parameter",
                    subcode=rule.subcode,
                    user_title=rule.user_title,
                    user_msg=rule.user_msg,
                    error_data={"blame_field_specs": blame},
                )
        with self._lock:
            self._state.received.extend((pixel_id, dict(event)) for event in events)
        return {"events_received": len(events), "messages": [], "fbtrace_id": self._trace_id()}

    def _stats(
        self, pixel_id: str, params: Mapping[str, Any], query: tuple[tuple[str, str], ...], path: str
    ) -> dict[str, Any]:
        self._pixel(pixel_id, "get")
        aggregation = check_aggregation(params)
        with self._lock:
            rows = list(self._state.stats.get((pixel_id, aggregation), []))
        return stats_page(rows, params, query, f"{self.base_url}{path}", self.page_size)

    def _dataset_quality(self, params: Mapping[str, Any]) -> dict[str, Any]:
        dataset_id = str(params.get("dataset_id", ""))
        if not dataset_id:
            raise StandInError(400, 100, "(#100) The parameter dataset_id is required")
        self._pixel(dataset_id, "get")
        agent = params.get("agent_name")
        with self._lock:
            web = self._state.quality.get((dataset_id, str(agent) if agent else None))
        return dataset_quality_answer(web, str(params.get("fields", "")))


def _route(method: str, segments: list[str]) -> tuple[str | None, str]:
    if not segments or not _VERSION.fullmatch(segments[0]):
        return None, ""
    rest = segments[1:]
    if method == "POST" and len(rest) == 2 and rest[0].isdigit() and rest[1] == "events":
        return EVENTS, rest[0]
    if method == "GET" and len(rest) == 1 and rest[0].isdigit():
        return PIXEL, rest[0]
    if method == "GET" and len(rest) == 2 and rest[0].isdigit() and rest[1] == "stats":
        return STATS, rest[0]
    if method == "GET" and rest == ["dataset_quality"]:
        return DATASET_QUALITY, ""
    return None, ""

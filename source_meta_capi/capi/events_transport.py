"""One HTTP request to ``/{pixel_id}/events`` and its answer, reduced to what the client needs.

Separate from the retry and bisection logic in :mod:`events_client` so that each stays one
concept: this module knows requests, JSON and Meta's response shapes (fact sheet §1.3, §6.1);
the client knows what to do next.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import requests

from source_meta_capi.capi.appsecret_proof import proof_params
from source_meta_capi.capi.graph_errors import (
    GraphError,
    parse_graph_error,
    redact_secrets,
    transport_error,
)
from source_meta_capi.capi.rate_limits import (
    EMPTY_USAGE,
    UsageSnapshot,
    parse_usage_headers,
)

__all__ = ["EventsAnswer", "post_events", "proof_params"]


@dataclass(frozen=True)
class EventsAnswer:
    """Meta's answer to one events request; ``error`` is None when Meta accepted it.

    ``http_status`` is None when no response arrived (timeout, connection failure). Every
    text field is already redacted.
    """

    http_status: int | None
    error: GraphError | None
    events_received: int | None
    messages: tuple[str, ...]
    fbtrace_id: str | None
    usage: UsageSnapshot


def post_events(
    session: requests.Session,
    url: str,
    access_token: str,
    body: Mapping[str, Any],
    *,
    params: Mapping[str, str],
    timeout: float,
    secrets: Iterable[str] = (),
) -> EventsAnswer:
    """POST ``body`` as JSON with a bearer token; never raises for transport or HTTP errors.

    ``secrets`` are literal values (token, app secret) masked in every returned text on top
    of the pattern-based redaction, since Meta may echo a token with no recognisable prefix.
    """
    masked = tuple(secrets)
    try:
        response = session.post(
            url,
            data=json.dumps(body, separators=(",", ":")).encode("utf-8"),
            params=dict(params),
            headers={
                "Authorization": f"Bearer {access_token}",
                "Content-Type": "application/json",
            },
            timeout=timeout,
        )
    except requests.Timeout:
        return _transport_answer(f"No response within {timeout:.3g} s")
    except requests.RequestException as exc:
        # The exception text can carry the URL and headers; only its type is kept.
        return _transport_answer(f"Request failed: {type(exc).__name__}")
    headers = dict(response.headers)
    usage = parse_usage_headers(headers)
    status = response.status_code
    document = _json_or_none(response.content)
    if not 200 <= status < 300 or (isinstance(document, dict) and "error" in document):
        error = _redacted(parse_graph_error(status, headers, response.content), masked)
        return EventsAnswer(status, error, None, (), error.fbtrace_id, usage)
    if not isinstance(document, dict):
        # §1.3: a 2xx means the payload was valid even if a proxy mangled the body.
        return EventsAnswer(status, None, None, (), None, usage)
    received = document.get("events_received")
    messages = document.get("messages")
    trace = document.get("fbtrace_id")
    return EventsAnswer(
        http_status=status,
        error=None,
        events_received=received if isinstance(received, int) and not isinstance(received, bool) else None,
        messages=tuple(redact_secrets(str(m), masked) for m in messages) if isinstance(messages, list) else (),
        fbtrace_id=trace if isinstance(trace, str) else None,
        usage=usage,
    )


def _redacted(error: GraphError, secrets: tuple[str, ...]) -> GraphError:
    def mask(text: str | None) -> str | None:
        return redact_secrets(text, secrets) if text else text

    return replace(
        error,
        message=redact_secrets(error.message, secrets),
        user_title=mask(error.user_title),
        user_msg=mask(error.user_msg),
    )


def _transport_answer(message: str) -> EventsAnswer:
    return EventsAnswer(None, transport_error(message), None, (), None, EMPTY_USAGE)


def _json_or_none(content: bytes) -> object:
    try:
        return json.loads(content)
    except ValueError:
        return None

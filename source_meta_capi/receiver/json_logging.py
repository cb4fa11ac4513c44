"""Structured JSON logs at the receiver's edges.

Only whitelisted context fields are emitted (pixel id, event ids, signature status, request/run
id, counts, reasons, keys of staged objects), so a body, header, token or user value can never
reach a log line by accident: anything else passed as context is dropped.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone
from typing import Any

LOGGER_NAME = "meta_capi_receiver"
CONTEXT_FIELD = "ctx"
ALLOWED_FIELDS = frozenset(
    {
        "request_id",
        "request_ids",
        "batch_ids",
        "webhook_ids",
        "run_id",
        "pixel_id",
        "batch_id",
        "event_id",
        "event_ids",
        "signature_status",
        "signature_reason",
        "status",
        "reason",
        "field",
        "route",
        "duration_ms",
        "events",
        "accepted",
        "rejected",
        "delivered",
        "undelivered",
        "dead_letters",
        "attempts",
        "object_key",
        "group_requests",
        "forward_mode",
        "error_code",
        "error_subcode",
        "fbtrace_id",
        "error_type",
        "replayed",
        "staging_url",
        "count",
        "schema_version",
        "message_id",
        "queue_lag_ms",
    }
)
_MAX_IDS = 50


def logger() -> logging.Logger:
    """The receiver's logger (library code never configures handlers; `configure` does)."""
    return logging.getLogger(LOGGER_NAME)


def log(level: int, message: str, *, max_ids: int = _MAX_IDS, **context: Any) -> None:
    """Log `message` with whitelisted context fields; id lists are capped at `max_ids`."""
    target = logging.getLogger(LOGGER_NAME)
    if not target.isEnabledFor(level):
        return
    clean: dict[str, Any] = {}
    for key, value in context.items():
        if key not in ALLOWED_FIELDS or value is None:
            continue
        if isinstance(value, (list, tuple)):
            value = list(value[:max_ids])
        clean[key] = value
    target.log(level, message, extra={CONTEXT_FIELD: clean})


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the context fields."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        context = getattr(record, CONTEXT_FIELD, None)
        if isinstance(context, dict):
            document.update(context)
        if record.exc_info and record.exc_info[0] is not None:
            # The type only: exception messages of HTTP and AWS libraries can carry URLs and tokens.
            document["exception"] = record.exc_info[0].__name__
        # U+2028/U+2029 are line breaks to JavaScript and to some log shippers: a value holding
        # one would split or forge a line. JSON allows them escaped.
        return (
            json.dumps(document, default=str, ensure_ascii=False)
            .replace("\u2028", "\\u2028")
            .replace("\u2029", "\\u2029")
        )


def configure(level: str = "INFO") -> None:
    """Send the receiver's logs (and uvicorn's) to stderr as JSON lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    for name in (LOGGER_NAME, "uvicorn", "uvicorn.error"):
        target = logging.getLogger(name)
        target.handlers[:] = [handler]
        target.setLevel(level)
        target.propagate = False

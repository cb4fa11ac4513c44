"""AWS Lambda entry point: `source_meta_capi.receiver.lambda_handler.handler`.

The same Starlette app behind Mangum, for API Gateway REST (v1) and HTTP API (v2) events (base64
bodies included). Mangum awaits the whole app before returning, and every durability step
(staging, and in `inline` mode forwarding and its statuses) happens inside the request, so
nothing needs to run after the response — which Lambda would freeze. `background` forwarding is
refused on Lambda by the settings; `auto` means `inline` here. With
`META_CAPI_INTAKE_MODE=queue` the durable step is one SQS SendMessage per request instead, and
the batch Lambda (batch_handler.py) stages and forwards (docs/deploy.md, "Queue intake").

The app is built on the first invocation (cold start), from the function's environment; secret
references are resolved then, so a rotated secret reaches new containers.
"""

from __future__ import annotations

import os
from typing import Any, Optional

from mangum import Mangum
from starlette.applications import Starlette

from source_meta_capi.receiver import json_logging
from source_meta_capi.receiver.app import create_app

_handler: Optional[Mangum] = None


def make_handler(app: Starlette) -> Mangum:
    """Wrap an app for Lambda. Lifespan is off: there is no background work to start or stop."""
    return Mangum(app, lifespan="off")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The Lambda handler."""
    global _handler
    if _handler is None:
        json_logging.configure(os.environ.get("META_CAPI_LOG_LEVEL", "INFO"))
        _handler = make_handler(create_app(environ=os.environ, lifespan_owned=False))
    result: dict[str, Any] = _handler(event, context)
    return result

"""Running the source the way the platform does, and reading its output."""

from __future__ import annotations

import json
from typing import Any, Mapping, Optional

from airbyte_cdk.models import AirbyteMessageSerializer, AirbyteStateMessage, SyncMode
from airbyte_cdk.test.catalog_builder import CatalogBuilder
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput, read
from airbyte_cdk.test.mock_http import HttpResponse
from airbyte_cdk.test.mock_http.response_builder import find_template
from airbyte_cdk.test.models.outcome import ExpectedOutcome

from source_meta_capi.source import SourceMetaCapi


def read_stream(
    config: Mapping[str, Any],
    stream: str,
    sync_mode: SyncMode = SyncMode.full_refresh,
    state: Optional[list[AirbyteStateMessage]] = None,
    expect_failure: bool = False,
) -> EntrypointOutput:
    catalog = CatalogBuilder().with_stream(stream, sync_mode).build()
    source = SourceMetaCapi(catalog=catalog, config=config, state=state)
    outcome = ExpectedOutcome.EXPECT_EXCEPTION if expect_failure else ExpectedOutcome.EXPECT_SUCCESS
    return read(source, config, catalog, state, expected_outcome=outcome)


def template(name: str) -> dict[str, Any]:
    """A JSON response body from unit_tests/resource/http/response/<name>.json."""
    return find_template(name, __file__)


def json_response(body: Any, status_code: int = 200, headers: Optional[Mapping[str, str]] = None) -> HttpResponse:
    return HttpResponse(json.dumps(body), status_code, dict(headers or {}))


def graph_error(code: int, subcode: Optional[int] = None, message: str = "Error", **extra: Any) -> dict[str, Any]:
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "Atrace123"}
    if subcode is not None:
        error["error_subcode"] = subcode
    error.update(extra)
    return {"error": error}


def all_output_text(output: EntrypointOutput) -> str:
    """Everything the connector wrote (records, logs, traces, state, stderr), as one string."""
    messages = (json.dumps(AirbyteMessageSerializer.dump(m)) for m in output.get_message_iterator())
    return "\n".join([*messages, output.stderr or ""])

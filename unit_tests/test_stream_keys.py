"""Every stream's primary key and cursor fields are non-nullable in the discovered catalog.

A destination deduplicating on the primary key (append + dedup) cannot key a row on null, and
Airbyte's catalog checks flag a nullable key, so the schemas in `schemas/` must say so.
"""

from __future__ import annotations

from typing import Any, Mapping

import pytest
from airbyte_cdk.models import AirbyteStream
from airbyte_cdk.test.entrypoint_wrapper import discover

from source_meta_capi.source import SourceMetaCapi

# Push (staging) and pull (credentials) together: all six streams.
CONFIG = {
    "pixels": [{"pixel_id": "1234567890", "custom_data_properties": [{"name": "coupon_code", "type": "string"}]}],
    "staging": {"bucket_url": "/nonexistent/bucket/not/read/by/discover"},
    "credentials": {"auth_type": "access_token", "access_token": "EAAB-not-a-real-token"},
}


def _discovered() -> list[AirbyteStream]:
    output = discover(SourceMetaCapi(config=CONFIG), CONFIG)
    return list(output.catalog.catalog.streams)


def _field_schema(schema: Mapping[str, Any], path: list[str]) -> Mapping[str, Any]:
    for name in path:
        schema = schema["properties"][name]
    return schema


def _types(schema: Mapping[str, Any]) -> set[str]:
    declared = schema.get("type")
    return {declared} if isinstance(declared, str) else set(declared or ())


def test_given_push_and_pull_configured_when_discovered_then_all_six_streams_are_offered():
    assert sorted(stream.name for stream in _discovered()) == [
        "dataset_quality",
        "dead_letters",
        "delivered_events",
        "delivery_statuses",
        "pixel_stats",
        "pixels",
    ]


@pytest.mark.parametrize("stream", _discovered(), ids=lambda stream: stream.name)
def test_given_a_discovered_stream_then_its_primary_key_and_cursor_fields_are_not_nullable(stream: AirbyteStream):
    key_paths = [list(path) for path in stream.source_defined_primary_key or []]
    assert key_paths, f"{stream.name} declares no primary key"
    cursor = list(stream.default_cursor_field or [])
    paths = key_paths + ([cursor] if cursor else [])
    for path in paths:
        field = _field_schema(stream.json_schema, path)
        types = _types(field)
        assert types, f"{stream.name}.{'.'.join(path)} declares no type"
        assert "null" not in types, f"{stream.name}.{'.'.join(path)} is nullable: {sorted(types)}"
        assert not types & {"object", "array"}, f"{stream.name}.{'.'.join(path)} is not a scalar"

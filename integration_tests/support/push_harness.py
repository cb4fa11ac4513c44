"""Helpers to run the real source (CDK entrypoint) over a staging bucket in tests."""

from __future__ import annotations

from collections import Counter
from typing import Any, Iterable, Mapping, Optional

from airbyte_cdk.models import AirbyteStateMessage, SyncMode
from airbyte_cdk.test.catalog_builder import CatalogBuilder
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput, read
from airbyte_cdk.test.models import ExpectedOutcome

from source_meta_capi.source import SourceMetaCapi

PUSH_STREAM_NAMES = ("delivered_events", "delivery_statuses", "dead_letters")


def catalog(streams: Iterable[str] = PUSH_STREAM_NAMES, mode: SyncMode = SyncMode.incremental) -> Any:
    builder = CatalogBuilder()
    for name in streams:
        builder.with_stream(name, mode)
    return builder.build()


def sync(
    config: Mapping[str, Any],
    streams: Iterable[str] = PUSH_STREAM_NAMES,
    state: Optional[list[AirbyteStateMessage]] = None,
    mode: SyncMode = SyncMode.incremental,
    expect_failure: bool = False,
) -> EntrypointOutput:
    configured = catalog(streams, mode)
    return read(
        SourceMetaCapi(config=config, catalog=configured, state=state),
        config,
        configured,
        state,
        expected_outcome=ExpectedOutcome.EXPECT_EXCEPTION if expect_failure else ExpectedOutcome.EXPECT_SUCCESS,
    )


def final_state(output: EntrypointOutput) -> list[AirbyteStateMessage]:
    """The last state message of each stream, as the platform would persist it."""
    latest: dict[str, AirbyteStateMessage] = {}
    for message in output.state_messages:
        assert message.state is not None and message.state.stream is not None
        latest[message.state.stream.stream_descriptor.name] = message.state
    return list(latest.values())


def records(output: EntrypointOutput, stream: str) -> list[dict[str, Any]]:
    return [m.record.data for m in output.records if m.record is not None and m.record.stream == stream]


def identities(output: EntrypointOutput) -> Counter[tuple[str, str, int]]:
    return Counter((r["pixel_id"], r["event_id"], r["event_time"]) for r in records(output, "delivered_events"))

"""The push streams (delivered_events, delivery_statuses, dead_letters): CDK 7 concurrent streams
reading the staging bucket, one partition per pixel and arrival hour."""

from __future__ import annotations

import copy
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from importlib import resources
from typing import Any, Iterable, Iterator, Mapping, NamedTuple, Optional

from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.connector_state_manager import ConnectorStateManager
from airbyte_cdk.sources.message import MessageRepository
from airbyte_cdk.sources.streams.concurrent.cursor import CursorField
from airbyte_cdk.sources.streams.concurrent.default_stream import DefaultStream
from airbyte_cdk.sources.streams.concurrent.partitions.partition import Partition
from airbyte_cdk.sources.streams.concurrent.partitions.partition_generator import PartitionGenerator
from airbyte_cdk.sources.types import Record
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_meta_capi.config import SourceConfig, StagingConfig
from source_meta_capi.push import raw_output
from source_meta_capi.push.cursor import ArrivalWatermarkCursor
from source_meta_capi.push.decoder_pool import DecoderPoolError, LazyDecoderPool
from source_meta_capi.push.object_checks import Finding, ObjectScope, check_object
from source_meta_capi.push.record_checks import DriftFinding, RecordTypeChecker
from source_meta_capi.push.record_messages import RecordChunk
from source_meta_capi.push.sync_report import HeldObjects, SyncReport
from source_meta_capi.staging.identity_filter import IdentityFilter
from source_meta_capi.staging.keys import ObjectKey, ObjectKind, arrival_floor_key, parse_object_key, pixel_prefix
from source_meta_capi.staging.reader import HourPrefix, StagingReader
from source_meta_capi.staging.records import CURSOR_FIELD, iso_utc
from source_meta_capi.staging.store import CorruptObjectError, StoreAccessError, StoreError


@dataclass(frozen=True)
class PushStreamSpec:
    """What differs between the three push streams."""

    name: str
    kind: ObjectKind
    primary_key: tuple[str, ...]

    @property
    def cursor_field(self) -> str:
        """The envelope field the staging writer stamps with the object's arrival time."""
        return CURSOR_FIELD[self.kind]


# The one place the push streams' names (= their schemas/<name>.json) and primary keys are defined.
PUSH_STREAMS = (
    PushStreamSpec("delivered_events", ObjectKind.EVENTS, ("pixel_id", "event_id", "event_time")),
    PushStreamSpec("delivery_statuses", ObjectKind.STATUSES, ("pixel_id", "batch_id", "attempt")),
    PushStreamSpec("dead_letters", ObjectKind.DEAD_LETTERS, ("dead_letter_id",)),
)
EVENTS_STREAM = next(spec for spec in PUSH_STREAMS if spec.kind is ObjectKind.EVENTS)

logger = logging.getLogger("airbyte.source_meta_capi")


def utc_now() -> datetime:
    """The sync's clock (one reading per sync fixes the settle cutoff); tests replace it."""
    return datetime.now(timezone.utc)


def load_schema(stream_name: str) -> dict[str, Any]:
    """The stream's JSON Schema from schemas/ (the single source of truth for its fields)."""
    text = resources.files("source_meta_capi").joinpath("schemas", f"{stream_name}.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


def events_schema(config: SourceConfig) -> dict[str, Any]:
    """delivered_events with every pixel's configured custom_data properties merged in."""
    schema = copy.deepcopy(load_schema(EVENTS_STREAM.name))
    custom = schema["properties"]["custom_data"]["properties"]
    for pixel in config.pixels:
        for name, json_type in sorted(pixel.custom_data_properties.items()):
            existing = custom.get(name)
            if existing is None:
                custom[name] = {"type": ["null", json_type]}
            elif json_type not in existing["type"]:
                # Two pixels disagree on a field's type: accept both rather than fail a load.
                existing["type"] = sorted(set(existing["type"]) | {json_type})
    return schema


class StagedHourPartition(Partition):
    """The objects of one pixel's arrival hour that this sync reads."""

    def __init__(
        self,
        stream: PushStreamReader,
        hour: HourPrefix,
        partition_id: int,
        after_key: Optional[str],
        objects: list[ObjectKey],
    ) -> None:
        self._stream = stream
        self.hour = hour
        self.objects = objects
        self.partition_id = partition_id
        self.pixel_id = hour.pixel_id
        self._after_key = after_key
        self.last_key_read: Optional[str] = None

    def read(self) -> Iterable[Record]:
        yield from self._stream.read_hour(self)

    def to_slice(self) -> Optional[Mapping[str, Any]]:
        return {"pixel_id": self.hour.pixel_id, "date": self.hour.day, "hour": self.hour.hour}

    def stream_name(self) -> str:
        return self._stream.spec.name

    def __hash__(self) -> int:
        return hash((self._stream.spec.name, self.partition_id))

    @property
    def after_key(self) -> Optional[str]:
        return self._after_key


class PushStreamReader(PartitionGenerator):
    """Generates the partitions of one push stream and reads them; `close()` after the read."""

    def __init__(
        self,
        spec: PushStreamSpec,
        config: SourceConfig,
        staging: StagingConfig,
        reader: StagingReader,
        cursor: ArrivalWatermarkCursor,
        incremental: bool,
        now: datetime,
        report: SyncReport,
        schema: Mapping[str, Any],
        decoders: Optional[LazyDecoderPool] = None,
        output: Optional[raw_output.OutputBudget] = None,
    ) -> None:
        self.spec = spec
        self._config = config
        self._staging = staging
        self._reader = reader
        self._cursor = cursor
        self._incremental = incremental
        # Late writers: only objects stamped before now - settle are final (see cursor.py).
        self._arrived_before = now - timedelta(seconds=staging.settle_seconds) if incremental else None
        self._report = report
        self._checker = RecordTypeChecker(schema)
        # One filter for all pixels: the pixel is part of the identity, and one memory cap (not
        # one per pixel) keeps memory flat however many pixels a sync reads.
        self._identities = IdentityFilter() if spec.kind is ObjectKind.EVENTS else None
        self._decoders = decoders
        self._output = output or raw_output.OutputBudget()

    def generate(self) -> Iterable[Partition]:
        """Each pixel's hours in arrival order, the pixels taking turns.

        Taking turns keeps every decoder process busy (each owns some pixels); the cursor only
        needs each pixel's own partitions in order.
        """
        turns = [self._pixel_partitions(pixel.pixel_id) for pixel in self._config.pixels]
        while turns:
            for turn in list(turns):
                partition = next(turn, None)
                if partition is None:
                    turns.remove(turn)
                else:
                    yield partition

    def _pixel_partitions(self, pixel_id: str) -> Iterator[Partition]:
        after_key = self._cursor.last_key(pixel_id) if self._incremental else None
        if after_key is None and self._config.start_date is not None:
            after_key = arrival_floor_key(self.spec.kind, pixel_id, self._config.start_date)
        try:
            for hour, objects in self._reader.hour_batches(
                self.spec.kind, pixel_id, after_key=after_key, arrived_before=self._arrived_before
            ):
                yield StagedHourPartition(self, hour, self._cursor.register(pixel_id), after_key, objects)
            if self._arrived_before is not None:
                self._report_held(pixel_id, after_key, self._arrived_before)
        except StoreError as error:
            raise _store_failure(error, f"list {self.spec.name} of pixel {pixel_id}") from error

    def _report_held(self, pixel_id: str, after_key: Optional[str], arrived_before: datetime) -> None:
        """Count the objects this sync leaves for a later one because they arrived within the
        settle window, and say when they become readable (a first sync right after sending
        events otherwise returns nothing without a word).

        One more listing per pixel, from the cutoff on: it only walks the last settle_seconds
        of objects.
        """
        floor = arrival_floor_key(self.spec.kind, pixel_id, arrived_before)
        start_after = max(floor, after_key) if after_key else floor
        count = 0
        first: Optional[datetime] = None
        last: Optional[datetime] = None
        for key in self._reader.store.list_keys(pixel_prefix(self.spec.kind, pixel_id), start_after=start_after):
            parsed = parse_object_key(key)
            if parsed is None or parsed.kind is not self.spec.kind or parsed.pixel_id != pixel_id:
                continue
            if parsed.arrival < arrived_before:
                continue
            count += 1
            first = parsed.arrival if first is None else min(first, parsed.arrival)
            last = parsed.arrival if last is None else max(last, parsed.arrival)
        if not count:
            return
        assert first is not None and last is not None
        held = HeldObjects(
            self.spec.name, pixel_id, count, first, last, timedelta(seconds=self._staging.settle_seconds)
        )
        self._report.held_for_settle_window(held)
        logger.info(
            json.dumps(
                {
                    "event": "objects_held_for_settle_window",
                    **held.as_dict(),
                    "message": (
                        f"{count} {self.spec.name} object(s) of pixel {pixel_id} arrived less than "
                        f"{self._staging.settle_seconds} s ago (staging.settle_seconds) and are left for a later "
                        f"sync: the first becomes readable at {iso_utc(held.first_readable_at)}, all of them "
                        f"by {iso_utc(held.all_readable_at)}."
                    ),
                }
            )
        )

    def read_hour(self, partition: StagedHourPartition) -> Iterable[Record]:
        name = self.spec.name
        pixel_id = partition.pixel_id
        pixel = self._config.pixel(pixel_id)
        ad_account = pixel.ad_account_id if pixel else None
        event_types = pixel.event_types if pixel else frozenset()
        is_events = self.spec.kind is ObjectKind.EVENTS
        report = self._report
        # Raw records only when the console entry point writes them (see raw_output.py).
        pool = self._decoders if self._decoders is not None and raw_output.enabled() else None
        for staged in partition.objects:
            key = staged.key
            try:
                data = self._reader.get(key)
            except CorruptObjectError as error:
                # A damaged pack or a non-regular file: the corrupt-object policy decides, and
                # a retry would not help.
                self._corrupt(name, error)
                partition.last_key_read = key
                continue
            except StoreError as error:
                raise _store_failure(error, f"read {key}") from error
            scope = ObjectScope(name, is_events, pixel_id, ad_account, event_types, key)
            try:
                decoders = pool.get() if pool is not None else None
                encoded = decoders.decode(scope, data) if decoders is not None else None
            except DecoderPoolError as error:
                raise AirbyteTracedException(
                    message=f"Cannot check {key}: {error} Set staging.decode_processes to 0 to check "
                    "records on the connector's own threads.",
                    internal_message=repr(error.__cause__ or error),
                    failure_type=FailureType.system_error,
                ) from error
            records: Iterable[tuple[dict[str, Any], int]]
            if encoded is not None:
                self._replay(name, encoded.findings)
                counts = (encoded.readable, encoded.filtered_by_event_type, encoded.repeats_dropped)
                records = self._raw_chunks(encoded.chunks)
            else:
                checked = check_object(scope, data, self._checker, self._identities)
                self._replay(name, checked.findings)
                counts = (checked.readable, checked.filtered_by_event_type, checked.repeats_dropped)
                records = ((record, 1) for record in checked.records)
            readable, filtered, repeats = counts
            if readable:
                report.add(name, "objects_read")
            if filtered:
                report.add(name, "filtered_by_event_type", filtered)
            if repeats:
                report.add(name, "repeats_dropped", repeats)
            emitted = 0
            try:
                for record, count in records:
                    # Counted per object (one locked update instead of one per record).
                    emitted += count
                    yield Record(data=record, stream_name=name, associated_slice=None)
            finally:
                if emitted:
                    report.add(name, "records", emitted)
            partition.last_key_read = key

    def _raw_chunks(self, chunks: list[RecordChunk]) -> Iterator[tuple[dict[str, Any], int]]:
        """(record data, records it stands for) per chunk of finished lines (raw_output.py).

        Each chunk's bytes are reserved in the output budget only when it is about to be handed
        to the CDK, so a large object waits for its own earlier chunks to be written.
        """
        for chunk in chunks:
            yield raw_output.raw_records(chunk.lines, chunk.count, self._output), chunk.count

    def _replay(self, stream: str, findings: list[Finding]) -> None:
        """Count and log an object's findings in line order; raise on the first one the policy fails on."""
        for finding in findings:
            if isinstance(finding, CorruptObjectError):
                self._corrupt(stream, finding)
            else:
                self._report_drift(finding)

    def _corrupt(self, stream: str, error: CorruptObjectError) -> None:
        self._report.corrupt_data(stream, str(error))
        if self._staging.on_corrupt_object == "fail":
            raise AirbyteTracedException(
                message=(
                    f"Corrupt staged data in {error.key}"
                    + (f" line {error.line}" if error.line is not None else "")
                    + f": {error.reason}. Move the object out of the bucket, or set staging.on_corrupt_object to 'warn' "
                    "to skip (and count) corrupt data."
                ),
                internal_message=str(error),
                failure_type=FailureType.config_error,
            )
        logger.warning(
            json.dumps(
                {
                    "event": "corrupt_staged_data",
                    "stream": stream,
                    "object": error.key,
                    "line": error.line,
                    "reason": error.reason,
                }
            )
        )

    def _report_drift(self, finding: DriftFinding) -> None:
        for missing in finding.missing:
            self._report.drift(finding.pixel_id, finding.event_name, missing)
        logger.error(
            json.dumps(
                {
                    "event": "schema_drift",
                    "pixel_id": finding.pixel_id,
                    "event_id": finding.event_id,
                    "event_name": finding.event_name,
                    "missing": list(finding.missing),
                }
            )
        )
        if self._staging.on_schema_drift == "fail":
            raise AirbyteTracedException(
                message=(
                    f"Schema drift: event {finding.event_id} ({finding.event_name}) of pixel {finding.pixel_id} lacks "
                    f"{', '.join(finding.missing)}, which attribution needs. Fix the sender, or set staging.on_schema_drift "
                    "to 'warn' to sync such events and only count them."
                ),
                failure_type=FailureType.config_error,
            )

    def close(self) -> None:
        """Release the identity filter's file and stop the decoder processes (idempotent)."""
        if self._identities is not None:
            self._identities.close()
        if self._decoders is not None:
            self._decoders.close()
        self._output.close()


def _store_failure(error: StoreError, action: str) -> AirbyteTracedException:
    failure = FailureType.config_error if isinstance(error, StoreAccessError) else FailureType.transient_error
    return AirbyteTracedException(
        message=f"Cannot {action}: {error}", internal_message=repr(error), failure_type=failure
    )


class PushStream(NamedTuple):
    """A push stream for the CDK, and its reader, which the source closes after the read."""

    stream: DefaultStream
    reader: PushStreamReader


def build_push_streams(
    config: SourceConfig,
    reader: StagingReader,
    state_manager: ConnectorStateManager,
    message_repository: MessageRepository,
    incremental_streams: frozenset[str],
    report: SyncReport,
    now: Optional[datetime] = None,
) -> list[PushStream]:
    """The three push streams for a config with `staging`."""
    assert config.staging is not None
    moment = now or utc_now()
    streams: list[PushStream] = []
    schemas = {
        spec.name: events_schema(config) if spec.kind is ObjectKind.EVENTS else load_schema(spec.name)
        for spec in PUSH_STREAMS
    }
    processes = config.staging.decode_processes
    decoders = LazyDecoderPool(processes, schemas) if processes > 0 else None
    output = raw_output.OutputBudget()
    for spec in PUSH_STREAMS:
        schema = schemas[spec.name]
        stream_state = state_manager.get_stream_state(spec.name, None) or {}
        cursor = ArrivalWatermarkCursor(spec.name, spec.cursor_field, stream_state, message_repository, state_manager)
        generator = PushStreamReader(
            spec,
            config,
            config.staging,
            reader,
            cursor,
            spec.name in incremental_streams,
            moment,
            report,
            schema,
            decoders,
            output,
        )
        stream = DefaultStream(
            partition_generator=generator,
            name=spec.name,
            json_schema=schema,
            primary_key=list(spec.primary_key),
            cursor_field=CursorField(spec.cursor_field),
            logger=logger,
            cursor=cursor,
        )
        streams.append(PushStream(stream, generator))
    return streams

"""Baseline (a): a bare CDK 7 concurrent `DefaultStream` emitting the benchmark's records from memory.

Same framework path as the real source (a declarative source whose `streams()` returns concurrent
`DefaultStream`s, the same default worker pool, `launch()` writing to stdout), the same record
shape (records decoded from the staged objects, with the fields the source adds) and the same
partitions (one per pixel and arrival hour, with the same record counts) — but no listing, no
decompression, no parsing, no checks. It is the ceiling the CDK allows for these records.

Run: python -m benchmarks.bare_cdk_source read --config CONFIG --catalog CATALOG, where CONFIG is
{"records_file": "<JSON Lines pool>", "partitions": [["<pixel_id>", <count>], ...]}.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any, Iterable, List, Mapping, Optional

import orjson
from airbyte_cdk.entrypoint import AirbyteEntrypoint, launch
from airbyte_cdk.models import ConnectorSpecification
from airbyte_cdk.sources.declarative.concurrent_declarative_source import ConcurrentDeclarativeSource
from airbyte_cdk.sources.streams.concurrent.abstract_stream import AbstractStream
from airbyte_cdk.sources.streams.concurrent.cursor import FinalStateCursor
from airbyte_cdk.sources.streams.concurrent.default_stream import DefaultStream
from airbyte_cdk.sources.streams.concurrent.partitions.partition import Partition
from airbyte_cdk.sources.streams.concurrent.partitions.partition_generator import PartitionGenerator
from airbyte_cdk.sources.types import Record

STREAM = "delivered_events"
_MANIFEST: dict[str, Any] = {
    "version": "7.39.1",
    "type": "DeclarativeSource",
    "check": {"type": "CheckStream", "stream_names": [STREAM]},
    "streams": [],
}
logger = logging.getLogger("airbyte.bare_cdk_source")


class _MemoryPartition(Partition):
    def __init__(self, pool: list[dict[str, Any]], number: int, pixel_id: str, count: int) -> None:
        self._pool = pool
        self._number = number
        self._pixel_id = pixel_id
        self._count = count

    def read(self) -> Iterable[Record]:
        pool, size = self._pool, len(self._pool)
        for i in range(self._count):
            yield Record(data=pool[i % size], stream_name=STREAM, associated_slice=None)

    def to_slice(self) -> Optional[Mapping[str, Any]]:
        return {"pixel_id": self._pixel_id, "partition": self._number}

    def stream_name(self) -> str:
        return STREAM

    def __hash__(self) -> int:
        return hash((STREAM, self._number))


class _MemoryPartitions(PartitionGenerator):
    def __init__(self, pools: Mapping[str, list[dict[str, Any]]], partitions: list[tuple[str, int]]) -> None:
        self._pools = pools
        self._partitions = partitions

    def generate(self) -> Iterable[Partition]:
        for number, (pixel_id, count) in enumerate(self._partitions):
            yield _MemoryPartition(self._pools[pixel_id], number, pixel_id, count)


class BareCdkSource(ConcurrentDeclarativeSource):
    """One concurrent stream over in-memory records."""

    def __init__(self, config: Optional[Mapping[str, Any]] = None, **kwargs: Any) -> None:
        super().__init__(config=config, source_config=_MANIFEST, **kwargs)
        self._bench_config = dict(config or {})

    def spec(self, logger: logging.Logger) -> ConnectorSpecification:
        return ConnectorSpecification(connectionSpecification={"type": "object"})

    def streams(self, config: Mapping[str, Any]) -> List[AbstractStream]:  # type: ignore[override]
        pools: dict[str, list[dict[str, Any]]] = {}
        for line in Path(config["records_file"]).read_bytes().splitlines():
            record = orjson.loads(line)
            pools.setdefault(record["pixel_id"], []).append(record)
        partitions = [(str(pixel_id), int(count)) for pixel_id, count in config["partitions"]]
        schema = json.loads(
            (Path(__file__).resolve().parent.parent / "source_meta_capi" / "schemas" / f"{STREAM}.json").read_text()
        )
        return [
            DefaultStream(
                partition_generator=_MemoryPartitions(pools, partitions),
                name=STREAM,
                json_schema=schema,
                primary_key=["pixel_id", "event_id", "event_time"],
                cursor_field=None,
                logger=logger,
                cursor=FinalStateCursor(STREAM, None, self._message_repository),
            )
        ]


def main() -> None:
    argv = sys.argv[1:]
    config_path = AirbyteEntrypoint.extract_config(argv)
    config = BareCdkSource.read_config(config_path) if config_path else None
    launch(BareCdkSource(config=config), argv)


if __name__ == "__main__":
    main()

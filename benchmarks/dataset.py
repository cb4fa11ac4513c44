"""Staged events for the source benchmarks, generated at run time with the project's own writer.

`DatasetSpec` fixes the shape (1M events, ~500 per object, 4 pixels, arrivals spread over five
days). `stage_local` writes it with `StagingWriter` into a local folder, one process per pixel;
`mirror_to_s3` copies the very same objects (same keys, same bytes) to an S3 bucket and, for
airbyte-source-s3, the same events as plain JSON Lines.
"""

from __future__ import annotations

import gzip
import random
import uuid
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

from source_meta_capi.staging.keys import ObjectKind
from source_meta_capi.staging.local_store import LocalFolderStore
from source_meta_capi.staging.sample_data import sample_event
from source_meta_capi.staging.writer import StagingWriter

PLAIN_PREFIX = "plain-jsonl"


@dataclass(frozen=True)
class DatasetSpec:
    """How many events, how they are grouped into objects, and over which arrival window."""

    events: int = 1_000_000
    events_per_object: int = 500
    pixels: tuple[str, ...] = ("1111111111111111", "2222222222222222", "3333333333333333", "4444444444444444")
    days: int = 5
    # Arrivals end a day before the run, well past any settle time.
    end: datetime = field(
        default_factory=lambda: (
            datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0) - timedelta(days=1)
        )
    )

    @property
    def objects_per_pixel(self) -> int:
        return max(1, self.events // (self.events_per_object * len(self.pixels)))

    @property
    def start(self) -> datetime:
        return self.end - timedelta(days=self.days)

    def arrival(self, number: int) -> datetime:
        """Arrival stamp of a pixel's `number`-th object: evenly spread over the window."""
        step = (self.end - self.start) / self.objects_per_pixel
        return self.start + step * number

    def start_date_for(self, events: int) -> datetime:
        """A start_date from which a sync reads (about) the newest `events` events."""
        fraction = min(1.0, events / (self.objects_per_pixel * self.events_per_object * len(self.pixels)))
        return self.end - (self.end - self.start) * fraction


@dataclass(frozen=True)
class StagedDataset:
    """What was staged, where."""

    spec: DatasetSpec
    root: Path
    events: int
    objects: int
    keys: list[str]


def _stage_pixel(root: str, spec: DatasetSpec, pixel_index: int) -> tuple[int, list[str]]:
    pixel_id = spec.pixels[pixel_index]
    rng = random.Random(1000 + pixel_index)
    arrivals: Iterator[datetime] = (spec.arrival(n) for n in range(spec.objects_per_pixel))
    current: list[datetime] = []

    def clock() -> datetime:
        return current[-1]

    writer = StagingWriter(LocalFolderStore(root), writer_id=f"bench{pixel_index}", clock=clock)
    keys: list[str] = []
    index = 0
    for arrival in arrivals:
        current.append(arrival)
        batch_id = f"b{uuid.UUID(int=rng.getrandbits(128)).hex[:20]}"
        request_id = f"r{uuid.UUID(int=rng.getrandbits(128)).hex[:20]}"
        base_time = int(arrival.timestamp()) - 60
        batch: list[dict[str, Any]] = []
        for position in range(spec.events_per_object):
            event = sample_event(rng, pixel_id, base_time + position % 60, index)
            event.update(batch_id=batch_id, request_id=request_id, event_index=position)
            batch.append(event)
            index += 1
        keys.append(writer.stage(ObjectKind.EVENTS, pixel_id, batch).key)
    return index, keys


def stage_local(root: Path, spec: DatasetSpec, workers: int = 2) -> StagedDataset:
    """Stage the dataset into `root` (created), one writer process per pixel."""
    root.mkdir(parents=True, exist_ok=True)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        results = list(
            pool.map(_stage_pixel, [str(root)] * len(spec.pixels), [spec] * len(spec.pixels), range(len(spec.pixels)))
        )
    keys = sorted(key for _, pixel_keys in results for key in pixel_keys)
    return StagedDataset(spec=spec, root=root, events=sum(n for n, _ in results), objects=len(keys), keys=keys)


def mirror_to_s3(dataset: StagedDataset, client: Any, bucket: str, prefix: str, threads: int = 16) -> None:
    """Copy every staged object to `s3://bucket/prefix/<key>` (same bytes), and its events as
    plain JSON Lines to `s3://bucket/plain-jsonl/<key without .gz>` for airbyte-source-s3."""

    def put(key: str) -> None:
        data = (dataset.root / key).read_bytes()
        client.put_object(Bucket=bucket, Key=f"{prefix}/{key}", Body=data)
        client.put_object(Bucket=bucket, Key=f"{PLAIN_PREFIX}/{key.removesuffix('.gz')}", Body=gzip.decompress(data))

    with ThreadPoolExecutor(max_workers=threads) as pool:
        for _ in pool.map(put, dataset.keys):
            pass

"""The arrival-watermark cursor of the push streams.

State per stream: `{"pixels": {"<pixel_id>": {"last_key": "<object key>", "<cursor>": "<iso>"}}}`
— one entry per configured pixel, whatever the traffic. A sync reads objects with a key greater
than `last_key` and stamped before `now - settle_seconds`; writers commit within their deadline
of their stamp or abandon, so nothing can appear later behind the watermark (docs/staging-format.md).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Mapping, MutableMapping, Optional, Protocol

from airbyte_cdk.sources.connector_state_manager import ConnectorStateManager
from airbyte_cdk.sources.message import MessageRepository
from airbyte_cdk.sources.streams.concurrent.cursor import Cursor
from airbyte_cdk.sources.streams.concurrent.partitions.partition import Partition
from airbyte_cdk.sources.types import Record

from source_meta_capi.staging.keys import parse_object_key
from source_meta_capi.staging.records import iso_utc


class _TracksProgress(Protocol):
    """What the push partitions tell the cursor when they close."""

    pixel_id: str
    partition_id: int
    last_key_read: Optional[str]


@dataclass
class _PixelProgress:
    last_key: Optional[str]
    # Partitions of this pixel in generation (= arrival) order, and the ones done so far.
    pending: list[int] = field(default_factory=list)
    done: dict[int, Optional[str]] = field(default_factory=dict)


class ArrivalWatermarkCursor(Cursor):
    """Advances each pixel's watermark over the longest run of completed partitions.

    Partitions run concurrently, so an hour can finish before an earlier one; the watermark only
    moves past a partition once every earlier partition of the pixel is done, so a crash never
    skips data.
    """

    def __init__(
        self,
        stream_name: str,
        cursor_field: str,
        stream_state: Mapping[str, Any],
        message_repository: MessageRepository,
        connector_state_manager: ConnectorStateManager,
    ) -> None:
        self._stream_name = stream_name
        self._cursor_field = cursor_field
        self._message_repository = message_repository
        self._state_manager = connector_state_manager
        self._lock = threading.Lock()
        self._pixels: dict[str, _PixelProgress] = {}
        for pixel_id, entry in (stream_state.get("pixels") or {}).items():
            key = entry.get("last_key") if isinstance(entry, Mapping) else None
            self._pixels[str(pixel_id)] = _PixelProgress(last_key=key if isinstance(key, str) else None)
        self._next_partition_id = 0

    def last_key(self, pixel_id: str) -> Optional[str]:
        with self._lock:
            progress = self._pixels.get(pixel_id)
            return progress.last_key if progress else None

    def register(self, pixel_id: str) -> int:
        """Called before a partition is handed out; returns its id."""
        with self._lock:
            partition_id = self._next_partition_id
            self._next_partition_id += 1
            self._pixels.setdefault(pixel_id, _PixelProgress(last_key=None)).pending.append(partition_id)
            return partition_id

    @property
    def state(self) -> MutableMapping[str, Any]:
        with self._lock:
            return self._state_locked()

    def _state_locked(self) -> MutableMapping[str, Any]:
        pixels: dict[str, Any] = {}
        for pixel_id, progress in sorted(self._pixels.items()):
            if progress.last_key is None:
                continue
            parsed = parse_object_key(progress.last_key)
            entry: dict[str, Any] = {"last_key": progress.last_key}
            if parsed is not None:
                entry[self._cursor_field] = iso_utc(parsed.arrival)
            pixels[pixel_id] = entry
        return {"pixels": pixels}

    def observe(self, record: Record) -> None:
        # Progress is tracked per object by the partition, not per record.
        pass

    def close_partition(self, partition: Partition) -> None:
        progress_of: _TracksProgress = partition  # type: ignore[assignment]
        pixel_id, partition_id, last_read = progress_of.pixel_id, progress_of.partition_id, progress_of.last_key_read
        with self._lock:
            progress = self._pixels[pixel_id]
            progress.done[partition_id] = last_read
            advanced = False
            while progress.pending and progress.pending[0] in progress.done:
                finished = progress.done.pop(progress.pending.pop(0))
                if finished is not None and (progress.last_key is None or finished > progress.last_key):
                    progress.last_key = finished
                    advanced = True
            state = self._state_locked() if advanced else None
        if state is not None:
            self._emit(state)

    def _emit(self, state: Mapping[str, Any]) -> None:
        self._state_manager.update_state_for_stream(self._stream_name, None, state)
        self._message_repository.emit_message(self._state_manager.create_state_message(self._stream_name, None))

    def ensure_at_least_one_state_emitted(self) -> None:
        self._emit(self.state)

    def should_be_synced(self, record: Record) -> bool:
        return True

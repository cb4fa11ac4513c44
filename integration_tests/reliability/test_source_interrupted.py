"""Scenario 5: `source-meta-capi read` is SIGKILLed mid-sync at random points and resumed from the
last state it emitted. Nothing is lost; a record emitted twice always comes from beyond the
checkpoint the run resumed from (its object key is past the pixel's `last_key`: a partition that
was in flight when the previous run was killed); after dedup on the primary key the table is
exactly the set staged."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from airbyte_cdk.models import ConfiguredAirbyteCatalogSerializer

from integration_tests.reliability import audit
from integration_tests.reliability.conftest import variants
from integration_tests.reliability.source_runs import push_config
from integration_tests.reliability.traffic import OTHER_PIXEL, PIXEL
from integration_tests.support.push_harness import catalog
from source_meta_capi.staging.keys import ObjectKind
from source_meta_capi.staging.local_store import LocalFolderStore
from source_meta_capi.staging.writer import StagingWriter

SOURCE = Path(sys.executable).parent / "source-meta-capi"
PRIMARY_KEY = {
    "delivered_events": ("pixel_id", "event_id", "event_time"),
    "dead_letters": ("dead_letter_id",),
    "delivery_statuses": ("pixel_id", "batch_id", "attempt"),
}


@dataclass(frozen=True)
class Scale:
    objects_per_pixel: int
    events_per_object: int
    kills: int


def stage(store: LocalFolderStore, scale: Scale) -> set[tuple[str, tuple[Any, ...]]]:
    """Objects spread over 8 arrival hours, two pixels; returns every (stream, primary key)."""
    start = datetime.now(timezone.utc) - timedelta(hours=10)
    expected: set[tuple[str, tuple[Any, ...]]] = set()
    for pixel in (PIXEL, OTHER_PIXEL):
        step = timedelta(hours=8) / scale.objects_per_pixel
        moments = iter(start + step * i for i in range(scale.objects_per_pixel * 3))
        writer = StagingWriter(store, writer_id=f"w{pixel[-2:]}", clock=lambda moments=moments: next(moments))
        for number in range(scale.objects_per_pixel):
            events = [
                {
                    "pixel_id": pixel,
                    "event_name": "Lead",
                    "event_time": 1_790_000_000 + i,
                    "event_id": f"src-{pixel}-{number}-{i}",
                    "action_source": "email",
                    "user_data": {"em": ["a" * 64]},
                    "batch_id": f"b{number}",
                }
                for i in range(scale.events_per_object)
            ]
            writer.stage(ObjectKind.EVENTS, pixel, events)
            expected.update(("delivered_events", (pixel, e["event_id"], e["event_time"])) for e in events)
            if number % 5 == 0:
                letter = {
                    "dead_letter_id": f"dl-{pixel}-{number}",
                    "pixel_id": pixel,
                    "stage": "intake",
                    "reason": "action_source: missing",
                    "event_id": f"bad-{number}",
                    "replayable": False,
                }
                writer.stage(ObjectKind.DEAD_LETTERS, pixel, [letter])
                expected.add(("dead_letters", (letter["dead_letter_id"],)))
    return expected


def run_read(tmp: Path, config: dict[str, Any], state: list[Any], kill_after: int | None) -> tuple[list[dict], bool]:
    """One `read`; SIGKILLed after `kill_after` RECORD lines. Returns its messages and completion."""
    (tmp / "config.json").write_text(json.dumps(config))
    (tmp / "catalog.json").write_text(json.dumps(ConfiguredAirbyteCatalogSerializer.dump(catalog())))
    (tmp / "state.json").write_text(json.dumps(state))
    process = subprocess.Popen(
        [
            str(SOURCE),
            "read",
            "--config",
            str(tmp / "config.json"),
            "--catalog",
            str(tmp / "catalog.json"),
            "--state",
            str(tmp / "state.json"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert process.stdout is not None
    messages: list[dict] = []
    records = 0
    killed = False
    for line in process.stdout:
        if not line.startswith(b"{"):
            continue
        message = json.loads(line)
        messages.append(message)
        if message["type"] == "RECORD":
            records += 1
            if kill_after is not None and records >= kill_after:
                process.send_signal(signal.SIGKILL)
                killed = True
                break
    process.stdout.close()
    code = process.wait(timeout=60)
    audit.register_text(
        "log of a killed or resumed source read",
        "\n".join(m["log"]["message"] for m in messages if m["type"] == "LOG"),
    )
    assert killed or code == 0, code
    return messages, not killed


def pk(message: dict) -> tuple[str, tuple[Any, ...]]:
    stream = message["record"]["stream"]
    data = message["record"]["data"]
    return stream, tuple(data[f] for f in PRIMARY_KEY[stream])


@pytest.mark.parametrize("scale", variants(fast=Scale(30, 10, 2), full=Scale(600, 20, 12)))
def test_given_read_killed_at_random_points_when_resumed_from_last_state_then_no_loss_and_duplicates_only_in_unchecked_tail(
    tmp_path: Path, scale: Scale, figures
) -> None:
    store = LocalFolderStore(str(tmp_path / "bucket"))
    store.ensure_exists()
    audit.register_store(store)
    expected = stage(store, scale)
    config = push_config({"bucket_url": store.url}, settle_seconds=60)
    rng = random.Random(scale.kills)
    state: list[Any] = []
    emitted: Counter[tuple[str, tuple[Any, ...]]] = Counter()
    runs = kills = duplicates_outside_tail = duplicates_in_tail = 0
    while True:
        runs += 1
        assert runs <= scale.kills + 5, "the source never completed a sync"
        remaining = max(1, len(expected) - len(set(emitted)))
        kill_after = rng.randint(1, max(1, int(remaining * 0.6))) if kills < scale.kills else None
        checkpoint = {s["stream"]["stream_descriptor"]["name"]: s["stream"].get("stream_state") or {} for s in state}
        messages, completed = run_read(tmp_path, config, state, kill_after)
        for message in messages:
            if message["type"] != "RECORD":
                continue
            key = pk(message)
            if emitted[key]:
                # A repeat is allowed only from beyond the checkpoint this run resumed from: the
                # partitions that were in flight when the previous run was killed.
                record = message["record"]
                pixels = checkpoint.get(record["stream"], {}).get("pixels", {})
                last_key = pixels.get(record["data"]["pixel_id"], {}).get("last_key", "")
                if record["data"]["_staged_object"] > last_key:
                    duplicates_in_tail += 1
                else:
                    duplicates_outside_tail += 1
            emitted[key] += 1
        kills += not completed
        states = {
            m["state"]["stream"]["stream_descriptor"]["name"]: m["state"] for m in messages if m["type"] == "STATE"
        }
        previous = {s["stream"]["stream_descriptor"]["name"]: s for s in state}
        state = list({**previous, **states}.values())
        if completed:
            break
    assert duplicates_outside_tail == 0
    assert set(emitted) == expected, (len(expected - set(emitted)), len(set(emitted) - expected))
    figures(
        "5_source_interrupted",
        {
            "records_staged": len(expected),
            "reads_started": runs,
            "reads_sigkilled": kills,
            "records_emitted_total": sum(emitted.values()),
            "records_emitted_more_than_once": sum(1 for n in emitted.values() if n > 1),
            "duplicates_outside_the_unchecked_tail": duplicates_outside_tail,
            "repeats_from_unchecked_partitions": duplicates_in_tail,
            "records_lost": len(expected - set(emitted)),
            "distinct_after_dedup_on_primary_key": len(set(emitted)),
        },
    )

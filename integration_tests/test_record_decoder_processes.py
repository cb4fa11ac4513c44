"""The console entry point with record decoder processes writes exactly what the in-thread path writes.

Runs the real `source-meta-capi read` (the only place raw records are written) on the same
bucket with `decode_processes` 0, 1 and 2, on the local store and on moto's S3 server: the same
records (same data, top-level nulls left out as the CDK does; whitespace may differ where a
staged line is passed on as written), same state, same sync summary, the same record counts in
the STATE messages' sourceStats and the CDK's per-stream log (records travel through the CDK in
chunks there: push/raw_output.py); and the same actionable error when corrupt data fails the sync.
"""

from __future__ import annotations

import gzip
import json
import random
import re
import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

import pytest

from integration_tests.support.s3 import s3_staging_config
from source_meta_capi.staging.keys import ObjectKind
from source_meta_capi.staging.open_store import open_store, s3_options_from_mapping
from source_meta_capi.staging.sample_data import sample_event, stage_sample
from source_meta_capi.staging.store import ObjectStore
from source_meta_capi.staging.writer import StagingWriter

CLI = Path(sys.executable).parent / "source-meta-capi"
PIXEL, OTHER = "1234567890", "2222222222"
# Arrivals two hours back: older than settle_seconds, so a real-clock subprocess reads them all.
ARRIVAL = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=2)


@pytest.fixture(params=["local", "s3"])
def staging(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, Any]]:
    if request.param == "local":
        yield {"bucket_url": (tmp_path / "bucket").as_uri()}
    else:
        yield s3_staging_config(request.getfixturevalue("s3_bucket"), request.getfixturevalue("moto_endpoint"))


def _store(staging: dict[str, Any]) -> ObjectStore:
    return open_store(staging["bucket_url"], s3_options_from_mapping(staging))


def _corrupt_key(n: int) -> str:
    stamp = (ARRIVAL + timedelta(seconds=n)).strftime("%Y%m%dT%H%M%S000000Z")
    return f"events/pixel_id={PIXEL}/date={ARRIVAL:%Y-%m-%d}/hour={ARRIVAL:%H}/{stamp}-zz-000000000000000{n}.jsonl.gz"


def _stage_everything(store: ObjectStore) -> None:
    writer = StagingWriter(store, writer_id="w", clock=lambda: ARRIVAL)
    stage_sample(writer, [PIXEL, OTHER], batches_per_pixel=3, events_per_batch=40, now=ARRIVAL)
    rng = random.Random(11)
    again = [sample_event(rng, PIXEL, 1_764_000_000 + i, i) for i in range(30)]
    drifting = sample_event(rng, PIXEL, 1_764_000_100, 99)
    drifting["user_data"] = {}
    with_nulls = sample_event(rng, OTHER, 1_764_000_200, 98) | {"event_source_url": None, "custom_data": None}
    writer.stage(ObjectKind.EVENTS, PIXEL, [*again, drifting])
    writer.stage(ObjectKind.EVENTS, PIXEL, again[10:])  # repeats across objects: emitted once
    writer.stage(ObjectKind.EVENTS, OTHER, [with_nulls])  # top-level nulls: the CDK leaves them out
    good = json.dumps(
        sample_event(rng, PIXEL, 1_764_000_300, 97) | {"received_at": f"{ARRIVAL:%Y-%m-%dT%H:%M:%S}.000000Z"}
    )
    wrong_type = json.dumps(sample_event(rng, PIXEL, 1, 96) | {"event_time": "yesterday"})
    store.put_if_absent(_corrupt_key(1), gzip.compress(f"{good}\n{{broken\n{wrong_type}\n".encode()))
    store.put_if_absent(_corrupt_key(2), b"not gzip at all")


def _read(tmp_path: Path, staging: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    config = {
        "pixels": [{"pixel_id": PIXEL, "ad_account_id": "act_7"}, {"pixel_id": OTHER, "event_types": ["Purchase"]}],
        "staging": {**staging, **overrides},
    }
    streams = ["delivered_events", "delivery_statuses", "dead_letters"]
    catalog = {
        "streams": [
            {
                "stream": {"name": name, "json_schema": {}, "supported_sync_modes": ["full_refresh", "incremental"]},
                "sync_mode": "incremental",
                "destination_sync_mode": "append",
            }
            for name in streams
        ]
    }
    config_path, catalog_path = tmp_path / "config.json", tmp_path / "catalog.json"
    config_path.write_text(json.dumps(config))
    catalog_path.write_text(json.dumps(catalog))
    done = subprocess.run(
        [str(CLI), "read", "--config", str(config_path), "--catalog", str(catalog_path)],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    messages = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    records = sorted(
        json.dumps({"stream": m["record"]["stream"], "data": m["record"]["data"]}, sort_keys=True)
        for m in messages
        if m["type"] == "RECORD"
    )
    raw_lines = sorted(
        line.rsplit(',"emitted_at":', 1)[0] for line in done.stdout.splitlines() if line.startswith('{"type":"RECORD"')
    )
    final_states = {
        m["state"]["stream"]["stream_descriptor"]["name"]: m["state"]["stream"]["stream_state"]
        for m in messages
        if m["type"] == "STATE"
    }
    summary = next(
        (m["log"]["message"] for m in messages if m["type"] == "LOG" and "sync_summary" in m["log"]["message"]), None
    )
    errors = [m["trace"]["error"] for m in messages if m["type"] == "TRACE" and m["trace"]["type"] == "ERROR"]
    # What the platform checks (STATE sourceStats.recordCount, summed per stream) and what the
    # CDK logs at the end of each stream, against the RECORD lines actually written.
    written: Counter[str] = Counter(m["record"]["stream"] for m in messages if m["type"] == "RECORD")
    stated: Counter[str] = Counter()
    for m in messages:
        if m["type"] == "STATE":
            stated[m["state"]["stream"]["stream_descriptor"]["name"]] += int(m["state"]["sourceStats"]["recordCount"])
    logged = {
        found.group(2): int(found.group(1))
        for m in messages
        if m["type"] == "LOG" and (found := re.fullmatch(r"Read (\d+) records from (\w+) stream", m["log"]["message"]))
    }
    return {
        "counts": {"written": dict(written), "stated": dict(stated), "logged": {k: v for k, v in logged.items() if v}},
        "records": records,
        "raw_lines": raw_lines,
        "final_states": final_states,
        "summary": json.loads(summary) if summary else None,
        "errors": errors,
        "returncode": done.returncode,
    }


def test_decoder_processes_write_the_same_records_state_and_summary_as_the_in_thread_path(
    tmp_path: Path, staging: dict[str, Any]
) -> None:
    _stage_everything(_store(staging))
    runs = {n: _read(tmp_path, staging, on_corrupt_object="warn", decode_processes=n) for n in (0, 1, 2)}
    baseline = runs[0]
    assert baseline["returncode"] == 0 and not baseline["errors"]
    streams = baseline["summary"]["streams"]
    assert streams["delivered_events"]["repeats_dropped"] == 20
    assert streams["delivered_events"]["corrupt"] == 3 and streams["delivered_events"]["filtered_by_event_type"] > 0
    assert baseline["summary"]["schema_drift"]
    assert any('"custom_data"' not in line and '"pixel_id":"2222222222"' in line for line in baseline["raw_lines"])
    for n in (0, 1, 2):
        counts = runs[n]["counts"]
        assert counts["written"] == counts["stated"] == counts["logged"], f"decode_processes={n}: {counts}"
    for n in (1, 2):
        assert runs[n]["returncode"] == 0 and not runs[n]["errors"]
        # Same data; the bytes may differ in whitespace only (a staged line is passed on as written).
        assert runs[n]["records"] == baseline["records"], f"decode_processes={n} wrote different records"
        assert runs[n]["final_states"] == baseline["final_states"]
        assert runs[n]["summary"] == baseline["summary"]


def test_corrupt_data_fails_the_sync_with_the_same_actionable_error_from_a_decoder_process(
    tmp_path: Path, staging: dict[str, Any]
) -> None:
    _stage_everything(_store(staging))
    for n in (0, 1):
        run = _read(tmp_path, staging, decode_processes=n)
        assert run["returncode"] != 0
        messages = [e["message"] for e in run["errors"]]
        assert any(_corrupt_key(1) in m and "line 2" in m and "on_corrupt_object" in m for m in messages), messages
        assert all(e["failure_type"] == "config_error" for e in run["errors"] if _corrupt_key(1) in e["message"])

"""The main job on the embedded default (`make demo`).

Stages a realistic sample of events, delivery statuses and dead letters into a local folder with
the project's own staging writer, then runs the real connector (`source-meta-capi discover` and
`read`, twice: a first sync and an incremental one) and prints what was synced.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / ".demo"
BUCKET = DEMO / "bucket"
CLI = str(Path(sys.executable).parent / "source-meta-capi")
PIXELS = ["1234567890123456", "9876543210987654"]


def run(*args: str) -> list[dict]:
    completed = subprocess.run([CLI, *args], capture_output=True, text=True, check=False)
    messages = [json.loads(line) for line in completed.stdout.splitlines() if line.startswith("{")]
    for message in messages:
        if message["type"] == "TRACE" and message["trace"]["type"] == "ERROR":
            print("ERROR:", message["trace"]["error"]["message"], file=sys.stderr)
            sys.exit(1)
    if completed.returncode != 0:
        print(completed.stderr[-2000:], file=sys.stderr)
        sys.exit(completed.returncode)
    return messages


def main() -> None:
    from source_meta_capi.sample_data import stage_sample
    from source_meta_capi.staging.store import open_store
    from source_meta_capi.staging.writer import StagingWriter

    shutil.rmtree(DEMO, ignore_errors=True)
    BUCKET.mkdir(parents=True)
    # Stamp the sample a few minutes in the past so it is older than the settle time and an
    # incremental sync takes it (late writers are only trusted after settle_seconds).
    writer = StagingWriter(open_store(str(BUCKET)), clock=lambda: datetime.now(timezone.utc) - timedelta(minutes=5))
    staged = stage_sample(writer, PIXELS)
    print(
        f"staged {staged.events} events, {staged.statuses} delivery statuses, {staged.dead_letters} dead letters "
        f"in {staged.objects} objects under {BUCKET.relative_to(ROOT)}/"
    )

    config = {
        "pixels": [{"pixel_id": PIXELS[0], "ad_account_id": "act_1234"}, {"pixel_id": PIXELS[1]}],
        "staging": {"bucket_url": BUCKET.as_uri(), "settle_seconds": 60},
    }
    (DEMO / "config.json").write_text(json.dumps(config, indent=2))
    check = [m for m in run("check", "--config", str(DEMO / "config.json")) if m["type"] == "CONNECTION_STATUS"]
    print("check:", check[0]["connectionStatus"]["status"])
    catalog = next(m for m in run("discover", "--config", str(DEMO / "config.json")) if m["type"] == "CATALOG")[
        "catalog"
    ]
    configured = {
        "streams": [
            {
                "stream": stream,
                "sync_mode": "incremental",
                "destination_sync_mode": "append_dedup",
                "cursor_field": stream.get("default_cursor_field", []),
                "primary_key": stream.get("source_defined_primary_key", []),
            }
            for stream in catalog["streams"]
        ]
    }
    (DEMO / "catalog.json").write_text(json.dumps(configured, indent=2))
    print("discovered streams:", ", ".join(s["name"] for s in catalog["streams"]))

    state_path = DEMO / "state.json"
    for sync in (1, 2):
        args = ["read", "--config", str(DEMO / "config.json"), "--catalog", str(DEMO / "catalog.json")]
        if state_path.exists():
            args += ["--state", str(state_path)]
        messages = run(*args)
        records = Counter(m["record"]["stream"] for m in messages if m["type"] == "RECORD")
        states = {}
        for message in messages:
            if message["type"] == "STATE":
                stream_state = message["state"]["stream"]
                states[stream_state["stream_descriptor"]["name"]] = message["state"]
        state_path.write_text(json.dumps(list(states.values())))
        print(f"\nsync {sync} ({'first' if sync == 1 else 'incremental, nothing new staged'}):")
        print(f"  {'stream':<20} {'records':>8}")
        for stream in ("delivered_events", "delivery_statuses", "dead_letters"):
            print(f"  {stream:<20} {records.get(stream, 0):>8}")
        if sync == 1:
            purchases = [
                m["record"]["data"]
                for m in messages
                if m["type"] == "RECORD"
                and m["record"]["stream"] == "delivered_events"
                and m["record"]["data"]["event_name"] == "Purchase"
            ]
            if purchases:
                sample = purchases[0]
                print(
                    f"  e.g. Purchase {sample['event_id']} of pixel {sample['pixel_id']}: value "
                    f"{sample['custom_data'].get('value')} {sample['custom_data'].get('currency')}, "
                    f"em={sample['user_data']['em'][0][:12]}… (hashed), received_at {sample['received_at']}"
                )
    print(
        f"\nconfig, catalog and state are in {DEMO.relative_to(ROOT)}/ — try:\n"
        f"  {Path(CLI).relative_to(ROOT)} read --config .demo/config.json --catalog .demo/catalog.json --state .demo/state.json"
    )


if __name__ == "__main__":
    main()

"""The main job on the embedded default (`make demo`): receiver → bucket → Meta → source.

1. Starts a Graph API stand-in on 127.0.0.1 (it answers like Meta's `POST /{pixel}/events`).
2. Starts the real receiver (`meta-capi-receiver serve`) on 127.0.0.1, staging to `.demo/bucket`.
3. Sends it signed sample traffic with the `standardwebhooks` library — raw user data, a few
   invalid events, a retried request, a forged signature — and shows the answers.
4. Stops the receiver, prints `meta-capi-receiver reconcile`, then runs the real connector
   (`source-meta-capi check`, `discover`, `read` twice: a first and an incremental sync).
"""

from __future__ import annotations

import base64
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import requests
from standardwebhooks import Webhook

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from integration_tests.support.graph_stand_in import GraphStandIn  # noqa: E402

DEMO = ROOT / ".demo"
BUCKET = DEMO / "bucket"
BIN = Path(sys.executable).parent
PIXELS = ["1234567890123456", "9876543210987654"]
FIRST = ["Mary", "José", "Zoë", "정", "Liam", "Amélie"]
LAST = ["Smith", "O'Brien-Smith", "Müller", "Nakamura"]
CITIES = [
    ("Menlo Park", "California", "94025-1234", "United States"),
    ("Berlin", "Berlin", "10115", "Germany"),
    ("London", "", "SW1A 1AA", "United Kingdom"),
]


def raw_event(rng: random.Random, index: int, now: int) -> dict[str, Any]:
    """A server event as a shop backend would mirror it: raw personal data, not hashed."""
    name = rng.choices(
        ["PageView", "ViewContent", "AddToCart", "InitiateCheckout", "Purchase", "Lead"], [40, 25, 15, 8, 8, 4]
    )[0]
    city, state, zip_code, country = rng.choice(CITIES)
    user = rng.randrange(1, 500)
    event: dict[str, Any] = {
        "event_name": name,
        "event_time": now - rng.randrange(5, 3600),
        "event_id": f"{name.lower()}-{index}",
        "action_source": "website",
        "event_source_url": f"https://shop.example.com/{name.lower()}",
        "user_data": {
            "em": f"  Customer{user}@Example.COM ",
            "ph": rng.choice(["(650) 555-1212", "+44 (0)20 7946 0958", "030 1234567"]),
            "fn": rng.choice(FIRST),
            "ln": rng.choice(LAST),
            "ct": city,
            "st": state,
            "zp": zip_code,
            "country": country,
            "external_id": f"user-{user}",
            "client_ip_address": f"2001:db8::{user:x}",
            "client_user_agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0",
            "fbp": f"fb.1.{now * 1000}.{user}",
        },
        "custom_data": {"content_ids": [f"SKU-{rng.randrange(50)}"], "content_type": "product"},
    }
    if name in ("Purchase", "InitiateCheckout", "AddToCart"):
        event["custom_data"].update({"currency": "USD", "value": round(rng.uniform(5, 300), 2), "num_items": 1})
        if name == "Purchase":
            event["event_id"] = f"order-{10000 + index}"
            event["custom_data"]["order_id"] = str(10000 + index)
            # Personal data that does not belong in custom_data: the receiver strips it.
            event["custom_data"]["email"] = f"customer{user}@example.com"
    return event


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def post(
    url: str, webhook: Webhook, body: dict[str, Any], msg_id: str | None = None
) -> tuple[requests.Response, dict[str, str]]:
    payload = json.dumps(body)
    msg_id = msg_id or f"msg_{secrets.token_hex(8)}"
    headers = {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(time.time())),
        "webhook-signature": webhook.sign(msg_id, datetime.now(timezone.utc), payload),
    }
    return requests.post(url, data=payload.encode(), headers=headers, timeout=30), headers


def run_cli(*args: str) -> list[dict[str, Any]]:
    completed = subprocess.run([str(BIN / "source-meta-capi"), *args], capture_output=True, text=True, check=False)
    messages = [json.loads(line) for line in completed.stdout.splitlines() if line.startswith("{")]
    for message in messages:
        if message["type"] == "TRACE" and message["trace"]["type"] == "ERROR":
            sys.exit(f"ERROR: {message['trace']['error']['message']}")
    if completed.returncode != 0:
        sys.exit(completed.stderr[-2000:])
    return messages


def main() -> None:
    shutil.rmtree(DEMO, ignore_errors=True)
    BUCKET.mkdir(parents=True)
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    token = "EAAB-demo-" + secrets.token_hex(8)
    rng = random.Random(2026)
    now = int(time.time())

    with GraphStandIn(access_token=token, pixels=tuple(PIXELS)) as meta:
        port = free_port()
        env = {
            **os.environ,
            "META_CAPI_STAGING_URL": str(BUCKET),
            "META_CAPI_WEBHOOK_SECRETS": secret,
            "META_CAPI_ACCESS_TOKENS": ",".join(f"{p}={token}" for p in PIXELS),
            "META_CAPI_GRAPH_BASE_URL": meta.base_url,
            # Forward before answering, so every request's delivery status exists when we sync.
            "META_CAPI_FORWARD_MODE": "inline",
            "META_CAPI_HOST": "127.0.0.1",
            "META_CAPI_PORT": str(port),
            "META_CAPI_LOG_LEVEL": "WARNING",
        }
        log = (DEMO / "receiver.log").open("w")
        receiver = subprocess.Popen([str(BIN / "meta-capi-receiver"), "serve"], env=env, stdout=log, stderr=log)
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(100):
                try:
                    if requests.get(f"{base}/readyz", timeout=1).ok:
                        break
                except requests.ConnectionError:
                    time.sleep(0.1)
            print(
                f"receiver listening on {base}, staging to {BUCKET.relative_to(ROOT)}/, forwarding to a Graph API stand-in"
            )
            webhook = Webhook(secret)
            answers: Counter[int] = Counter()
            accepted = rejected = 0
            reasons: Counter[str] = Counter()
            index = 0
            retried_body: dict[str, Any] = {}
            retried_id = ""
            for request_number in range(24):
                pixel = PIXELS[request_number % 2]
                batch = [raw_event(rng, index + i, now) for i in range(rng.randrange(1, 30))]
                index += len(batch)
                if request_number % 8 == 3:
                    batch[0]["event_time"] = now - 9 * 86400  # Meta rejects events older than 7 days
                if request_number % 8 == 5:
                    batch[-1]["event_name"] = "Purchase"
                    batch[-1]["custom_data"].pop("value", None)  # Purchase needs value + currency
                body = {"data": batch, "partner_agent": "demoshop_1_0"}
                response, headers = post(f"{base}/v1/pixels/{pixel}/events", webhook, body)
                answers[response.status_code] += 1
                result = response.json()
                accepted += result.get("events_accepted", 0)
                rejected += result.get("events_rejected", 0)
                for rejection in result.get("rejections", []):
                    reasons[rejection.get("field") or "?"] += 1
                if request_number == 0:
                    retried_body, retried_id = body, headers["webhook-id"]
                    print(f"first answer: {response.status_code} {json.dumps(result)[:160]}…")
            retry, _ = post(f"{base}/v1/pixels/{PIXELS[0]}/events", webhook, retried_body, msg_id=retried_id)
            print(
                f"retry of the first request (same webhook-id): {retry.status_code}, same event ids "
                "(staged again; the source emits each event identity once)"
            )
            forged = requests.post(
                f"{base}/v1/pixels/{PIXELS[0]}/events",
                data=b'{"data": []}',
                headers={"webhook-id": "msg_x", "webhook-timestamp": str(now), "webhook-signature": "v1,Zm9yZ2Vk"},
                timeout=10,
            )
            print(f"forged signature: {forged.status_code} {forged.json()['error']['message']}")
            print(
                f"sent 24 signed requests: answers {dict(answers)}; {accepted} events accepted, {rejected} rejected "
                f"(returned to the caller and dead-lettered; reasons by field: {dict(reasons)}); the Meta stand-in received "
                f"{len(meta.received_event_ids())} events"
            )
            metrics = requests.get(f"{base}/metrics", timeout=10).text
            wanted = tuple(
                f"meta_capi_receiver_{name}_total"
                for name in (
                    "events_received",
                    "events_staged",
                    "events_forwarded",
                    "signature_failures",
                    "dead_letters",
                )
            )
            shown = [line for line in metrics.splitlines() if line.startswith(wanted)]
            if shown:
                print("metrics:\n  " + "\n  ".join(shown[:8]))
        finally:
            receiver.send_signal(signal.SIGTERM)
            receiver.wait(timeout=30)
            log.close()

    reconcile = subprocess.run(
        [str(BIN / "meta-capi-receiver"), "reconcile", "--format", "table"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    print("\nmeta-capi-receiver reconcile (per pixel and hour):")
    print("  " + "\n  ".join(reconcile.stdout.strip().splitlines()[:8]))

    # The receiver has stopped, so no writer can still commit: settle_seconds can be 0 here. A
    # live deployment keeps the default (120 s) — see docs/staging-format.md.
    config = {
        "pixels": [{"pixel_id": PIXELS[0], "ad_account_id": "act_1234"}, {"pixel_id": PIXELS[1]}],
        "staging": {"bucket_url": BUCKET.as_uri(), "settle_seconds": 0},
    }
    (DEMO / "config.json").write_text(json.dumps(config, indent=2))
    status = next(
        m for m in run_cli("check", "--config", str(DEMO / "config.json")) if m["type"] == "CONNECTION_STATUS"
    )
    print("\nsource-meta-capi check:", status["connectionStatus"]["status"])
    catalog = next(m for m in run_cli("discover", "--config", str(DEMO / "config.json")) if m["type"] == "CATALOG")[
        "catalog"
    ]
    configured = {
        "streams": [
            {
                "stream": s,
                "sync_mode": "incremental",
                "destination_sync_mode": "append_dedup",
                "cursor_field": s.get("default_cursor_field", []),
                "primary_key": s.get("source_defined_primary_key", []),
            }
            for s in catalog["streams"]
        ]
    }
    (DEMO / "catalog.json").write_text(json.dumps(configured, indent=2))
    state_path = DEMO / "state.json"
    for sync in (1, 2):
        args = ["read", "--config", str(DEMO / "config.json"), "--catalog", str(DEMO / "catalog.json")]
        if state_path.exists():
            args += ["--state", str(state_path)]
        messages = run_cli(*args)
        records = [m["record"] for m in messages if m["type"] == "RECORD"]
        counts = Counter(r["stream"] for r in records)
        states = {
            m["state"]["stream"]["stream_descriptor"]["name"]: m["state"] for m in messages if m["type"] == "STATE"
        }
        state_path.write_text(json.dumps(list(states.values())))
        print(f"\nsync {sync} ({'first' if sync == 1 else 'incremental: nothing new'}):")
        for stream in ("delivered_events", "delivery_statuses", "dead_letters"):
            print(f"  {stream:<18} {counts.get(stream, 0):>5} records")
        if sync == 1:
            purchase = next(
                (
                    r["data"]
                    for r in records
                    if r["stream"] == "delivered_events" and r["data"]["event_name"] == "Purchase"
                ),
                None,
            )
            if purchase:
                print(
                    f"  e.g. {purchase['event_id']}: value {purchase['custom_data'].get('value')} "
                    f"{purchase['custom_data'].get('currency')}, em {purchase['user_data']['em'][0][:16]}… (SHA-256), "
                    f"custom_data.email stripped: {'email' not in purchase['custom_data']}"
                )
            status_record = next((r["data"] for r in records if r["stream"] == "delivery_statuses"), None)
            if status_record:
                print(
                    f"  e.g. batch {status_record['batch_id']}: HTTP {status_record.get('http_status')}, "
                    f"events_received {status_record.get('events_received')}, fbtrace_id {status_record.get('fbtrace_id')}"
                )
            letter = next((r["data"] for r in records if r["stream"] == "dead_letters"), None)
            if letter:
                print(f"  e.g. dead letter {letter.get('event_id')}: {letter.get('reason')}")
    print(f"\nconfig, catalog, state and the receiver's JSON log are in {DEMO.relative_to(ROOT)}/")
    print(f"raw personal data found in the bucket or the receiver log: {scan_for_raw_personal_data()} (expected 0)")
    show_reconciliation()


def show_reconciliation() -> None:
    """The mission in one screen (issue 11): the dbt package's reconciliation of what was just sent.

    PyAirbyte syncs the same bucket into a DuckDB cache, a Graph stand-in serves the pull streams,
    a source-facebook-marketing-shaped spend fixture joins them, and dbt builds the package
    (scripts/demo_reconciliation.py; needs `make pyairbyte dbt`, which `make demo` runs).
    """
    from scripts.demo_reconciliation import reconciliation_lines

    for line in reconciliation_lines(BIN / "source-meta-capi", DEMO, BUCKET, PIXELS):
        print(line)


def scan_for_raw_personal_data() -> int:
    """Count raw values of the sample's personal data in every staged object and the log."""
    import gzip

    needles = [b"@example.com", b"@Example.COM", b"650) 555", b"7946 0958", b"Menlo Park", b"O'Brien", b"user-"]
    needles += [name.encode() for name in FIRST + LAST]
    found = 0
    for path in [*BUCKET.rglob("*.jsonl.gz"), DEMO / "receiver.log"]:
        data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        found += sum(data.count(needle) for needle in needles)
    return found


if __name__ == "__main__":
    main()

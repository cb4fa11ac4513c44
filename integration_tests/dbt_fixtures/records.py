"""Known-answer records for the meta_capi dbt package, in both connectors' shapes.

Two ad accounts, every KPI of which is computed by hand below and in expected_*.csv:

- act_111 (Asia/Tokyo, UTC+9, JPY), pixel 1111111111111111. A Tokyo day D runs from
  D-1 15:00 UTC to D 15:00 UTC.
- act_222 (America/New_York, UTC-5 in November, USD), pixel 2222222222222222. A New York day D
  runs from D 05:00 UTC to D+1 05:00 UTC.

Events of pixel 1111111111111111 (act_111):
  E1 Purchase order-1  2026-11-19 23:30 UTC = 11-20 08:30 Tokyo (the time-zone edge: UTC day
     11-19, account day 11-20)  5000 JPY  batch b1: delivered
  E2 Purchase order-2  2026-11-20 03:00 UTC  3000 JPY  batch b1: delivered; synced TWICE (duplicate)
  E3 Purchase order-3  2026-11-20 05:00 UTC  20 USD (not the account currency)  batch b2: attempt 1
     rejected (Meta refused the batch), attempt 2 (split) delivered -> accepted
  E4 Purchase order-4  2026-11-20 06:00 UTC  7000 JPY  batch b2: attempt 1 rejected, dead letter
     meta_rejected -> rejected
  E5 Purchase order-5  2026-11-20 07:00 UTC  1000 JPY  test_event_code TEST123, batch b3: delivered
     -> excluded from every KPI, counted in test_events
  E6 Lead lead-1       2026-11-20 08:00 UTC  batch b4: attempt 1 retrying -> pending
  E7 Lead lead-2       2026-11-20 09:00 UTC  batch b5: attempt 1 retrying, attempt 2 delivered
  E8 Purchase order-8  2026-11-19 14:30 UTC = 11-19 23:30 Tokyo  2000 JPY  batch b6: retrying,
     then gave_up; dead letter forwarding -> failed
  D1 intake dead letter: Purchase order-9, 2026-11-20 10:00 UTC (no ad_account_id on the
     record: resolved through the pixels stream)

Events of pixel 2222222222222222 (act_222):
  F1 Purchase order-21 2026-11-21 02:00 UTC = 11-20 21:00 New York  100.01 USD  delivered
     (not exact in a 4-byte float: the known answers catch money held in one)
  F2 Purchase order-22 2026-11-20 15:00 UTC  50.50 "usd" (lower case)  delivered
  F3 AddToCart atc-1   2026-11-20 16:00 UTC  20.00 USD  delivered

Meta counted (pixel_stats, aggregation event, hourly UTC buckets):
  pixel 1111: 11-19 23:00 Purchase 1, 11-20 03:00 Purchase 2 then RESTATED to 1 (latest
  extraction wins), 11-20 05:00 Purchase 1, 11-20 09:00 Lead 1; an event_source bucket (ignored).
  -> act_111 11-20: Purchase 3, Lead 1.
  pixel 2222: 11-21 02:00 Purchase 1, 11-20 15:00 Purchase 1, 11-20 16:00 AddToCart 1
  -> act_222 11-20: Purchase 2, AddToCart 1.

Spend and attribution (ads_insights, level ad; windows 7d_click + 1d_view):
  act_111 11-20: ad A1 spend 6000 (first extracted at 5500, restated to 6000), ad A2 4000
    -> spend 10000 JPY.
    Purchase: A1 7d_click 3 + 1d_view 1 = 4, A2 7d_click 1 + 1d_view 0 = 1 -> 5
      (1d_click and 28d_click are not in the windows and never added).
    Purchase value: A1 9000 + 3000 = 12000, A2 2500 -> 14500.
    Lead: A1 7d_click 1 + 1d_view 0 -> 1; no lead value -> 0. link_click is not a pixel action.
  act_111 11-19: ad A1 spend 3000, no conversions.
  act_222 11-20: ad B1 spend 80.00 USD. Purchase 2 + 1 = 3, value 150.50 + 30.00 = 180.50;
    AddToCart 1 + 0 = 1, value 20.00.
  act_222 11-21: ad B1 spend 25.00, no conversions on either side -> '(no conversions)'.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

P1, P2 = "1111111111111111", "2222222222222222"
EM = ["f1904cc7a4bd6a4a5b50b0c2b8d10d2eaf7e2a6b1e4d2c3b4a5968778695a4b3"]


def epoch(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())


def at(iso: str, seconds: int = 0) -> str:
    return datetime.fromtimestamp(epoch(iso) + seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event(
    pixel: str,
    account: str | None,
    name: str,
    event_id: str,
    iso: str,
    batch: str,
    index: int,
    value: float | None = None,
    currency: str | None = None,
    test: str | None = None,
) -> dict[str, Any]:
    custom: dict[str, Any] = {"content_type": "product", "content_ids": ["SKU-1"]}
    if value is not None:
        custom.update({"value": value, "currency": currency})
    if name == "Purchase":
        custom["order_id"] = event_id.removeprefix("order-")
    return {
        "pixel_id": pixel,
        "ad_account_id": account,
        "event_id": event_id,
        "event_time": epoch(iso),
        "event_name": name,
        "action_source": "website",
        "event_source_url": f"https://shop.example.com/{name.lower()}",
        "user_data": {"em": EM, "client_ip_address": "2001:db8::1", "client_user_agent": "Mozilla/5.0"},
        "custom_data": custom,
        "received_at": at(iso, 5),
        "batch_id": batch,
        "event_index": index,
        "request_id": f"req-{batch}",
        "signature_status": "verified",
        "test_event_code": test,
        "partner_agent": "shop_1_0",
        "normalization_warnings": [],
        "schema_version": 1,
        "_staged_object": f"events/pixel_id={pixel}/date={iso[:10]}/hour={iso[11:13]}/{batch}.jsonl.gz",
    }


def status(
    pixel: str, account: str, batch: str, attempt: int, iso: str, outcome: str, ids: list[str], test: str | None = None
) -> dict[str, Any]:
    ok = outcome == "delivered"
    return {
        "pixel_id": pixel,
        "ad_account_id": account,
        "batch_id": batch,
        "attempt": attempt,
        "recorded_at": at(iso, 60 * attempt),
        "started_at": at(iso, 60 * attempt - 1),
        "outcome": outcome,
        "event_ids": ids,
        "event_count": len(ids),
        "http_status": 200 if ok else (400 if outcome == "rejected" else 503),
        "events_received": len(ids) if ok else None,
        "messages": [],
        "fbtrace_id": f"trace-{batch}-{attempt}",
        "error_code": None if ok else (100 if outcome == "rejected" else 2),
        "error_subcode": 2804003 if outcome == "rejected" else None,
        "error_message": None if ok else "fixture",
        "error_class": None if ok else ("permanent" if outcome == "rejected" else "transient"),
        "retryable": outcome == "retrying",
        "next_retry_at": at(iso, 60 * attempt + 30) if outcome == "retrying" else None,
        "duration_ms": 120.5,
        "test_event_code": test,
        "api_version": "v26.0",
        "schema_version": 1,
        "_staged_object": f"statuses/pixel_id={pixel}/{batch}-{attempt}.jsonl.gz",
    }


def letter(
    letter_id: str,
    pixel: str,
    account: str | None,
    stage: str,
    iso: str,
    name: str,
    event_id: str,
    batch: str,
    reason: str,
) -> dict[str, Any]:
    return {
        "dead_letter_id": letter_id,
        "pixel_id": pixel,
        "ad_account_id": account,
        "recorded_at": at(iso, 600),
        "stage": stage,
        "reason": reason,
        "field": "custom_data.value" if stage == "intake" else None,
        "error_code": 100 if stage == "meta_rejected" else None,
        "batch_id": batch,
        "event_id": event_id,
        "event_index": 0,
        "event_name": name,
        "event_time": epoch(iso),
        "replayable": stage == "forwarding",
        "attempts": 0 if stage == "intake" else 2,
        "event": None,
        "request_id": f"req-{batch}",
        "schema_version": 1,
        "_staged_object": f"dead_letters/pixel_id={pixel}/{letter_id}.jsonl.gz",
    }


A1, A2 = "act_111", "act_222"

DELIVERED_EVENTS = [
    event(P1, A1, "Purchase", "order-1", "2026-11-19T23:30:00Z", "b1", 0, 5000, "JPY"),
    event(P1, A1, "Purchase", "order-2", "2026-11-20T03:00:00Z", "b1", 1, 3000, "JPY"),
    event(P1, A1, "Purchase", "order-3", "2026-11-20T05:00:00Z", "b2", 0, 20, "USD"),
    event(P1, A1, "Purchase", "order-4", "2026-11-20T06:00:00Z", "b2", 1, 7000, "JPY"),
    event(P1, A1, "Purchase", "order-5", "2026-11-20T07:00:00Z", "b3", 0, 1000, "JPY", test="TEST123"),
    event(P1, A1, "Lead", "lead-1", "2026-11-20T08:00:00Z", "b4", 0),
    event(P1, A1, "Lead", "lead-2", "2026-11-20T09:00:00Z", "b5", 0),
    event(P1, A1, "Purchase", "order-8", "2026-11-19T14:30:00Z", "b6", 0, 2000, "JPY"),
    event(P2, A2, "Purchase", "order-21", "2026-11-21T02:00:00Z", "c1", 0, 100.01, "USD"),
    event(P2, A2, "Purchase", "order-22", "2026-11-20T15:00:00Z", "c2", 0, 50.5, "usd"),
    event(P2, A2, "AddToCart", "atc-1", "2026-11-20T16:00:00Z", "c3", 0, 20.0, "USD"),
]
# The duplicate: order-2 synced a second time (an append sync; a reset), extracted later.
DUPLICATES = {"delivered_events": [1]}

DELIVERY_STATUSES = [
    status(P1, A1, "b1", 1, "2026-11-20T03:00:00Z", "delivered", ["order-1", "order-2"]),
    status(P1, A1, "b2", 1, "2026-11-20T06:00:00Z", "rejected", ["order-3", "order-4"]),
    status(P1, A1, "b2", 2, "2026-11-20T06:00:00Z", "delivered", ["order-3"]),
    status(P1, A1, "b3", 1, "2026-11-20T07:00:00Z", "delivered", ["order-5"], test="TEST123"),
    status(P1, A1, "b4", 1, "2026-11-20T08:00:00Z", "retrying", ["lead-1"]),
    status(P1, A1, "b5", 1, "2026-11-20T09:00:00Z", "retrying", ["lead-2"]),
    status(P1, A1, "b5", 2, "2026-11-20T09:00:00Z", "delivered", ["lead-2"]),
    status(P1, A1, "b6", 1, "2026-11-19T14:30:00Z", "retrying", ["order-8"]),
    status(P1, A1, "b6", 2, "2026-11-19T14:30:00Z", "gave_up", ["order-8"]),
    status(P2, A2, "c1", 1, "2026-11-21T02:00:00Z", "delivered", ["order-21"]),
    status(P2, A2, "c2", 1, "2026-11-20T15:00:00Z", "delivered", ["order-22"]),
    status(P2, A2, "c3", 1, "2026-11-20T16:00:00Z", "delivered", ["atc-1"]),
]

DEAD_LETTERS = [
    letter(
        "dl-4", P1, A1, "meta_rejected", "2026-11-20T06:00:00Z", "Purchase", "order-4", "b2", "(#100) Invalid parameter"
    ),
    letter("dl-8", P1, A1, "forwarding", "2026-11-19T14:30:00Z", "Purchase", "order-8", "b6", "retry budget exhausted"),
    letter(
        "dl-9",
        P1,
        None,
        "intake",
        "2026-11-20T10:00:00Z",
        "Purchase",
        "order-9",
        "b7",
        "custom_data.value: Purchase needs value and currency",
    ),
]

PIXELS = [
    {
        "id": P1,
        "pixel_id": P1,
        "ad_account_id": A1,
        "name": "Tokyo shop",
        "creation_time": "2025-01-01T00:00:00Z",
        "last_fired_time": "2026-11-20T10:00:00Z",
        "is_unavailable": False,
        "owner_ad_account": {"id": A1, "account_id": "111"},
    },
    {
        "id": P2,
        "pixel_id": P2,
        "ad_account_id": A2,
        "name": "New York shop",
        "creation_time": "2025-01-01T00:00:00Z",
        "last_fired_time": "2026-11-21T02:00:00Z",
        "is_unavailable": False,
        "owner_ad_account": {"id": A2, "account_id": "222"},
    },
]


def stat(pixel: str, account: str, iso: str, value: str, count: int, aggregation: str = "event") -> dict[str, Any]:
    return {
        "pixel_id": pixel,
        "ad_account_id": account,
        "aggregation": aggregation,
        "start_time": iso,
        "value": value,
        "count": count,
        "event": None,
        "diagnostics_hourly_last_timestamp": None,
    }


PIXEL_STATS = [
    stat(P1, A1, "2026-11-19T23:00:00Z", "Purchase", 1),
    stat(P1, A1, "2026-11-20T03:00:00Z", "Purchase", 2),  # restated below, extracted later
    stat(P1, A1, "2026-11-20T05:00:00Z", "Purchase", 1),
    stat(P1, A1, "2026-11-20T09:00:00Z", "Lead", 1),
    stat(P1, A1, "2026-11-20T03:00:00Z", "SERVER", 7, aggregation="event_source"),
    stat(P2, A2, "2026-11-21T02:00:00Z", "Purchase", 1),
    stat(P2, A2, "2026-11-20T15:00:00Z", "Purchase", 1),
    stat(P2, A2, "2026-11-20T16:00:00Z", "AddToCart", 1),
]
RESTATED = {"pixel_stats": [(1, {"count": 1})]}


def quality(pixel: str, account: str, day: str, name: str, score: float) -> dict[str, Any]:
    return {
        "pixel_id": pixel,
        "ad_account_id": account,
        "snapshot_date": day,
        "event_name": name,
        "event_match_quality": {
            "composite_score": score,
            "match_key_feedback": [{"identifier": "email", "coverage": {"percentage": 100}}],
            "diagnostics": [],
        },
        "event_coverage": {"percentage": 34.1, "goal_percentage": 75, "description": "fixture"},
        "dedupe_key_feedback": [],
        "data_freshness": {"upload_frequency": "real_time", "description": "fixture"},
        "acr": {"percentage": 37.9, "description": "fixture"},
    }


DATASET_QUALITY = [
    quality(P1, A1, "2026-11-19", "Purchase", 6.0),
    quality(P1, A1, "2026-11-20", "Purchase", 7.2),
]

# ---- source-facebook-marketing ------------------------------------------------------------------


def action(kind: str, **windows: float) -> dict[str, Any]:
    # The connector requests action_attribution_windows; `value` is the total under the ad set's
    # attribution setting, each window key its own count.
    item: dict[str, Any] = {"action_type": kind, "value": sum(windows.get(w, 0) for w in ("7d_click", "1d_view"))}
    item.update(windows)
    return item


def insight(
    account_digits: str,
    currency: str,
    day: str,
    ad: str,
    spend: float,
    actions: list[dict[str, Any]],
    values: list[dict[str, Any]],
) -> dict[str, Any]:
    return {
        "account_id": account_digits,
        "account_name": f"Account {account_digits}",
        "account_currency": currency,
        "campaign_id": f"c{ad}",
        "adset_id": f"s{ad}",
        "ad_id": ad,
        "ad_name": f"Ad {ad}",
        "date_start": day,
        "date_stop": day,
        "spend": spend,
        "impressions": 1000,
        "clicks": 40,
        "actions": actions,
        "action_values": values,
        "attribution_setting": "7d_click_1d_view",
        "objective": "OUTCOME_SALES",
        "created_time": "2026-11-01",
        "updated_time": day,
    }


PURCHASE, LEAD, ATC = (
    "offsite_conversion.fb_pixel_purchase",
    "offsite_conversion.fb_pixel_lead",
    "offsite_conversion.fb_pixel_add_to_cart",
)

ADS_INSIGHTS = [
    insight(
        "111",
        "JPY",
        "2026-11-20",
        "1001",
        5500,  # restated below to 6000
        [
            action(PURCHASE, **{"1d_click": 2, "7d_click": 3, "1d_view": 1, "28d_click": 5}),
            action(LEAD, **{"7d_click": 1, "1d_view": 0}),
            {"action_type": "link_click", "value": 40, "7d_click": 40},
        ],
        [action(PURCHASE, **{"1d_click": 6000, "7d_click": 9000, "1d_view": 3000, "28d_click": 15000})],
    ),
    insight(
        "111",
        "JPY",
        "2026-11-20",
        "1002",
        4000,
        [action(PURCHASE, **{"7d_click": 1, "1d_view": 0})],
        [action(PURCHASE, **{"7d_click": 2500, "1d_view": 0})],
    ),
    insight("111", "JPY", "2026-11-19", "1001", 3000, [], []),
    insight(
        "222",
        "USD",
        "2026-11-20",
        "2001",
        80.0,
        [
            action(PURCHASE, **{"1d_click": 1, "7d_click": 2, "1d_view": 1}),
            action(ATC, **{"7d_click": 1, "1d_view": 0}),
        ],
        [action(PURCHASE, **{"7d_click": 150.5, "1d_view": 30.0}), action(ATC, **{"7d_click": 20.0})],
    ),
    insight("222", "USD", "2026-11-21", "2001", 25.0, [], []),
]
RESTATED["ads_insights"] = [(0, {"spend": 6000})]

AD_ACCOUNT = [
    {
        "id": "act_111",
        "account_id": "111",
        "name": "Tokyo shop",
        "currency": "JPY",
        "timezone_name": "Asia/Tokyo",
        "timezone_offset_hours_utc": 9,
        "account_status": 1,
    },
    {
        "id": "act_222",
        "account_id": "222",
        "name": "New York shop",
        "currency": "USD",
        "timezone_name": "America/New_York",
        "timezone_offset_hours_utc": -5,
        "account_status": 1,
    },
]

META_CAPI_STREAMS = {
    "delivered_events": DELIVERED_EVENTS,
    "delivery_statuses": DELIVERY_STATUSES,
    "dead_letters": DEAD_LETTERS,
    "pixels": PIXELS,
    "pixel_stats": PIXEL_STATS,
    "dataset_quality": DATASET_QUALITY,
}
FACEBOOK_MARKETING_STREAMS = {"ads_insights": ADS_INSIGHTS, "ad_account": AD_ACCOUNT}


def synced_rows(stream: str, records: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """(extracted_at, record) as the destination holds them: every record from a first sync at
    2026-11-21 06:00 UTC, then the duplicates and restatements from a second sync an hour later."""
    first, second = "2026-11-21T06:00:00Z", "2026-11-21T07:00:00Z"
    rows = [(first, record) for record in records]
    rows += [(second, dict(records[i])) for i in DUPLICATES.get(stream, [])]
    rows += [(second, {**records[i], **changes}) for i, changes in RESTATED.get(stream, [])]
    return rows

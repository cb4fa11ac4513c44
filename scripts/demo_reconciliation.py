"""`make demo`'s last screen: the meta_capi dbt package's reconciliation on what the demo sent.

After the demo's syncs, PyAirbyte (.venv-pyairbyte) syncs the same bucket with our source into a
DuckDB cache (.demo/warehouse.duckdb): the push streams first; then a Graph API stand-in serves
pixel stats (counting the events the demo's Meta stand-in accepted), pixel nodes and dataset
quality, and PyAirbyte syncs the pull streams into the same cache. A source-facebook-marketing
shaped spend fixture (ads_insights, ad_account) for the demo's two ad accounts joins it, written
in PyAirbyte's layout (cache_layout.py), consistent with the traffic: the same ad accounts, time
zones, days and events. Then `dbt build` (.venv-dbt) and the reconciliation table.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from integration_tests.dbt_fixtures import harness
from integration_tests.support.graph_stand_in import GraphStandIn

ROOT = Path(__file__).resolve().parent.parent
PYAIRBYTE_PYTHON = ROOT / ".venv-pyairbyte" / "bin" / "python"
# The demo's two pixels, each with an ad account in its own time zone (not UTC).
ACCOUNTS = {
    "act_1234": {"timezone": "America/Los_Angeles", "currency": "USD", "daily_spend": 180.0},
    "act_5678": {"timezone": "Asia/Tokyo", "currency": "USD", "daily_spend": 95.0},
}
ACTION_TYPES = {
    "Purchase": "offsite_conversion.fb_pixel_purchase",
    "AddToCart": "offsite_conversion.fb_pixel_add_to_cart",
    "InitiateCheckout": "offsite_conversion.fb_pixel_initiate_checkout",
    "Lead": "offsite_conversion.fb_pixel_lead",
    "ViewContent": "offsite_conversion.fb_pixel_view_content",
}
SYNC = """
import json, sys
import airbyte as ab
source = ab.get_source("source-meta-capi", local_executable=sys.argv[1], config=json.load(open(sys.argv[2])))
source.select_all_streams()
source.read(cache=ab.DuckDBCache(db_path=sys.argv[3], schema_name="meta_capi"))
"""


def pyairbyte_sync(cli: Path, config: dict[str, Any], demo: Path, db: Path) -> None:
    path = demo / "pyairbyte-config.json"
    path.write_text(json.dumps(config))
    env = {**os.environ, "AIRBYTE_OFFLINE_MODE": "1", "DO_NOT_TRACK": "1", "AIRBYTE_NO_UI": "1"}
    completed = subprocess.run(
        [str(PYAIRBYTE_PYTHON), "-c", SYNC, str(cli), str(path), str(db)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=demo,
        check=False,
    )
    if completed.returncode != 0:
        raise SystemExit(f"PyAirbyte sync failed:\n{completed.stdout[-1500:]}\n{completed.stderr[-3000:]}")


def accepted_events(db: Path) -> list[dict[str, Any]]:
    """The events a `delivered` status lists: what the demo's Meta stand-in accepted."""
    return harness.query(
        db,
        """
        select distinct e.pixel_id, e.event_id, e.ad_account_id, e.event_name, e.event_time,
               cast(json_extract_string(e.custom_data, '$.value') as double) as value
        from meta_capi.delivered_events e
        join (select pixel_id, unnest(cast(event_ids as varchar[])) as event_id
              from meta_capi.delivery_statuses where outcome = 'delivered') s
          on e.pixel_id = s.pixel_id and e.event_id = s.event_id
        where coalesce(e.test_event_code, '') = ''
        """,
    )


def graph_stats(events: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Hourly `event` buckets per pixel, as Meta's /stats returns them."""
    hours: dict[str, Counter[tuple[str, str]]] = defaultdict(Counter)
    for event in events:
        hour = datetime.fromtimestamp(event["event_time"], timezone.utc).strftime("%Y-%m-%dT%H:00:00+0000")
        hours[event["pixel_id"]][(hour, event["event_name"])] += 1
    buckets: dict[str, list[dict[str, Any]]] = {}
    for pixel, counts in hours.items():
        by_hour: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for (hour, name), count in sorted(counts.items()):
            by_hour[hour].append({"value": name, "count": count})
        buckets[pixel] = [{"start_time": hour, "data": data} for hour, data in sorted(by_hour.items())]
    return buckets


def facebook_marketing_records(events: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """ads_insights (one ad per account and day) and ad_account rows consistent with the traffic:
    spend on every account day that has events; Meta attributes about 60 % click + 15 % view of
    what was accepted (rounded), with 80 % of its value."""
    days: dict[tuple[str, str], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for event in events:
        account = ACCOUNTS[event["ad_account_id"]]
        day = datetime.fromtimestamp(event["event_time"], ZoneInfo(account["timezone"])).date().isoformat()
        days[(event["ad_account_id"], day)][event["event_name"]].append(event["value"] or 0.0)
    insights = []
    for (account_id, day), by_event in sorted(days.items()):
        actions, values = [], []
        for name, amounts in sorted(by_event.items()):
            if name not in ACTION_TYPES:
                continue
            clicks, views = round(0.6 * len(amounts)), round(0.15 * len(amounts))
            actions.append(
                {
                    "action_type": ACTION_TYPES[name],
                    "value": clicks + views,
                    "7d_click": clicks,
                    "1d_view": views,
                    "1d_click": clicks,
                }
            )
            total = round(0.8 * sum(amounts), 2)
            if total:
                values.append(
                    {
                        "action_type": ACTION_TYPES[name],
                        "value": total,
                        "7d_click": round(total * 0.8, 2),
                        "1d_view": round(total * 0.2, 2),
                    }
                )
        digits = account_id.removeprefix("act_")
        insights.append(
            {
                "account_id": digits,
                "account_name": f"Demo {digits}",
                "account_currency": ACCOUNTS[account_id]["currency"],
                "campaign_id": f"{digits}01",
                "adset_id": f"{digits}0101",
                "ad_id": f"{digits}010101",
                "date_start": day,
                "date_stop": day,
                "spend": ACCOUNTS[account_id]["daily_spend"],
                "impressions": 12000,
                "clicks": 300,
                "actions": actions,
                "action_values": values,
            }
        )
    accounts = [
        {
            "id": account_id,
            "account_id": account_id.removeprefix("act_"),
            "name": f"Demo {account_id}",
            "currency": spec["currency"],
            "timezone_name": spec["timezone"],
        }
        for account_id, spec in ACCOUNTS.items()
    ]
    return {"ads_insights": insights, "ad_account": accounts}


def reconciliation_lines(cli: Path, demo: Path, bucket: Path, pixels: list[str]) -> list[str]:
    """Sync, build, and the reconciliation table as lines to print (demo.py prints them)."""
    if not (PYAIRBYTE_PYTHON.exists() and harness.DBT.exists()):
        return ["", "(reconciliation skipped: run `make pyairbyte dbt` first)"]
    lines: list[str] = []
    db = demo / "warehouse.duckdb"
    db.unlink(missing_ok=True)
    mapped = [{"pixel_id": pixel, "ad_account_id": account} for pixel, account in zip(pixels, ACCOUNTS, strict=True)]
    pyairbyte_sync(cli, {"pixels": mapped, "staging": {"bucket_url": bucket.as_uri(), "settle_seconds": 0}}, demo, db)
    events = accepted_events(db)
    token = "EAAB-demo-reads"
    with GraphStandIn(access_token=token, pixels=tuple(pixels)) as graph:
        for pixel in pixels:
            graph.add_pixel(pixel, name=f"Demo pixel {pixel[-4:]}")
        for pixel, buckets in graph_stats(events).items():
            graph.add_stats(pixel, "event", buckets)
        for pixel in pixels:
            graph.set_dataset_quality(
                pixel,
                [
                    {
                        "event_name": "Purchase",
                        "event_match_quality": {"composite_score": 7.8},
                        "event_coverage": {"percentage": 81.0, "goal_percentage": 75},
                    },
                ],
            )
        pull = {
            "pixels": mapped,
            "credentials": {"auth_type": "access_token", "access_token": token},
            "graph_api": {"base_url": graph.base_url, "stats_aggregations": ["event"]},
            "start_date": (datetime.now(timezone.utc) - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        pyairbyte_sync(cli, pull, demo, db)
    schema_dir = harness.facebook_marketing_schema_dir()
    harness.load_tables(
        db,
        [
            {
                "schema": "facebook_marketing",
                "name": stream,
                "json_schema": harness.facebook_marketing_schema(stream, schema_dir),
                "rows": [(datetime.now(timezone.utc).isoformat(), row) for row in rows],
            }
            for stream, rows in facebook_marketing_records(events).items()
        ],
    )
    scratch = demo / "dbt"
    scratch.mkdir(exist_ok=True)
    profiles = harness.write_profiles(scratch, db)
    variables = {"meta_capi_schema": "meta_capi", "facebook_marketing_schema": "facebook_marketing"}
    build = harness.run_dbt(harness.PACKAGE, scratch, profiles, "build", "--vars", json.dumps(variables))
    if build.returncode != 0:
        raise SystemExit(f"dbt build failed:\n{build.stdout[-4000:]}")
    done = next((line for line in build.stdout.splitlines() if "PASS=" in line), "").split("Done. ")[-1]
    rows = harness.query(
        db,
        """
        select ad_account_id, event_date, event_name, spend, attributed_conversions, events_sent, events_accepted,
               events_counted, events_dead_lettered_intake, roas_attributed, roas_server, status
        from analytics.meta_capi__reconciliation
        order by ad_account_id, event_date, event_name""",
    )
    lines.append(
        f"\nreconciliation (dbt package transformations/meta_capi on PyAirbyte's DuckDB cache {db.relative_to(ROOT)};"
        f" dbt build: {done}):"
    )
    header = (
        "ad account",
        "day",
        "event",
        "spend",
        "attrib.",
        "sent",
        "accepted",
        "counted",
        "intake DLQ",
        "ROAS meta",
        "ROAS server",
        "status",
    )
    widths = (9, 10, 16, 7, 7, 5, 8, 7, 10, 9, 11, 0)
    lines.append(
        "  "
        + " ".join(
            h.ljust(w) if i < 3 else h.rjust(w) for i, (h, w) in enumerate(zip(header, widths, strict=True))
        ).rstrip()
    )

    def cell(value: Any, width: int, digits: int = 0) -> str:
        text = (
            "-" if value is None else (f"{float(value):.{digits}f}" if isinstance(value, (int, float)) else str(value))
        )
        return text.rjust(width)

    for row in rows:
        lines.append(
            "  "
            + " ".join(
                [
                    row["ad_account_id"].ljust(9),
                    str(row["event_date"]).ljust(10),
                    row["event_name"][:16].ljust(16),
                    cell(row["spend"], 7, 2),
                    cell(row["attributed_conversions"], 7),
                    cell(row["events_sent"], 5),
                    cell(row["events_accepted"], 8),
                    cell(row["events_counted"], 7),
                    cell(row["events_dead_lettered_intake"], 10),
                    cell(row["roas_attributed"], 9, 2),
                    cell(row["roas_server"], 11, 2),
                    " " + row["status"],
                ]
            )
        )
    lines.append(
        "  days are each ad account's own (America/Los_Angeles, Asia/Tokyo); spend is the account-day's, "
        "repeated per event; see docs/reconciliation.md"
    )
    return lines

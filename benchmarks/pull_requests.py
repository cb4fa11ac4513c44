"""Item 6: Graph API requests of a pull-mode sync (30 days, 3 pixels, 4 aggregations) against
the minimum, counted by the Graph API stand-in (a real HTTP server on 127.0.0.1 that records
every request)."""

from __future__ import annotations

import json
import math
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks.bench_types import Row
from benchmarks.measure import median, run_counted
from integration_tests.support.graph_stand_in import DATASET_QUALITY, PIXEL, STATS, GraphStandIn

TOKEN = "EAAB-bench-token-0123456789abcdef"
APP_SECRET = "bench-app-secret"
PIXELS = ("1111111111", "2222222222", "3333333333")
AGGREGATIONS = ("event", "event_source", "event_processing_results", "match_keys")
DAYS = 30
# The connector's reading of Meta's stats reference: one request covers at most 7 days, and
# one page holds up to 168 hourly buckets (see manifest.yaml).
WINDOW = timedelta(days=7)
VENV_BIN = Path(sys.executable).parent


def _stand_in(now: datetime) -> GraphStandIn:
    graph = GraphStandIn(access_token=TOKEN, app_secret=APP_SECRET, pixels=PIXELS)
    for pixel_id in PIXELS:
        graph.add_pixel(pixel_id, name=f"Pixel {pixel_id}", last_fired_time=f"{now:%Y-%m-%dT%H:%M:%S+0000}")
        for aggregation in AGGREGATIONS:
            graph.add_hourly_stats(pixel_id, aggregation, now, DAYS * 24)
        graph.set_dataset_quality(
            pixel_id, [{"event_name": "Purchase", "event_match_quality": {"composite_score": 7.2}}]
        )
    return graph


def measure(work: Path, runs: int) -> list[Row]:
    """Run the pull sync `runs` times (fresh stand-in each time) and count requests per route."""
    work.mkdir(parents=True, exist_ok=True)
    catalog = work / "pull-catalog.json"
    catalog.write_text(
        json.dumps(
            {
                "streams": [
                    {
                        "stream": {
                            "name": name,
                            "json_schema": {},
                            "supported_sync_modes": ["full_refresh", "incremental"],
                        },
                        "sync_mode": "full_refresh" if name == "pixels" else "incremental",
                        "destination_sync_mode": "append",
                    }
                    for name in ("pixels", "pixel_stats", "dataset_quality")
                ]
            }
        )
    )
    made: list[Counter[str]] = []
    seconds: list[float] = []
    minimum: Counter[str] = Counter()
    records = 0
    problem = ""
    for _ in range(runs):
        now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        start = datetime.now(UTC) - timedelta(days=DAYS)
        config = work / "pull-config.json"
        with _stand_in(now) as graph:
            config.write_text(
                json.dumps(
                    {
                        "pixels": [{"pixel_id": p, "ad_account_id": "act_1"} for p in PIXELS],
                        "start_date": f"{start:%Y-%m-%dT%H:%M:%SZ}",
                        "credentials": {
                            "auth_type": "app_credentials",
                            "app_id": "42",
                            "app_secret": APP_SECRET,
                            "access_token": TOKEN,
                        },
                        "graph_api": {"base_url": graph.base_url, "api_version": "v26.0"},
                    }
                )
            )
            try:
                result = run_counted(
                    [str(VENV_BIN / "source-meta-capi"), "read", "--config", str(config), "--catalog", str(catalog)],
                    300,
                )
            except Exception as error:  # a broken pull mode is reported in the table, not fatal
                problem = str(error)[:300]
                break
            made.append(Counter(str(r.route) for r in graph.requests))
            seconds.append(result.seconds)
            records = result.records
            # Slices run from start_date floored to its hour to the sync's moment, ≤ 7 days each.
            span = datetime.now(UTC) - start.replace(minute=0, second=0, microsecond=0)
            slices = math.ceil(span / WINDOW)
            minimum = Counter(
                {PIXEL: len(PIXELS), STATS: len(PIXELS) * len(AGGREGATIONS) * slices, DATASET_QUALITY: len(PIXELS)}
            )
    what = f"pull sync, {DAYS} days × {len(PIXELS)} pixels × {len(AGGREGATIONS)} aggregations: Graph API requests"
    if not made:
        return [Row("6", what, None, "requests", 0, target="= minimum", note=f"TODO: pull sync failed: {problem}")]
    total = median([sum(c.values()) for c in made])
    least = sum(minimum.values())
    last = made[-1]
    detail = ", ".join(f"{route} {last[route]} (min {minimum[route]})" for route in (PIXEL, STATS, DATASET_QUALITY))
    extra = {route: n for route, n in last.items() if route not in minimum}
    return [
        Row(
            "6",
            what,
            total,
            "requests",
            len(made),
            "minimum",
            total / least,
            "= minimum (1.00×)",
            total == least,
            note=f"{detail}{', other ' + str(extra) if extra else ''}; {records:,} records in {median(seconds):.1f}s; minimum: "
            f"1 per pixel node, 1 per pixel × aggregation × 7-day window (≤168 hourly buckets = 1 page), 1 per dataset",
            samples=[float(sum(c.values())) for c in made],
        )
    ]

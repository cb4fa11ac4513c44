"""The meta_capi dbt package on what PyAirbyte really writes: our source (the console script)
reads the push streams of a bucket into PyAirbyte's DuckDB cache (.venv-pyairbyte), twice — a
first sync, then an append sync that lands a re-staged event a second time, as an append
destination would — then the pull streams and source-facebook-marketing fixtures join the same
file (cache_layout.py: PyAirbyte cannot reach the Graph API here), and `dbt build` must give the
same hand-computed answers as test_dbt_reconciliation.py. Fails, never skips, without
.venv-pyairbyte (`make pyairbyte`) or .venv-dbt (`make dbt`)."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from integration_tests.dbt_fixtures import harness, records
from integration_tests.dbt_fixtures.cache_layout import columns_of
from integration_tests.dbt_fixtures.schemas import meta_capi_schema
from integration_tests.support.pyairbyte import PYAIRBYTE_PYTHON, run_pyairbyte
from source_meta_capi.staging.keys import ObjectKind
from source_meta_capi.staging.open_store import open_store
from source_meta_capi.staging.writer import StagingWriter

ROOT = Path(__file__).resolve().parent.parent
CLI = Path(sys.executable).parent / "source-meta-capi"
# Fields the staging writer (cursor, schema version) and the source (ad account, object key) own.
OWNED = {"received_at", "recorded_at", "schema_version", "ad_account_id", "_staged_object"}
KINDS = {
    "delivered_events": ObjectKind.EVENTS,
    "delivery_statuses": ObjectKind.STATUSES,
    "dead_letters": ObjectKind.DEAD_LETTERS,
}

SYNC = """
import json, sys
import airbyte as ab
source = ab.get_source("source-meta-capi", local_executable=sys.argv[1], config=json.load(open(sys.argv[2])))
source.select_all_streams()
cache = ab.DuckDBCache(db_path=sys.argv[3], schema_name="meta_capi")
result = source.read(cache=cache, write_strategy=sys.argv[4])
print(json.dumps({name: len(list(dataset)) for name, dataset in result.streams.items()}))
"""


def stage(writer: StagingWriter, stream: str, rows: list[dict[str, Any]]) -> None:
    by_batch: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        key = (row["pixel_id"], row.get("batch_id") or row.get("dead_letter_id") or "")
        by_batch.setdefault(key, []).append({k: v for k, v in row.items() if k not in OWNED})
    for (pixel, _), batch in by_batch.items():
        writer.stage(KINDS[stream], pixel, batch)


def sync(config: Path, db: Path, strategy: str, home: Path) -> dict[str, int]:
    stdout = run_pyairbyte(SYNC, str(CLI), str(config), str(db), strategy, cwd=home, timeout=300, home=home)
    return dict(json.loads(stdout.strip().splitlines()[-1]))


def test_given_a_real_pyairbyte_cache_when_dbt_build_then_the_known_answers_hold(tmp_path: Path):
    assert PYAIRBYTE_PYTHON.exists(), "PyAirbyte's venv is missing: run `make pyairbyte`"
    harness.require_dbt_venv()
    bucket = tmp_path / "bucket"
    now = datetime.now(timezone.utc)
    clock = {"at": now - timedelta(hours=1)}
    writer = StagingWriter(open_store(str(bucket)), clock=lambda: clock["at"])
    for stream in KINDS:
        stage(writer, stream, records.META_CAPI_STREAMS[stream])
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {
                "pixels": [
                    {"pixel_id": records.P1, "ad_account_id": records.A1},
                    {"pixel_id": records.P2, "ad_account_id": records.A2},
                ],
                "staging": {"bucket_url": str(bucket), "settle_seconds": 0},
            }
        )
    )
    db = tmp_path / "warehouse.duckdb"
    first = sync(config, db, "auto", tmp_path)  # rows in the cache after each sync
    assert first == {"delivered_events": 11, "delivery_statuses": 12, "dead_letters": 3}
    # order-2 staged again (a retried request); an append sync lands it a second time.
    clock["at"] = now - timedelta(minutes=30)
    (duplicate,) = [records.DELIVERED_EVENTS[i] for i in records.DUPLICATES["delivered_events"]]
    stage(writer, "delivered_events", [duplicate])
    second = sync(config, db, "append", tmp_path)
    assert second["delivered_events"] == 12  # rows in the cache: 11 identities, order-2 twice

    pull = {stream: records.META_CAPI_STREAMS[stream] for stream in ("pixels", "pixel_stats", "dataset_quality")}
    harness.load_tables(
        db,
        [t for t in harness.meta_capi_tables("meta_capi") if t["name"] in pull]
        + harness.facebook_marketing_tables("facebook_marketing"),
    )
    harness.copy_package(tmp_path)
    profiles = harness.write_profiles(tmp_path, db)
    project = tmp_path / "meta_capi" / "integration_tests"
    deps = harness.run_dbt(project, tmp_path, profiles, "deps")
    assert deps.returncode == 0, deps.stdout[-3000:]
    build = harness.run_dbt(project, tmp_path, profiles, "build")
    assert build.returncode == 0, build.stdout[-6000:] + build.stderr[-2000:]
    for known in ("known_answer_reconciliation", "known_answer_delivery_daily", "known_answer_meta_counted_daily"):
        assert f"PASS {known} " in build.stdout, known
    # cache_layout.py (the other tests' loader) writes what PyAirbyte writes, column by column.
    layout = "select column_name, data_type from information_schema.columns where table_schema = 'meta_capi' and table_name = '{}' order by ordinal_position"
    for stream in KINDS:
        written = [(r["column_name"], r["data_type"]) for r in harness.query(db, layout.format(stream))]
        assert written == list(columns_of(meta_capi_schema(stream)).items()), stream

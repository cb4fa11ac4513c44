"""The meta_capi dbt package (transformations/meta_capi) on DuckDB, with dbt from .venv-dbt.

Fixtures in both connectors' shapes (integration_tests/dbt_fixtures/records.py, whose docstring
computes every expected number by hand) are loaded in PyAirbyte's DuckDB cache layout, then
`dbt build` runs the package's models, its schema tests and the known-answer tests of its test
project (transformations/meta_capi/integration_tests: expected_*.csv). Fails, never skips, when
.venv-dbt is missing (`make dbt`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from integration_tests.dbt_fixtures import harness, records
from integration_tests.dbt_fixtures.schemas import (
    facebook_marketing_schema,
    facebook_marketing_schema_dir,
    meta_capi_schema,
)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(scratch, db, profiles dir): the fixtures in a fresh DuckDB file, the package copied, deps installed."""
    harness.require_dbt_venv()
    scratch = tmp_path_factory.mktemp("dbt")
    db = scratch / "warehouse.duckdb"
    harness.load_tables(
        db, harness.meta_capi_tables("meta_capi") + harness.facebook_marketing_tables("facebook_marketing")
    )
    harness.copy_package(scratch)
    profiles = harness.write_profiles(scratch, db)
    deps = harness.run_dbt(scratch / "meta_capi" / "integration_tests", scratch, profiles, "deps")
    assert deps.returncode == 0, deps.stdout[-3000:] + deps.stderr[-2000:]
    return scratch, db, profiles


def assert_matches_schema(record: dict[str, Any], schema: dict[str, Any], where: str) -> None:
    jsonschema.Draft7Validator(schema).validate(record)
    undeclared = set(record) - set(schema["properties"])
    assert not undeclared, f"{where}: fields the stream does not declare: {sorted(undeclared)}"


def test_given_fixture_records_then_each_matches_its_connectors_stream_schema():
    harness.require_dbt_venv()
    for stream, rows in records.META_CAPI_STREAMS.items():
        schema = meta_capi_schema(stream)
        for _, record in records.synced_rows(stream, rows):
            assert_matches_schema(record, schema, f"source-meta-capi {stream}")
    # The real schemas of airbyte-source-facebook-marketing 6.1.9 (the wheel, in .venv-dbt).
    schema_dir = facebook_marketing_schema_dir()
    for stream, rows in records.FACEBOOK_MARKETING_STREAMS.items():
        schema = facebook_marketing_schema(stream, schema_dir)
        for _, record in records.synced_rows(stream, rows):
            assert_matches_schema(record, schema, f"source-facebook-marketing {stream}")


def test_given_both_connectors_when_dbt_build_then_models_schema_tests_and_known_answers_pass(
    loaded: tuple[Path, Path, Path],
):
    scratch, db, profiles = loaded
    build = harness.run_dbt(scratch / "meta_capi" / "integration_tests", scratch, profiles, "build")
    assert build.returncode == 0, build.stdout[-6000:] + build.stderr[-2000:]
    for known in ("known_answer_reconciliation", "known_answer_delivery_daily", "known_answer_meta_counted_daily"):
        assert f"PASS {known} " in build.stdout, known
    assert "ERROR=0" in build.stdout
    # The time-zone edge on its own: order-1 (2026-11-19 23:30 UTC) is on Tokyo's 2026-11-20.
    (fate,) = harness.query(
        db, "select event_date, fate from analytics.int_meta_capi__event_fates where event_id = 'order-1'"
    )
    assert fate == {"event_date": "2026-11-20", "fate": "accepted"}


@pytest.mark.parametrize(
    ("mode", "variables"),
    [
        ("push_only", {"meta_capi_pull_enabled": False, "facebook_marketing_enabled": False}),
        ("pull_only", {"meta_capi_push_enabled": False}),
    ],
)
def test_given_a_stream_group_disabled_when_dbt_build_then_models_build_on_what_is_there(
    loaded: tuple[Path, Path, Path], mode: str, variables: dict[str, bool]
):
    scratch, db, profiles = loaded
    vars_ = {**variables, "meta_capi_schema": "meta_capi", "facebook_marketing_schema": "facebook_marketing"}
    if mode == "push_only":
        # Without ad_account rows the time zones come from the vars (else UTC).
        vars_["meta_capi_account_timezones"] = {"act_111": "Asia/Tokyo", "act_222": "America/New_York"}
        vars_["meta_capi_account_currencies"] = {"act_111": "JPY", "act_222": "USD"}
    build = harness.run_dbt(
        scratch / "meta_capi",
        scratch,
        profiles,
        "build",
        "--vars",
        json.dumps(vars_),
        "--target-path",
        str(scratch / f"target_{mode}"),
    )
    assert build.returncode == 0, build.stdout[-6000:] + build.stderr[-2000:]
    rows = {
        (r["ad_account_id"], r["event_date"], r["event_name"]): r
        for r in harness.query(db, "select * from analytics.meta_capi__reconciliation")
    }
    purchase = rows[("act_111", "2026-11-20", "Purchase")]
    if mode == "push_only":
        # The same server-side answers; nothing counted or spent, and no gap flagged for it.
        assert (purchase["events_sent"], purchase["events_accepted"], purchase["server_value"]) == (4, 3, 15000)
        assert (purchase["events_counted"], purchase["spend"], purchase["attributed_conversions"]) == (0, 0, 0)
        assert purchase["status"] == "delivery_gap,currency_mismatch,intake_rejected"
    else:
        assert (purchase["events_sent"], purchase["events_counted"], purchase["spend"]) == (0, 3, 10000)
        assert purchase["attributed_conversions"] == 5
        assert purchase["status"] == "ok"

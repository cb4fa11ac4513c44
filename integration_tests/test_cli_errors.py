"""Errors a user can act on, through the console script as the platform runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

CLI = Path(sys.executable).parent / "source-meta-capi"
PIXEL = "1234567890123456"


def run_cli(*args: str, cwd: Path) -> tuple[int, list[dict[str, Any]]]:
    completed = subprocess.run([str(CLI), *args], capture_output=True, text=True, timeout=120, cwd=cwd, check=False)
    return completed.returncode, [json.loads(line) for line in completed.stdout.splitlines() if line.startswith("{")]


def _catalog(names: list[str]) -> dict[str, Any]:
    return {
        "streams": [
            {
                "stream": {
                    "name": name,
                    "json_schema": {"type": "object"},
                    "supported_sync_modes": ["full_refresh", "incremental"],
                },
                "sync_mode": "incremental",
                "destination_sync_mode": "append",
            }
            for name in names
        ]
    }


def test_given_a_missing_bucket_when_read_then_the_sync_fails_with_a_config_error(tmp_path: Path):
    missing = tmp_path / "no-such-bucket"
    (tmp_path / "config.json").write_text(
        json.dumps({"pixels": [{"pixel_id": PIXEL}], "staging": {"bucket_url": str(missing)}})
    )
    (tmp_path / "catalog.json").write_text(json.dumps(_catalog(["delivered_events", "dead_letters"])))

    code, messages = run_cli("read", "--config", "config.json", "--catalog", "catalog.json", cwd=tmp_path)

    assert code != 0
    assert not [m for m in messages if m["type"] == "RECORD"]
    errors = [m["trace"]["error"] for m in messages if m["type"] == "TRACE" and m["trace"]["type"] == "ERROR"]
    assert errors, messages
    assert errors[-1]["failure_type"] == "config_error"
    assert str(missing) in errors[-1]["message"] and "does not exist" in errors[-1]["message"]
    # The same bucket fails `check` with the same cause.
    _, checked = run_cli("check", "--config", "config.json", cwd=tmp_path)
    (status,) = [m["connectionStatus"] for m in checked if m["type"] == "CONNECTION_STATUS"]
    assert status["status"] == "FAILED" and str(missing) in status["message"]


def test_given_a_config_with_the_deprecated_custom_data_map_when_run_then_it_is_upgraded_and_persisted(
    tmp_path: Path,
):
    bucket = tmp_path / "bucket"
    bucket.mkdir()
    config = {
        "pixels": [{"pixel_id": PIXEL, "custom_data_properties": {"coupon_code": "string"}}],
        "staging": {"bucket_url": str(bucket)},
    }
    (tmp_path / "config.json").write_text(json.dumps(config))

    code, messages = run_cli("discover", "--config", "config.json", cwd=tmp_path)

    assert code == 0
    upgraded = [{"name": "coupon_code", "type": "string"}]
    (control,) = [m["control"] for m in messages if m["type"] == "CONTROL"]
    assert control["connectorConfig"]["config"]["pixels"][0]["custom_data_properties"] == upgraded
    assert json.loads((tmp_path / "config.json").read_text())["pixels"][0]["custom_data_properties"] == upgraded
    (catalog,) = [m["catalog"] for m in messages if m["type"] == "CATALOG"]
    events = next(s for s in catalog["streams"] if s["name"] == "delivered_events")
    assert events["json_schema"]["properties"]["custom_data"]["properties"]["coupon_code"] == {
        "type": ["null", "string"]
    }

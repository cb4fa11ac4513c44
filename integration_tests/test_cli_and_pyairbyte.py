"""The connector as users run it: the console script (the Docker image's entrypoint) and PyAirbyte,
on the local default and on S3 (moto's server on 127.0.0.1)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml

from integration_tests.support.s3 import s3_staging_config
from source_meta_capi.staging.open_store import open_store, s3_options_from_mapping
from source_meta_capi.staging.sample_data import stage_sample
from source_meta_capi.staging.writer import StagingWriter

ROOT = Path(__file__).resolve().parent.parent
CLI = Path(sys.executable).parent / "source-meta-capi"
PYAIRBYTE_PYTHON = ROOT / ".venv-pyairbyte" / "bin" / "python"
PIXELS = ["1234567890123456", "9876543210987654"]


def cli(*args: str, cwd: Path | None = None) -> list[dict[str, Any]]:
    completed = subprocess.run([str(CLI), *args], capture_output=True, text=True, timeout=120, cwd=cwd, check=False)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return [json.loads(line) for line in completed.stdout.splitlines() if line.startswith("{")]


def of_type(messages: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [m for m in messages if m["type"] == kind]


@pytest.fixture(params=["local", "s3"])
def staged_config(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    if request.param == "local":
        staging: dict[str, Any] = {"bucket_url": str(tmp_path / "bucket")}
    else:
        staging = s3_staging_config(request.getfixturevalue("s3_bucket"), request.getfixturevalue("moto_endpoint"))
    store = open_store(staging["bucket_url"], s3_options_from_mapping(staging))
    writer = StagingWriter(store, clock=lambda: datetime.now(timezone.utc) - timedelta(hours=1))
    stage_sample(writer, PIXELS, batches_per_pixel=2, events_per_batch=10)
    config = {"pixels": [{"pixel_id": p} for p in PIXELS], "staging": staging}
    (tmp_path / "config.json").write_text(json.dumps(config))
    return config


def test_spec_prints_exactly_spec_yaml():
    (spec,) = of_type(cli("spec"), "SPEC")
    expected = yaml.safe_load((ROOT / "spec.yaml").read_text())
    assert spec["spec"]["connectionSpecification"] == expected["connectionSpecification"]
    assert spec["spec"]["documentationUrl"] == expected["documentationUrl"]


def test_every_secret_in_spec_is_marked_airbyte_secret():
    spec = yaml.safe_load((ROOT / "spec.yaml").read_text())
    secrets: list[str] = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                is_secret_field = isinstance(value, dict) and re.search(r"secret|token|password", key)
                if is_secret_field and value.get("type") == "string" and not value.get("airbyte_secret"):
                    secrets.append(f"{path}.{key}")
                walk(value, f"{path}.{key}")
        elif isinstance(node, list):
            for item in node:
                walk(item, path)

    walk(spec, "")
    assert secrets == []


def test_dockerfile_entrypoint_is_the_console_script_and_runs():
    dockerfile = (ROOT / "Dockerfile").read_text()
    (entrypoint,) = re.findall(r'^ENTRYPOINT \["([^"]+)"\]', dockerfile, re.M)
    assert f'AIRBYTE_ENTRYPOINT="{entrypoint}"' in dockerfile
    assert re.search(r"^USER airbyte$", dockerfile, re.M), "connector images run as a non-root user"
    assert "ARG BASE_IMAGE=" in dockerfile
    metadata = yaml.safe_load((ROOT / "metadata.yaml").read_text())["data"]
    assert metadata["connectorBuildOptions"]["baseImage"] in dockerfile
    resolved = shutil.which(entrypoint, path=str(CLI.parent))
    assert resolved is not None
    (spec,) = of_type(cli("spec"), "SPEC")
    assert spec["spec"]["connectionSpecification"]["title"]


def test_wheel_ships_manifest_spec_and_schemas(tmp_path: Path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in (
        "source_meta_capi/spec.yaml",
        "source_meta_capi/manifest.yaml",
        "source_meta_capi/schemas/delivered_events.json",
    ):
        assert required in names
    packaged_spec = zipfile.ZipFile(wheel).read("source_meta_capi/spec.yaml").decode()
    assert packaged_spec == (ROOT / "spec.yaml").read_text()


def test_cli_check_discover_read_with_state(staged_config: dict[str, Any], tmp_path: Path):
    config_path = str(tmp_path / "config.json")
    (status,) = of_type(cli("check", "--config", config_path), "CONNECTION_STATUS")
    assert status["connectionStatus"]["status"] == "SUCCEEDED"
    (catalog,) = of_type(cli("discover", "--config", config_path), "CATALOG")
    streams = catalog["catalog"]["streams"]
    assert {s["name"] for s in streams} == {"delivered_events", "delivery_statuses", "dead_letters"}
    configured = {
        "streams": [
            {
                "stream": s,
                "sync_mode": "incremental",
                "destination_sync_mode": "append_dedup",
                "cursor_field": s["default_cursor_field"],
            }
            for s in streams
        ]
    }
    (tmp_path / "catalog.json").write_text(json.dumps(configured))
    first = cli("read", "--config", config_path, "--catalog", str(tmp_path / "catalog.json"))
    assert len([m for m in of_type(first, "RECORD") if m["record"]["stream"] == "delivered_events"]) == 40
    states = {m["state"]["stream"]["stream_descriptor"]["name"]: m["state"] for m in of_type(first, "STATE")}
    (tmp_path / "state.json").write_text(json.dumps(list(states.values())))
    second = cli(
        "read",
        "--config",
        config_path,
        "--catalog",
        str(tmp_path / "catalog.json"),
        "--state",
        str(tmp_path / "state.json"),
    )
    assert of_type(second, "RECORD") == []


@pytest.mark.skipif(not PYAIRBYTE_PYTHON.exists(), reason="PyAirbyte's venv is made by `make test` (make pyairbyte)")
def test_pyairbyte_reads_every_push_stream(staged_config: dict[str, Any], tmp_path: Path):
    script = """
import json, sys
import airbyte as ab
source = ab.get_source("source-meta-capi", local_executable=sys.argv[1], config=json.load(open(sys.argv[2])))
source.check()
source.select_all_streams()
result = source.read(cache=ab.new_local_cache(cache_name="t", cache_dir=sys.argv[3]))
print(json.dumps({name: len(list(dataset)) for name, dataset in result.streams.items()}))
"""
    env = {**os.environ, "AIRBYTE_OFFLINE_MODE": "1", "DO_NOT_TRACK": "1", "AIRBYTE_NO_UI": "1", "HOME": str(tmp_path)}
    completed = subprocess.run(
        [str(PYAIRBYTE_PYTHON), "-c", script, str(CLI), str(tmp_path / "config.json"), str(tmp_path / "cache")],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-3000:]
    counts = json.loads(completed.stdout.strip().splitlines()[-1])
    assert counts == {"delivered_events": 40, "delivery_statuses": 4, "dead_letters": 2}

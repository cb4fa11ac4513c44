"""The receiver's server stack is the `receiver` extra: the source runs without importing it, the
console script says how to install it when it is missing, and the pins the Lambda package and the
receiver image install cover it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from datetime import datetime, timedelta, timezone
from pathlib import Path

from source_meta_capi.staging.local_store import LocalFolderStore
from source_meta_capi.staging.sample_data import stage_sample
from source_meta_capi.staging.writer import StagingWriter

ROOT = Path(__file__).resolve().parents[2]
# What only the receiver imports (the pyproject extra, by import name).
SERVER_STACK = ("starlette", "uvicorn", "mangum", "prometheus_client", "phonenumbers", "pycountry")
PIXEL = "1234567890123456"

_BLOCK_EXTRA = """
import importlib.abc, sys
BLOCKED = {blocked!r}
class _Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None
sys.meta_path.insert(0, _Absent())
"""


def _python(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=180, cwd=cwd, check=False
    )


def test_given_push_streams_when_source_runs_spec_discover_read_then_server_stack_not_imported(
    tmp_path: Path,
) -> None:
    bucket = tmp_path / "bucket"
    store = LocalFolderStore(str(bucket))
    store.ensure_exists()
    writer = StagingWriter(store, clock=lambda: datetime.now(timezone.utc) - timedelta(hours=1))
    stage_sample(writer, [PIXEL], batches_per_pixel=1, events_per_batch=5)
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"pixels": [{"pixel_id": PIXEL}], "staging": {"bucket_url": str(bucket)}}))
    stream = {"name": "delivered_events", "json_schema": {}, "supported_sync_modes": ["full_refresh", "incremental"]}
    catalog = tmp_path / "catalog.json"
    catalog.write_text(
        json.dumps({"streams": [{"stream": stream, "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"}]})
    )
    loaded = tmp_path / "loaded.json"
    # The server stack is made unimportable, as without the extra; the source must not notice.
    code = _BLOCK_EXTRA.format(blocked=SERVER_STACK) + (
        "import json\n"
        "from source_meta_capi.run import run\n"
        "run(['spec'])\n"
        f"run(['discover', '--config', {str(config)!r}])\n"
        f"run(['read', '--config', {str(config)!r}, '--catalog', {str(catalog)!r}])\n"
        "loaded = sorted({m.split('.')[0] for m in sys.modules} & set(BLOCKED))\n"
        f"open({str(loaded)!r}, 'w').write(json.dumps(loaded))\n"
    )
    completed = _python(code, tmp_path)
    assert completed.returncode == 0, completed.stderr[-3000:]
    messages = [json.loads(line) for line in completed.stdout.splitlines() if line.startswith("{")]
    kinds = [message["type"] for message in messages]
    assert "SPEC" in kinds and "CATALOG" in kinds, completed.stdout[-3000:]
    assert kinds.count("RECORD") == 5, completed.stdout[-3000:]
    assert json.loads(loaded.read_text()) == []


def test_given_receiver_extra_missing_when_console_script_runs_then_one_line_install_hint(tmp_path: Path) -> None:
    code = _BLOCK_EXTRA.format(blocked=("starlette", "uvicorn")) + (
        "from source_meta_capi.receiver.cli import main\nsys.exit(main(['serve']))\n"
    )
    completed = _python(code, tmp_path)
    assert completed.returncode == 1
    assert completed.stdout == ""
    (line,) = completed.stderr.splitlines()
    assert "pip install 'airbyte-source-meta-capi[receiver]'" in line and "starlette, uvicorn" in line


def test_given_receiver_extra_when_pinned_for_lambda_and_image_then_every_package_is_pinned() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extra = {_name(requirement) for requirement in project["optional-dependencies"]["receiver"]}
    pinned = {
        _name(line)
        for path in ("receiver-requirements.txt", "receiver-server-requirements.txt")
        for line in (ROOT / "deploy" / path).read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert extra <= pinned, f"pin these for the Lambda package / receiver image: {sorted(extra - pinned)}"
    core = {_name(requirement) for requirement in project["dependencies"]}
    assert not core & {"starlette", "uvicorn", "mangum", "prometheus-client", "phonenumbers", "pycountry"}


def _name(requirement: str) -> str:
    return re.split(r"[\[<>=!~;\s]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")

"""Run the meta_capi dbt package the way its tests and `make demo` do: a copy of the package in a
scratch folder (nothing written to the source tree), a generated profiles.yml for DuckDB, dbt from
.venv-dbt (`make dbt`)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from integration_tests.dbt_fixtures import records
from integration_tests.dbt_fixtures.schemas import (
    DBT_PYTHON,
    ROOT,
    facebook_marketing_schema,
    facebook_marketing_schema_dir,
    meta_capi_schema,
)

PACKAGE = ROOT / "transformations" / "meta_capi"
DBT = ROOT / ".venv-dbt" / "bin" / "dbt"
CACHE_LAYOUT = Path(__file__).with_name("cache_layout.py")


def require_dbt_venv() -> None:
    """Fail (never skip) when .venv-dbt is missing: `make dbt` makes it."""
    if not DBT.exists():
        raise AssertionError(f"{DBT} is missing: run `make dbt` (the package's own venv)")


def load_tables(db: Path, tables: list[dict[str, Any]]) -> None:
    """Write tables in PyAirbyte's DuckDB cache layout (cache_layout.py, run by .venv-dbt's duckdb)."""
    spec = db.with_suffix(".load.json")
    spec.write_text(json.dumps({"db": str(db), "tables": tables}))
    completed = subprocess.run(
        [str(DBT_PYTHON), str(CACHE_LAYOUT), str(spec)], capture_output=True, text=True, timeout=300, check=False
    )
    assert completed.returncode == 0, completed.stderr[-3000:]


def meta_capi_tables(schema: str) -> list[dict[str, Any]]:
    return [
        {
            "schema": schema,
            "name": stream,
            "json_schema": meta_capi_schema(stream),
            "rows": records.synced_rows(stream, rows),
        }
        for stream, rows in records.META_CAPI_STREAMS.items()
    ]


def facebook_marketing_tables(
    schema: str, streams: dict[str, list[dict[str, Any]]] | None = None
) -> list[dict[str, Any]]:
    schema_dir = facebook_marketing_schema_dir()
    return [
        {
            "schema": schema,
            "name": stream,
            "json_schema": facebook_marketing_schema(stream, schema_dir),
            "rows": records.synced_rows(stream, rows),
        }
        for stream, rows in (streams or records.FACEBOOK_MARKETING_STREAMS).items()
    ]


def copy_package(scratch: Path) -> Path:
    """The package (with its integration_tests project) copied to `scratch`; returns the copy."""
    target = scratch / "meta_capi"
    shutil.copytree(
        PACKAGE, target, ignore=shutil.ignore_patterns("target", "dbt_packages", "logs", "package-lock.yml")
    )
    return target


def write_profiles(scratch: Path, db: Path, schema: str = "analytics") -> Path:
    profiles = scratch / "profiles"
    profiles.mkdir(exist_ok=True)
    body = "".join(
        f"{name}:\n  target: duckdb\n  outputs:\n    duckdb:\n      type: duckdb\n      path: '{db}'\n"
        f"      schema: {schema}\n      threads: 1\n"
        for name in ("meta_capi", "meta_capi_integration_tests")
    )
    (profiles / "profiles.yml").write_text(body)
    return profiles


def run_dbt(
    project: Path, scratch: Path, profiles: Path, *args: str, timeout: int = 600
) -> subprocess.CompletedProcess[str]:
    """dbt with every path it writes (target, logs, packages) under `scratch`."""
    env = {
        **os.environ,
        "DBT_PACKAGES_INSTALL_PATH": str(scratch / "dbt_packages"),
        "DBT_TARGET_PATH": str(scratch / "target"),
        "DBT_LOG_PATH": str(scratch / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DO_NOT_TRACK": "1",
    }
    command = [str(DBT), *args, "--project-dir", str(project), "--profiles-dir", str(profiles)]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env, cwd=scratch, check=False)


def query(db: Path, sql: str) -> list[dict[str, Any]]:
    """Rows of `sql` on the DuckDB file `db`, read with .venv-dbt's duckdb (the test venv has none)."""
    script = (
        "import duckdb, json, sys\n"
        "c = duckdb.connect(sys.argv[1], read_only=True)\n"
        "cur = c.execute(sys.argv[2])\n"
        "names = [d[0] for d in cur.description]\n"
        "print(json.dumps([dict(zip(names, row)) for row in cur.fetchall()], default=str))\n"
    )
    completed = subprocess.run(
        [str(DBT_PYTHON), "-c", script, str(db), sql], capture_output=True, text=True, timeout=120, check=False
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return list(json.loads(completed.stdout))

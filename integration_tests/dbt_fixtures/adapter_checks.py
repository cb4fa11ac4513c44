"""Manual checks of the package's non-DuckDB macros (not in `make test`: they need adapters and a
Postgres server that the project does not install). What was run for issue 11:

    python3.11 -m venv /tmp/dbt-adapters
    /tmp/dbt-adapters/bin/pip install dbt-core==1.11.16 dbt-postgres dbt-bigquery dbt-snowflake \
        dbt-redshift sqlglot jsonschema
    apt-get install postgresql    # then initdb + pg_ctl start on 127.0.0.1:55432, trust auth
    /tmp/dbt-adapters/bin/python -m integration_tests.dbt_fixtures.adapter_checks postgres 55432
    /tmp/dbt-adapters/bin/python -m integration_tests.dbt_fixtures.adapter_checks compile

`postgres`: the fixtures in Airbyte destination-postgres' layout (jsonb for objects and arrays,
timestamptz, numeric, `_airbyte_*` columns), then `dbt build` of the test project: the same
known answers as on DuckDB. `compile`: `dbt compile --no-populate-cache` (no connection) for
BigQuery, Snowflake and Redshift, with every stream group on and off, and each compiled file
parsed by sqlglot in that dialect. sqlglot is lenient: this catches broken syntax, not a
function a warehouse lacks.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

from integration_tests.dbt_fixtures import harness

DBT = Path(sys.executable).parent / "dbt"


def _env(scratch: Path, target: str) -> dict[str, str]:
    return {
        **os.environ,
        "DBT_PACKAGES_INSTALL_PATH": str(scratch / "dbt_packages"),
        "DBT_TARGET_PATH": str(scratch / target),
        "DBT_LOG_PATH": str(scratch / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }


def _postgres_type(prop: dict[str, Any]) -> str:
    kind = prop.get("type")
    if isinstance(kind, list):
        non_null = [k for k in kind if k != "null"]
        kind = non_null[0] if len(non_null) == 1 else None
    if kind == "string":
        return {"date": "date", "date-time": "timestamptz"}.get(prop.get("format", ""), "varchar")
    return {"integer": "bigint", "number": "numeric", "boolean": "boolean"}.get(kind or "", "jsonb")


def postgres(port: int) -> int:
    import psycopg2
    from psycopg2.extras import Json

    connection = psycopg2.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres")
    connection.autocommit = True
    cursor = connection.cursor()
    for schema in ("meta_capi", "facebook_marketing", "analytics", "analytics_dbt_test__audit"):
        cursor.execute(f"drop schema if exists {schema} cascade")
    for table in harness.meta_capi_tables("meta_capi") + harness.facebook_marketing_tables("facebook_marketing"):
        properties = table["json_schema"]["properties"]
        columns = {name: _postgres_type(prop) for name, prop in properties.items()}
        columns.update(
            _airbyte_raw_id="varchar",
            _airbyte_extracted_at="timestamptz",
            _airbyte_meta="jsonb",
            _airbyte_generation_id="bigint",
        )
        name = f'{table["schema"]}."{table["name"]}"'
        cursor.execute(f"create schema if not exists {table['schema']}")
        cursor.execute(f"create table {name} (" + ", ".join(f'"{c}" {k}' for c, k in columns.items()) + ")")
        for extracted_at, record in table["rows"]:
            row = {c: record.get(c) for c in properties}
            row.update(
                _airbyte_raw_id=str(uuid.uuid4()),
                _airbyte_extracted_at=extracted_at,
                _airbyte_meta={"changes": [], "sync_id": 1},
                _airbyte_generation_id=1,
            )
            values = [Json(v) if columns[c] == "jsonb" and v is not None else v for c, v in row.items()]
            cursor.execute(
                f"insert into {name} ("
                + ", ".join(f'"{c}"' for c in row)
                + ") values ("
                + ", ".join(["%s"] * len(row))
                + ")",
                values,
            )
    scratch = Path(tempfile.mkdtemp(prefix="meta-capi-pg-"))
    harness.copy_package(scratch)
    profiles = scratch / "profiles"
    profiles.mkdir()
    (profiles / "profiles.yml").write_text(
        "".join(
            f"{name}:\n  target: pg\n  outputs:\n    pg:\n      type: postgres\n      host: 127.0.0.1\n      port: {port}\n"
            f"      user: postgres\n      password: ''\n      dbname: postgres\n      schema: analytics\n      threads: 1\n"
            for name in ("meta_capi", "meta_capi_integration_tests")
        )
    )
    project = scratch / "meta_capi" / "integration_tests"
    for args in (["deps"], ["build"]):
        completed = subprocess.run(
            [str(DBT), *args, "--project-dir", str(project), "--profiles-dir", str(profiles)],
            capture_output=True,
            text=True,
            env=_env(scratch, "target"),
            cwd=scratch,
            check=False,
        )
        print(completed.stdout[-3000:])
        if completed.returncode:
            return completed.returncode
    shutil.rmtree(scratch)
    return 0


def compile_and_parse() -> int:
    import sqlglot

    scratch = Path(tempfile.mkdtemp(prefix="meta-capi-compile-"))
    harness.copy_package(scratch)
    key = subprocess.run(["openssl", "genrsa", "2048"], capture_output=True, text=True, check=True).stdout
    (scratch / "sa.json").write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "p",
                "private_key_id": "x",
                "private_key": key,
                "client_email": "ci@p.iam.gserviceaccount.com",
                "client_id": "1",
                "token_uri": "https://oauth2.googleapis.com/token",
            }
        )
    )
    (scratch / "profiles.yml").write_text(
        "meta_capi:\n  target: bigquery\n  outputs:\n"
        f"    bigquery: {{type: bigquery, method: service-account, keyfile: '{scratch / 'sa.json'}', project: p, dataset: analytics, threads: 1}}\n"
        "    snowflake: {type: snowflake, account: xy12345, user: u, password: p, role: r, database: DB, warehouse: W, schema: analytics, threads: 1}\n"
        "    redshift: {type: redshift, host: 127.0.0.1, port: 5439, user: u, password: p, dbname: dev, schema: analytics, threads: 1}\n"
    )
    variants = {
        "on": {},
        "off": {
            "meta_capi_push_enabled": False,
            "meta_capi_pull_enabled": False,
            "facebook_marketing_enabled": False,
            "meta_capi_account_timezones": {"act_1": "Europe/Berlin"},
            "meta_capi_attribution_windows": "1d_click, 1d_view",
        },
    }
    failures = files = 0
    for dialect in ("bigquery", "snowflake", "redshift"):
        for variant, variables in variants.items():
            target = f"target_{dialect}_{variant}"
            completed = subprocess.run(
                [
                    str(DBT),
                    "compile",
                    "--no-populate-cache",
                    "--project-dir",
                    str(scratch / "meta_capi"),
                    "--profiles-dir",
                    str(scratch),
                    "--target",
                    dialect,
                    "--vars",
                    json.dumps(variables),
                ],
                capture_output=True,
                text=True,
                env=_env(scratch, target),
                cwd=scratch,
                check=False,
            )
            if completed.returncode:
                print(dialect, variant, completed.stdout[-2000:])
                failures += 1
                continue
            for path in glob.glob(str(scratch / target / "compiled" / "**" / "*.sql"), recursive=True):
                files += 1
                try:
                    sqlglot.parse(Path(path).read_text(), read=dialect, error_level=sqlglot.ErrorLevel.RAISE)
                except sqlglot.errors.ParseError as error:
                    print(dialect, variant, path, str(error)[:300])
                    failures += 1
    print(f"compiled and parsed {files} files: {failures} failures")
    shutil.rmtree(scratch)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(postgres(int(sys.argv[2])) if sys.argv[1] == "postgres" else compile_and_parse())

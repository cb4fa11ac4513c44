"""Write Airbyte records into a DuckDB file in the layout PyAirbyte's DuckDB cache writes.

Read from PyAirbyte 0.71.3 (`airbyte/types.py`, `airbyte/_processors/sql/duckdb.py`): one table per
stream named after it, in schema `main` unless told; a column per top-level property, typed from
its JSON Schema (string VARCHAR, integer BIGINT, number DECIMAL(38,9), boolean BOOLEAN, string
with format date DATE, object and array JSON, a union of several non-null types or none VARCHAR)
plus `_airbyte_raw_id` VARCHAR, `_airbyte_extracted_at` and `_airbyte_meta` JSON (`{}`); rows
loaded with DuckDB's `read_json_auto` over JSON Lines with that column map, as PyAirbyte does.
date-time: PyAirbyte asks for TIMESTAMP(timezone=True), but duckdb_engine creates a plain
TIMESTAMP holding UTC (observed in test_dbt_pyairbyte_cache.py, which compares this layout with
what PyAirbyte itself writes, column by column).

Run with a Python that has duckdb (.venv-dbt):
    python cache_layout.py LOAD.json
where LOAD.json is {"db": path, "tables": [{"schema": s, "name": n, "json_schema": {...},
"rows": [[extracted_at, record], ...]}, ...]}. Needs no network.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

INTERNAL_COLUMNS = {
    "_airbyte_raw_id": "VARCHAR",
    "_airbyte_extracted_at": "TIMESTAMP",
    "_airbyte_meta": "JSON",
}


def normalize(name: str) -> str:
    """PyAirbyte's LowerCaseNormalizer: lower case, every other character than [a-z0-9_] to `_`."""
    return re.sub(r"[^a-z0-9_]", "_", name.lower())


def duckdb_type(prop: dict[str, Any]) -> str:
    types = prop.get("type")
    if isinstance(types, list):
        non_null = [t for t in types if t != "null"]
        types = non_null[0] if len(non_null) == 1 else None
    fmt = prop.get("format")
    if types == "string":
        return {"date": "DATE", "date-time": "TIMESTAMP", "time": "TIME"}.get(fmt, "VARCHAR")
    return {
        "integer": "BIGINT",
        "number": "DECIMAL(38,9)",
        "boolean": "BOOLEAN",
        "object": "JSON",
        "array": "JSON",
    }.get(types or "", "VARCHAR")


def columns_of(json_schema: dict[str, Any]) -> dict[str, str]:
    columns = {normalize(name): duckdb_type(prop) for name, prop in json_schema["properties"].items()}
    return {**columns, **INTERNAL_COLUMNS}


def load(db: str, tables: list[dict[str, Any]]) -> None:
    import duckdb

    connection = duckdb.connect(db)
    with tempfile.TemporaryDirectory() as scratch:
        for table in tables:
            columns = columns_of(table["json_schema"])
            qualified = f'"{table["schema"]}"."{table["name"]}"'
            connection.execute(f'create schema if not exists "{table["schema"]}"')
            definitions = ", ".join(f'"{name}" {kind}' for name, kind in columns.items())
            connection.execute(f"create table if not exists {qualified} ({definitions})")
            path = Path(scratch) / f"{table['schema']}.{table['name']}.jsonl"
            with path.open("w") as out:
                for extracted_at, record in table["rows"]:
                    row = {normalize(k): v for k, v in record.items()}
                    row.update(
                        _airbyte_raw_id=str(uuid.uuid4()),
                        _airbyte_extracted_at=extracted_at,
                        _airbyte_meta={},
                    )
                    out.write(json.dumps(row) + "\n")
            names = ", ".join(f'"{name}"' for name in columns)
            types = ", ".join(f"\"{name}\": '{kind}'" for name, kind in columns.items())
            connection.execute(
                f"insert into {qualified} ({names}) select {names} from read_json_auto(['{path}'], "
                f"format = 'newline_delimited', union_by_name = true, columns = {{{types}}})"
            )
    connection.execute("checkpoint")
    connection.close()


if __name__ == "__main__":
    spec = json.loads(Path(sys.argv[1]).read_text())
    load(spec["db"], spec["tables"])

"""The two connectors' stream schemas, with $ref resolved as the Airbyte CDK's ResourceSchemaLoader
resolves them (so the types are those of the catalog a destination or PyAirbyte sees)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
META_CAPI_SCHEMAS = ROOT / "source_meta_capi" / "schemas"
DBT_PYTHON = ROOT / ".venv-dbt" / "bin" / "python"


def facebook_marketing_schema_dir(python: Path = DBT_PYTHON) -> Path:
    """schemas/ of the airbyte-source-facebook-marketing wheel installed (--no-deps) in .venv-dbt.
    Found without importing the package, which would import the CDK it was installed without."""
    completed = subprocess.run(
        [
            str(python),
            "-c",
            "import importlib.util as u; print(u.find_spec('source_facebook_marketing').submodule_search_locations[0])",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return Path(completed.stdout.strip()) / "schemas"


def _resolve(node: Any, definitions: dict[str, Any], shared: Path | None) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            if ref.startswith("#/definitions/"):
                target = definitions[ref.rsplit("/", 1)[1]]
            else:
                assert shared is not None, ref
                target = json.loads((shared / ref).read_text())
            merged = {**_resolve(target, definitions, shared), **{k: v for k, v in node.items() if k != "$ref"}}
            return merged
        return {k: _resolve(v, definitions, shared) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(v, definitions, shared) for v in node]
    return node


def load_schema(path: Path, shared: Path | None = None) -> dict[str, Any]:
    schema = json.loads(path.read_text())
    return _resolve(schema, schema.get("definitions", {}), shared)


def meta_capi_schema(stream: str) -> dict[str, Any]:
    return load_schema(META_CAPI_SCHEMAS / f"{stream}.json")


def facebook_marketing_schema(stream: str, schema_dir: Path) -> dict[str, Any]:
    return load_schema(schema_dir / f"{stream}.json", schema_dir / "shared")

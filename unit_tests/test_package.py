"""The package's top level: `SourceMetaCapi` where Airbyte's tooling looks for it, and nothing heavy."""

from __future__ import annotations

import subprocess
import sys

import pytest

import source_meta_capi
from source_meta_capi.source import SourceMetaCapi


def test_given_airbyte_tooling_when_it_imports_the_connector_class_then_it_finds_the_source():
    # `airbyte-cdk connector test` imports <module>.<ClassName> derived from `source-meta-capi`.
    assert source_meta_capi.SourceMetaCapi is SourceMetaCapi
    assert "SourceMetaCapi" in source_meta_capi.__all__


def test_given_an_unknown_name_when_asked_then_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = source_meta_capi.Nope  # type: ignore[attr-defined]


def test_given_a_fresh_interpreter_when_importing_the_package_then_airbyte_cdk_is_not_loaded():
    code = "import sys, source_meta_capi; print(sorted(m for m in sys.modules if m.startswith('airbyte')))"
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert completed.stdout.strip() == "[]"

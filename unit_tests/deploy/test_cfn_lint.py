"""Every CloudFormation template under deploy/ passes cfn-lint (offline: the AWS resource specs
ship inside the package; SAM templates are expanded with aws-sam-translator first)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT, TEMPLATES


def cfn_lint() -> str:
    beside = Path(sys.executable).parent / "cfn-lint"
    found = str(beside) if beside.exists() else shutil.which("cfn-lint")
    if found is None:
        pytest.fail("cfn-lint is not installed: it comes with the dev extras (pip install -e '.[dev]')")
    return found


def test_given_deploy_folder_when_listing_templates_then_there_is_one_to_lint() -> None:
    assert [path.name for path in TEMPLATES] == ["template.yaml"]


@pytest.mark.parametrize("template_path", TEMPLATES, ids=lambda path: path.name)
def test_given_template_when_linted_then_no_error_warning_or_informational_finding(template_path: Path) -> None:
    result = subprocess.run(
        [cfn_lint(), "--include-checks", "I", "--", str(template_path.relative_to(ROOT))],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr

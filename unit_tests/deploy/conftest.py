"""Fixtures of the deployment checks: the SAM template, parsed with CloudFormation's tags."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from integration_tests.support.deploy_modules import load_deploy_module

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
TEMPLATES = sorted(DEPLOY.glob("*.yaml"))


@pytest.fixture(scope="session")
def template() -> dict[str, Any]:
    document: dict[str, Any] = load_deploy_module("cfn_yaml").load_template(DEPLOY / "template.yaml")
    return document

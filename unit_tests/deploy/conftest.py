"""Fixtures of the deployment checks: the SAM template, parsed with CloudFormation's tags."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from integration_tests.support.deploy_modules import load_deploy_module

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
TEMPLATES = sorted(DEPLOY.glob("*.yaml"))


def hoist_for_each(resources: dict[str, Any]) -> dict[str, Any]:
    """Resources with each `Fn::ForEach::Name: [identifier, collection, {pattern: body}]` replaced
    by its pattern entries (e.g. `ReceiverAlbIngress&{Cidr}`), so that every resource has a Type."""
    hoisted: dict[str, Any] = {}
    for name, body in resources.items():
        if name.startswith("Fn::ForEach::"):
            _identifier, _collection, patterns = body
            hoisted.update(patterns)
        else:
            hoisted[name] = body
    return hoisted


@pytest.fixture(scope="session")
def template() -> dict[str, Any]:
    """The template as CloudFormation reads it, Fn::ForEach loops hoisted (see hoist_for_each)."""
    document: dict[str, Any] = load_deploy_module("cfn_yaml").load_template(DEPLOY / "template.yaml")
    document["Resources"] = hoist_for_each(document["Resources"])
    return document

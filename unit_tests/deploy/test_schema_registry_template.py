"""The template's schema registry matches the package: same streams, same format and
compatibility, and definitions byte-equal to what `meta-capi-receiver schemas publish` registers."""

from __future__ import annotations

import json
from typing import Any

from integration_tests.support.deploy_modules import load_deploy_module
from source_meta_capi.receiver.schema_registry import (
    COMPATIBILITY,
    DATA_FORMAT,
    DEFAULT_REGISTRY,
    REGISTERED_STREAMS,
    canonical_definition,
)
from source_meta_capi.receiver.settings import load_settings

from .conftest import DEPLOY, ROOT
from .test_template import function_env, resources


def test_given_template_when_reading_schema_versions_then_each_equals_the_packages_schema_file(template) -> None:
    schemas = resources(template, "AWS::Glue::Schema")
    versions = resources(template, "AWS::Glue::SchemaVersion")
    by_stream: dict[str, str] = {}
    for version in versions.values():
        (target,) = [name for name in schemas if version["Properties"]["Schema"] == {"SchemaArn": {"Ref": name}}]
        by_stream[schemas[target]["Properties"]["Name"]] = version["Properties"]["SchemaDefinition"]
    assert sorted(by_stream) == sorted(REGISTERED_STREAMS)
    for stream, definition in by_stream.items():
        document = json.loads((ROOT / "source_meta_capi" / "schemas" / f"{stream}.json").read_text(encoding="utf-8"))
        assert json.loads(definition) == document, f"{stream}: run make template-schemas"
        # Byte-equal, so Glue finds the CLI's version for the stack's definition (and back).
        assert definition == canonical_definition(document), f"{stream}: run make template-schemas"


def test_given_template_schemas_when_reading_then_json_backward_in_the_registry_the_cli_defaults_to(template) -> None:
    (registry_name,) = resources(template, "AWS::Glue::Registry")
    registry = template["Resources"][registry_name]["Properties"]
    assert registry["Name"] == {"Ref": "SchemaRegistryName"}
    assert template["Parameters"]["SchemaRegistryName"]["Default"] == DEFAULT_REGISTRY
    assert load_settings({}).schema_registry == DEFAULT_REGISTRY
    for schema in resources(template, "AWS::Glue::Schema").values():
        properties = schema["Properties"]
        assert properties["Registry"] == {"Arn": {"Fn::GetAtt": ["SchemaRegistry", "Arn"]}}
        assert (properties["DataFormat"], properties["Compatibility"]) == (DATA_FORMAT, COMPATIBILITY)
        # Create-only in CloudFormation: a definition here would make the next schema change
        # replace a named resource, which CloudFormation refuses. Versions carry the definitions.
        assert "SchemaDefinition" not in properties


def test_given_schema_versions_when_replaced_then_old_versions_stay_in_the_registry(template) -> None:
    for name, version in resources(template, "AWS::Glue::SchemaVersion").items():
        assert (version["DeletionPolicy"], version["UpdateReplacePolicy"]) == ("Retain", "Retain"), name


def test_given_lambda_env_when_deployed_then_schema_version_is_the_delivered_events_version(template) -> None:
    assert function_env(template)["META_CAPI_SCHEMA_VERSION"] == {
        "Fn::GetAtt": ["DeliveredEventsSchemaVersion", "VersionId"]
    }
    outputs = template["Outputs"]
    assert outputs["DeliveredEventsSchemaVersionId"]["Value"] == function_env(template)["META_CAPI_SCHEMA_VERSION"]
    # What CloudFormation passes is a version id, which the setting accepts.
    settings = load_settings({"META_CAPI_SCHEMA_VERSION": "4f8b2c7e-1a2b-4c3d-9e8f-0123456789ab"})
    assert settings.schema_version == "4f8b2c7e-1a2b-4c3d-9e8f-0123456789ab"


def test_given_template_schemas_script_when_checking_then_the_template_is_up_to_date() -> None:
    script: Any = load_deploy_module("template_schemas")
    text = (DEPLOY / "template.yaml").read_text(encoding="utf-8")
    assert script.marked_streams(text) == list(REGISTERED_STREAMS)
    assert script.render(text) == text

"""spec.yaml against the rules of Airbyte's connector acceptance tests (CAT `TestSpec` in
connector_acceptance_test/tests/test_core.py) and of the connector specification reference, so
that the Airbyte UI renders the form: every rule encoded here, not only the CDK's spec lint."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any, Iterator, Mapping

import jsonschema
import pytest
import yaml
from airbyte_cdk.test.standard_tests._spec_lint import assert_spec_is_valid

from source_meta_capi.config import ConfigError, SourceConfig
from source_meta_capi.source import SourceMetaCapi

ROOT = Path(__file__).resolve().parent.parent
SPEC = yaml.safe_load((ROOT / "spec.yaml").read_text())
CONNECTION = SPEC["connectionSpecification"]

# CAT's `secret_property_names` (test_core.py), app_id and appid included.
CAT_SECRET_NAMES = {
    "client_token",
    "access_token",
    "api_token",
    "token",
    "secret",
    "client_secret",
    "password",
    "key",
    "service_account_info",
    "service_account",
    "tenant_id",
    "certificate",
    "jwt",
    "credentials",
    "app_id",
    "appid",
    "refresh_token",
}
# CAT test_forbidden_complex_types.
FORBIDDEN_KEYWORDS = (
    "not",
    "anyOf",
    "patternProperties",
    "prefixItems",
    "allOf",
    "if",
    "then",
    "else",
    "dependentSchemas",
    "dependentRequired",
)


def _schemas(node: Any, path: str = "") -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every schema node of the spec (properties, items, oneOf options), with a readable path."""
    if not isinstance(node, Mapping):
        return
    yield path or "/", node
    for name, child in (node.get("properties") or {}).items():
        yield from _schemas(child, f"{path}/properties/{name}")
    if isinstance(node.get("items"), Mapping):
        yield from _schemas(node["items"], f"{path}/items")
    for index, option in enumerate(node.get("oneOf") or ()):
        yield from _schemas(option, f"{path}/oneOf/{index}")


def _properties() -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    for path, node in _schemas(CONNECTION):
        for name, prop in (node.get("properties") or {}).items():
            yield f"{path.rstrip('/')}/properties/{name}", name, prop


def _keys(node: Any) -> Iterator[tuple[str, Any]]:
    """Every (key, value) pair anywhere in the spec, property names included."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            yield key, value
            yield from _keys(value)
    elif isinstance(node, list):
        for item in node:
            yield from _keys(item)


def test_the_spec_is_a_valid_draft7_schema_and_passes_the_cdk_spec_lint():
    jsonschema.Draft7Validator.check_schema(CONNECTION)
    spec = SourceMetaCapi().spec(logging.getLogger("test"))
    assert spec.connectionSpecification == CONNECTION
    assert_spec_is_valid(spec, connector_name="source-meta-capi")


def test_additional_properties_is_never_false():
    # CAT test_additional_properties_is_true: when set, it must be true.
    values = [value for key, value in _keys(CONNECTION) if key == "additionalProperties"]
    assert all(value is True for value in values), values


def test_every_property_has_a_title_and_a_description():
    missing = [path for path, _, prop in _properties() if not prop.get("title") or not prop.get("description")]
    assert missing == []


def test_every_oneof_option_has_a_title_and_one_common_const_discriminator():
    # CAT test_oneof_usage, plus titles: the UI labels each option with its title.
    for path, node in _schemas(CONNECTION):
        options = node.get("oneOf")
        if not options:
            continue
        assert node.get("type") == "object", path
        assert all("properties" in option and option.get("title") for option in options), path
        common = set.intersection(*(set(option["properties"]) for option in options))
        consts = {name for name in common if all("const" in option["properties"][name] for option in options)}
        assert len(consts) == 1, f"{path}: one common property with const, got {consts}"
        (discriminator,) = consts
        values = [option["properties"][discriminator]["const"] for option in options]
        assert len(set(values)) == len(values), f"{path}: {discriminator} values repeat"
        for option in options:
            prop = option["properties"][discriminator]
            assert "default" not in prop and "enum" not in prop, path
            assert discriminator in option.get("required", ()), f"{path}: {discriminator} must be required"


def test_order_is_an_integer_unique_within_each_object():
    for path, node in _schemas(CONNECTION):
        orders = [prop["order"] for prop in (node.get("properties") or {}).values() if "order" in prop]
        assert all(isinstance(order, int) for order in orders), path
        assert len(orders) == len(set(orders)), f"{path}: order repeats: {orders}"


def test_secrets_are_marked_and_non_secrets_are_not():
    # CAT test_secret_is_properly_marked: a secret-looking name that can hold a string/number
    # must be airbyte_secret; airbyte_secret only on such types.
    exposed, hidden = [], []
    for path, name, prop in _properties():
        types = prop.get("type")
        types = {types} if isinstance(types, str) else set(types or ())
        can_hold = bool(types & {"string", "integer", "number"}) and not prop.get("const")
        if name.lower() in CAT_SECRET_NAMES and can_hold and not prop.get("airbyte_secret"):
            exposed.append(path)
        if prop.get("airbyte_secret") and not can_hold:
            hidden.append(path)
    assert exposed == [] and hidden == []


def test_no_empty_objects_and_arrays_of_one_renderable_item_type():
    # CAT test_object_not_empty and test_array_type.
    for path, node in _schemas(CONNECTION):
        if path != "/" and node.get("type") == "object":
            assert "oneOf" in node or node.get("properties"), f"{path} is an empty object"
        if node.get("type") == "array":
            items = node.get("items")
            assert isinstance(items, Mapping), f"{path}: items must be one schema"
            assert items.get("type") in ("object", "string", "number", "integer") or "enum" in items, path


def test_types_are_one_type_or_one_type_and_null():
    # CAT test_property_type_is_not_array.
    for path, _, prop in _properties():
        types = prop.get("type")
        if isinstance(types, list):
            assert len(types) in (1, 2) and (len(types) == 1 or types[1] == "null"), path


def test_no_keyword_the_ui_cannot_render_no_ref_and_distinct_enums():
    # CAT test_forbidden_complex_types, test_defined_refs_exist_in_json_spec_file, test_enum_usage.
    for path, node in _schemas(CONNECTION):
        assert not set(node) & set(FORBIDDEN_KEYWORDS), f"{path}: {set(node) & set(FORBIDDEN_KEYWORDS)}"
        assert "$ref" not in node, path
        if "enum" in node:
            assert len(set(node["enum"])) == len(node["enum"]), path


def test_date_time_fields_have_a_pattern_and_a_pattern_descriptor():
    # CAT test_date_pattern / test_date_format: the UI's date picker needs format + pattern.
    for path, _, prop in _properties():
        if prop.get("format") in ("date", "date-time"):
            assert prop.get("pattern") and prop.get("pattern_descriptor"), path


START_DATE_PATTERN = re.compile(CONNECTION["properties"]["start_date"]["pattern"])


@pytest.mark.parametrize(
    "value",
    [
        "2026-11-01T00:00:00Z",  # what the UI's date-time picker writes
        "2026-11-01T00:00:00.000Z",
        "2026-11-01",
        "2026-11-01T08:30",
        "2026-11-01T08:30:00+02:00",
        "2026-11-01T08:30:00-0500",
        "2026-11-01 08:30:00",
    ],
)
def test_given_a_start_date_config_py_accepts_then_the_spec_pattern_accepts_it_too(value: str):
    parsed = SourceConfig.from_mapping(
        {"pixels": [{"pixel_id": "1"}], "start_date": value, "staging": {"bucket_url": "x"}}
    )
    assert parsed.start_date is not None
    assert START_DATE_PATTERN.fullmatch(value)


@pytest.mark.parametrize("value", ["01-11-2026", "2026-11-01T", "yesterday", "2026-13-01T00:00:00Z"])
def test_given_a_start_date_config_py_rejects_then_the_sync_does_not_start(value: str):
    # The pattern checks the shape only (month 13 passes it); config.py is the final judge.
    with pytest.raises(ConfigError, match="start_date"):
        SourceConfig.from_mapping({"pixels": [{"pixel_id": "1"}], "start_date": value, "staging": {"bucket_url": "x"}})


def test_custom_data_properties_is_a_list_of_name_and_type_and_the_old_map_still_parses():
    prop = CONNECTION["properties"]["pixels"]["items"]["properties"]["custom_data_properties"]
    assert prop["type"] == "array" and set(prop["items"]["required"]) == {"name", "type"}
    listed = {"pixels": [{"pixel_id": "1", "custom_data_properties": [{"name": "margin", "type": "number"}]}]}
    jsonschema.validate({**listed, "staging": {"bucket_url": "x"}}, CONNECTION)
    for shape in (listed["pixels"][0]["custom_data_properties"], {"margin": "number"}):
        parsed = SourceConfig.from_mapping(
            {"pixels": [{"pixel_id": "1", "custom_data_properties": shape}], "staging": {"bucket_url": "x"}}
        )
        assert parsed.pixels[0].custom_data_properties == {"margin": "number"}

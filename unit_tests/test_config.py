from datetime import datetime

import pytest
from pydantic import ValidationError

from source_meta_capi.capi.graph_api import (
    AD_ACCOUNT_ID_PATTERN,
    API_VERSION_PATTERN,
    DEFAULT_API_VERSION,
    DEFAULT_GRAPH_BASE_URL,
    PIXEL_ID_PATTERN,
)
from source_meta_capi.config import ConfigError, SourceConfig, connection_specification, with_spec_defaults


def base(**overrides):
    return {"pixels": [{"pixel_id": "123"}], "staging": {"bucket_url": "/tmp/x"}, **overrides}


def test_parses_push_and_pull_modes_with_defaults():
    parsed = SourceConfig.from_mapping(
        base(credentials={"auth_type": "access_token", "access_token": "t"}, start_date="2026-11-01")
    )
    assert parsed.staging is not None and parsed.staging.settle_seconds == 120
    assert parsed.staging.on_corrupt_object == "fail" and parsed.staging.on_schema_drift == "warn"
    assert parsed.has_credentials
    assert parsed.start_date is not None and parsed.start_date.isoformat() == "2026-11-01T00:00:00+00:00"


def test_ad_account_gets_its_prefix_and_custom_properties_accept_both_shapes():
    parsed = SourceConfig.from_mapping(
        {
            "pixels": [
                {"pixel_id": "1", "ad_account_id": "42", "custom_data_properties": {"coupon": "string"}},
                {"pixel_id": "2", "custom_data_properties": [{"name": "margin", "type": "number"}]},
            ],
            "staging": {"bucket_url": "s3://b/p"},
        }
    )
    assert parsed.pixels[0].ad_account_id == "act_42"
    assert parsed.pixels[1].custom_data_properties == {"margin": "number"}


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"pixels": []}, "at least one pixel"),
        (base(pixels=[{"pixel_id": "../1"}]), "pixels[0].pixel_id"),
        (base(pixels=[{"pixel_id": "1"}, {"pixel_id": "1"}]), "listed twice"),
        (base(pixels=[{"pixel_id": "1", "ad_account_id": "abc"}]), "ad_account_id"),
        (base(pixels=[{"pixel_id": "1", "custom_data_properties": {"x": "date"}}]), "custom_data_properties.x"),
        ({"pixels": [{"pixel_id": "1"}]}, "Nothing to sync"),
        (base(staging={"bucket_url": ""}), "bucket_url"),
        (base(staging={"bucket_url": "/x", "settle_seconds": -1}), "settle_seconds"),
        (base(staging={"bucket_url": "/x", "on_corrupt_object": "ignore"}), "on_corrupt_object"),
        (base(start_date="yesterday"), "start_date"),
    ],
)
def test_given_bad_config_then_error_names_the_field(config, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]").replace(".", r"\.")):
        SourceConfig.from_mapping(config)


def test_config_mapping_is_not_mutated():
    config = base(pixels=[{"pixel_id": "1", "ad_account_id": "42"}])
    SourceConfig.from_mapping(config)
    assert config["pixels"][0]["ad_account_id"] == "42"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-01", "2026-11-01T00:00:00+00:00"),
        ("2026-11-01T05:06:07Z", "2026-11-01T05:06:07+00:00"),
        ("2026-11-01T05:06:07.250Z", "2026-11-01T05:06:07.250000+00:00"),
        ("2026-11-01T05:06:07+02:00", "2026-11-01T03:06:07+00:00"),
        ("2026-11-01T05:06:07-0130", "2026-11-01T06:36:07+00:00"),
        ("2026-11-01T05:06:07", "2026-11-01T05:06:07+00:00"),
    ],
)
def test_given_a_date_or_date_time_when_parsed_then_start_date_is_utc(value, expected):
    parsed = SourceConfig.from_mapping(base(start_date=value)).start_date
    assert parsed is not None and type(parsed) is datetime and parsed.isoformat() == expected


@pytest.mark.parametrize("value", ["2026-13-01", "P1D", "2026-11-01/2026-11-02", "soon", 20261101])
def test_given_no_date_when_parsed_then_the_error_names_start_date(value):
    with pytest.raises(ConfigError, match="'start_date'"):
        SourceConfig.from_mapping(base(start_date=value))


def test_given_credentials_and_a_bad_api_version_then_the_error_names_it():
    config = base(credentials={"auth_type": "access_token", "access_token": "t"}, graph_api={"api_version": "26"})
    with pytest.raises(ConfigError, match=r"graph_api\.api_version"):
        SourceConfig.from_mapping(config)


def test_spec_patterns_are_the_python_patterns():
    spec = connection_specification()["properties"]
    pixel = spec["pixels"]["items"]["properties"]
    assert pixel["pixel_id"]["pattern"] == f"^{PIXEL_ID_PATTERN.pattern}$"
    assert pixel["ad_account_id"]["pattern"] == f"^{AD_ACCOUNT_ID_PATTERN.pattern}$"
    assert spec["graph_api"]["properties"]["api_version"]["pattern"] == f"^{API_VERSION_PATTERN.pattern}$"


def test_spec_graph_defaults_are_the_python_graph_vocabulary():
    graph = connection_specification()["properties"]["graph_api"]["properties"]
    assert graph["base_url"]["default"] == DEFAULT_GRAPH_BASE_URL
    assert graph["api_version"]["default"] == DEFAULT_API_VERSION


def test_given_a_sparse_config_when_defaults_apply_then_the_spec_fills_them_without_touching_the_input():
    config = base(credentials={"auth_type": "app_credentials", "app_id": "1", "app_secret": "s", "access_token": "t"})
    filled = with_spec_defaults(config)
    assert filled["staging"]["settle_seconds"] == 120 and filled["staging"]["decode_processes"] == 1
    assert filled["graph_api"]["base_url"] == DEFAULT_GRAPH_BASE_URL
    assert filled["graph_api"]["stats_lookback_hours"] == 6
    assert filled["credentials"]["use_appsecret_time"] is True
    assert "graph_api" not in config and "settle_seconds" not in config["staging"]
    assert "use_appsecret_time" not in config["credentials"]


def test_given_no_staging_when_defaults_apply_then_push_mode_stays_off():
    filled = with_spec_defaults({"pixels": [{"pixel_id": "1"}], "credentials": {"access_token": "t"}})
    assert "staging" not in filled


def test_given_empty_values_when_defaults_apply_then_they_get_the_default():
    filled = with_spec_defaults({"graph_api": {"base_url": "", "stats_aggregations": []}})
    assert filled["graph_api"]["base_url"] == DEFAULT_GRAPH_BASE_URL
    assert filled["graph_api"]["stats_aggregations"] == [
        "event",
        "event_source",
        "event_processing_results",
        "match_keys",
    ]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (base(pixels=[5]), "'pixels[0]' must be an object with a pixel_id."),
        (base(pixels=[{"ad_account_id": "1"}]), "'pixels[0].pixel_id' is required."),
        (
            base(staging={"region": "eu-west-1", "aws_secret_access_key": "SECRET"}),
            "'staging.bucket_url' is required: a local folder, file:///path or s3://bucket/prefix.",
        ),
        (
            base(staging={"bucket_url": "/x", "settle_seconds": "10"}),
            "'staging.settle_seconds' must be a valid integer, got '10'.",
        ),
        (
            base(staging={"bucket_url": "/x", "decode_processes": 9}),
            "'staging.decode_processes' must be less than or equal to 8, got 9.",
        ),
        (
            base(staging={"bucket_url": "/x", "on_schema_drift": "stop"}),
            "'staging.on_schema_drift' must be 'warn' or 'fail', got 'stop'.",
        ),
        (
            base(pixels=[{"pixel_id": "x"}], staging={"bucket_url": "/x", "settle_seconds": -1}),
            "'pixels[0].pixel_id' must be the numeric pixel id (1-20 digits, not starting with 0), got 'x'. "
            "'staging.settle_seconds' must be greater than or equal to 0, got -1.",
        ),
    ],
)
def test_given_pydantic_finds_problems_then_each_is_one_sentence_naming_its_field(config, message):
    with pytest.raises(ConfigError) as raised:
        SourceConfig.from_mapping(config)
    assert str(raised.value) == message
    assert "SECRET" not in str(raised.value)


def test_parsed_config_is_frozen():
    parsed = SourceConfig.from_mapping(base())
    with pytest.raises(ValidationError):
        parsed.pixels[0].pixel_id = "2"  # type: ignore[misc]

import pytest

from source_meta_capi.config import ConfigError, SourceConfig


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

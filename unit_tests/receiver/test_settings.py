"""Settings from an injected environment mapping: defaults, bounds, the model's own rules.

How values are written is tested in test_settings_values.py, error texts in test_settings_errors.py,
the operators' table in test_env_table.py.
"""

from __future__ import annotations

import pytest

from source_meta_capi.receiver.settings import ReceiverSettings, SettingsError
from source_meta_capi.receiver.signatures import parse_webhook_secret
from unit_tests.receiver.settings_environments import SECRET, load


def test_given_empty_environment_when_loading_then_safe_defaults() -> None:
    settings = load()
    assert settings.staging_url == "./meta-capi-staging"
    assert settings.webhook_keys == () and not settings.allow_unsigned
    assert settings.signature_tolerance_s == 300
    assert settings.forward_mode == "background"
    assert settings.host == "127.0.0.1"
    assert settings.allows_pixel("123")


def test_given_blank_variables_when_loading_then_defaults() -> None:
    settings = load(META_CAPI_STAGING_URL=" ", META_CAPI_FORWARD_TIMEOUT_S="", META_CAPI_LOG_LEVEL="")
    assert settings.staging_url == "./meta-capi-staging"
    assert settings.forward_timeout_s == 1.5 and settings.log_level == "INFO"


def test_given_lambda_environment_when_mode_auto_then_inline_and_background_refused() -> None:
    assert load(AWS_LAMBDA_FUNCTION_NAME="f").forward_mode == "inline"
    with pytest.raises(SettingsError, match="background"):
        load(AWS_LAMBDA_FUNCTION_NAME="f", META_CAPI_FORWARD_MODE="background")


def test_given_region_variables_when_loading_then_the_receivers_own_wins_then_aws_region() -> None:
    assert load(META_CAPI_S3_REGION="eu-west-1", AWS_REGION="us-east-2").s3.region == "eu-west-1"
    assert load(AWS_REGION="us-east-2", AWS_DEFAULT_REGION="us-west-1").s3.region == "us-east-2"
    assert load(AWS_DEFAULT_REGION="us-west-1").s3.region == "us-west-1"
    assert load(META_CAPI_COMMIT_DEADLINE_S="6").s3.read_timeout_s == 2.0


def test_given_unsigned_with_secrets_when_loading_then_refused() -> None:
    with pytest.raises(SettingsError, match="ALLOW_UNSIGNED"):
        load(META_CAPI_ALLOW_UNSIGNED="true", META_CAPI_WEBHOOK_SECRETS=SECRET)


def test_given_secrets_when_repr_then_no_secret_shown() -> None:
    settings = load(
        META_CAPI_WEBHOOK_SECRETS=SECRET,
        META_CAPI_HUB_SECRETS="hub-secret",
        META_CAPI_ACCESS_TOKENS="1=tok-secret-value",
        AWS_SECRET_ACCESS_KEY="aws-secret-value",
    )
    assert len(settings.webhook_keys) == 1 and settings.hub_secrets == ("hub-secret",)
    for text in (repr(settings), str(settings), f"{settings}"):
        assert "hub-secret" not in text and "tok-secret-value" not in text and SECRET[6:] not in text
        assert "aws-secret-value" not in text


def test_given_field_names_when_constructing_then_typed_values_accepted_and_frozen() -> None:
    settings = ReceiverSettings(
        staging_url="/tmp/x", webhook_keys=(parse_webhook_secret(SECRET),), access_tokens={"1": "t"}, forward_mode="off"
    )
    assert settings.forward_mode == "off" and settings.access_token("1") == "t"
    with pytest.raises(ValueError):
        settings.staging_url = "/elsewhere"  # type: ignore[misc]


def test_given_queue_intake_mode_when_loading_then_it_needs_a_queue_url_and_lambda_and_direct_is_the_default() -> None:
    assert load().intake_mode == "direct"
    with pytest.raises(SettingsError, match="META_CAPI_QUEUE_URL"):
        load(AWS_LAMBDA_FUNCTION_NAME="f", META_CAPI_INTAKE_MODE="queue")
    with pytest.raises(SettingsError, match="META_CAPI_INTAKE_MODE"):
        load(META_CAPI_INTAKE_MODE="kinesis")
    queue = {"META_CAPI_INTAKE_MODE": "QUEUE", "META_CAPI_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/1/q"}
    settings = load(AWS_LAMBDA_FUNCTION_NAME="f", **queue)
    assert settings.intake_mode == "queue" and settings.queue_max_message_bytes == 256 * 1024
    with pytest.raises(SettingsError, match="group commit"):
        load(**queue)

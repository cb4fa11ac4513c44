"""Settings from an injected environment mapping."""

from __future__ import annotations

import base64

import pytest

from source_meta_capi.receiver.settings import (
    ReceiverSettings,
    SettingsError,
    env_table_markdown,
    environment_variables,
    load_settings,
)
from source_meta_capi.receiver.signatures import parse_webhook_secret

SECRET = "whsec_" + base64.b64encode(b"s" * 32).decode()


class NoSecrets:
    def resolve(self, setting: str, value: str) -> str:
        return value


class FakeSecretsManager:
    def __init__(self, secrets: dict[str, str]) -> None:
        self.secrets = secrets

    def resolve(self, setting: str, value: str) -> str:
        return self.secrets.get(value, value)


def load(**env: str):
    return load_settings(env, NoSecrets())  # type: ignore[arg-type]


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


@pytest.mark.parametrize("tokens", ["111=tok-a, 222=tok-b", '{"111": "tok-a", "222": "tok-b"}'])
def test_given_tokens_in_either_form_when_loading_then_per_pixel(tokens: str) -> None:
    settings = load(META_CAPI_ACCESS_TOKENS=tokens)
    assert settings.access_token("111") == "tok-a" and settings.access_token("222") == "tok-b"
    assert settings.access_token("333") is None


def test_given_secret_references_when_loading_then_resolved_by_the_resolver() -> None:
    resolver = FakeSecretsManager(
        {"secretsmanager:hooks": f"{SECRET}, ", "secretsmanager:tok": "tok-from-sm", "secretsmanager:salt": "pepper"}
    )
    settings = load_settings(
        {
            "META_CAPI_WEBHOOK_SECRETS": "secretsmanager:hooks",
            "META_CAPI_ACCESS_TOKENS": "111=secretsmanager:tok",
            "META_CAPI_PSEUDONYMIZE_SALT": "secretsmanager:salt",
        },
        resolver,  # type: ignore[arg-type]
    )
    assert settings.webhook_keys == (parse_webhook_secret(SECRET),)
    assert settings.access_token("111") == "tok-from-sm" and settings.pseudonymize_salt == "pepper"


def test_given_region_variables_when_loading_then_the_receivers_own_wins_then_aws_region() -> None:
    assert load(META_CAPI_S3_REGION="eu-west-1", AWS_REGION="us-east-2").s3.region == "eu-west-1"
    assert load(AWS_REGION="us-east-2", AWS_DEFAULT_REGION="us-west-1").s3.region == "us-east-2"
    assert load(AWS_DEFAULT_REGION="us-west-1").s3.region == "us-west-1"
    assert load(META_CAPI_COMMIT_DEADLINE_S="6").s3.read_timeout_s == 2.0


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"META_CAPI_WEBHOOK_SECRETS": "whsec_c2hvcnQ="}, "META_CAPI_WEBHOOK_SECRETS"),
        ({"META_CAPI_ACCESS_TOKENS": "abc=tok-secret-value"}, "META_CAPI_ACCESS_TOKENS"),
        ({"META_CAPI_ACCESS_TOKENS": "tok-secret-value"}, "META_CAPI_ACCESS_TOKENS"),
        ({"META_CAPI_ACCESS_TOKENS": '{"111": ["tok-secret-value"]}'}, "META_CAPI_ACCESS_TOKENS"),
        ({"META_CAPI_FORWARD_MODE": "sometimes"}, "META_CAPI_FORWARD_MODE"),
        ({"META_CAPI_SIGNATURE_TOLERANCE_S": "0"}, "META_CAPI_SIGNATURE_TOLERANCE_S"),
        ({"META_CAPI_SIGNATURE_TOLERANCE_S": "nan"}, "META_CAPI_SIGNATURE_TOLERANCE_S"),
        ({"META_CAPI_MAX_BODY_BYTES": "lots"}, "META_CAPI_MAX_BODY_BYTES"),
        ({"META_CAPI_PORT": "70000"}, "META_CAPI_PORT"),
        ({"META_CAPI_PIXEL_IDS": "12,../x"}, "META_CAPI_PIXEL_IDS"),
        ({"META_CAPI_ALLOW_UNSIGNED": "maybe"}, "META_CAPI_ALLOW_UNSIGNED"),
        ({"META_CAPI_API_VERSION": "26"}, "META_CAPI_API_VERSION"),
        ({"META_CAPI_DEFAULT_COUNTRY": "usa"}, "META_CAPI_DEFAULT_COUNTRY"),
        ({"META_CAPI_WRITER_ID": "Not-Valid"}, "META_CAPI_WRITER_ID"),
    ],
)
def test_given_invalid_variable_when_loading_then_error_names_it_without_secret(
    env: dict[str, str], variable: str
) -> None:
    with pytest.raises(SettingsError) as raised:
        load(**env)
    assert variable in str(raised.value)
    assert "tok-secret-value" not in str(raised.value)
    # Nor in what a traceback would print: the validation error is not chained.
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


@pytest.mark.parametrize(
    "env",
    [
        {"META_CAPI_HUB_SECRETS": "hub-secret-value", "META_CAPI_ALLOW_UNSIGNED": "true"},
        {"META_CAPI_APP_SECRET": "secretsmanager:", "META_CAPI_PSEUDONYMIZE_SALT": "salt-secret-value"},
        {"META_CAPI_ACCESS_TOKENS": "111=tok-secret-value,222=", "META_CAPI_PORT": "x"},
    ],
)
def test_given_secrets_beside_an_invalid_variable_when_loading_then_no_secret_in_the_error(
    env: dict[str, str],
) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(env)
    text = str(raised.value)
    assert "secret-value" not in text and "META_CAPI_" in text


def test_given_invalid_non_secret_variable_when_loading_then_error_shows_the_value() -> None:
    with pytest.raises(SettingsError, match="'sometimes'"):
        load(META_CAPI_FORWARD_MODE="sometimes")


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


def test_every_variable_is_documented_once_with_a_meaning() -> None:
    variables = environment_variables()
    names = [variable.name for variable in variables]
    assert len(names) == len(set(names))
    assert all(name.startswith("META_CAPI_") for name in names)
    assert all(variable.description for variable in variables)
    assert {v.name for v in variables if v.secret} == {
        "META_CAPI_WEBHOOK_SECRETS",
        "META_CAPI_HUB_SECRETS",
        "META_CAPI_WEBHOOK_SECRETS_BY_PIXEL",
        "META_CAPI_HUB_SECRETS_BY_PIXEL",
        "META_CAPI_ACCESS_TOKENS",
        "META_CAPI_APP_SECRET",
        "META_CAPI_PSEUDONYMIZE_SALT",
    }


def test_env_table_lists_each_variable_with_its_default() -> None:
    table = env_table_markdown().splitlines()
    assert table[:2] == ["| Variable | Default | Meaning |", "| --- | --- | --- |"]
    assert len(table) == 2 + len(environment_variables())
    assert (
        "| `META_CAPI_FORWARD_MODE` | `auto` |"
        in table[2 + [v.name for v in environment_variables()].index("META_CAPI_FORWARD_MODE")]
    )
    assert any(line.startswith("| `META_CAPI_FORWARD_DEADLINE_S` | `3` |") for line in table)
    assert any(line.startswith("| `META_CAPI_WEBHOOK_SECRETS` | — |") for line in table)


def test_given_test_event_pixels_when_loading_then_only_those_take_test_events() -> None:
    assert load().allows_test_events("123")
    listed = load(META_CAPI_TEST_EVENT_PIXELS="111, 222")
    assert listed.allows_test_events("222") and not listed.allows_test_events("333")
    with pytest.raises(SettingsError, match="META_CAPI_TEST_EVENT_PIXELS"):
        load(META_CAPI_TEST_EVENT_PIXELS="111,all")


def test_given_the_settings_model_when_docs_read_then_their_env_table_is_the_generated_one() -> None:
    """docs/receiver.md carries `meta-capi-receiver env`'s table; regenerate it when a setting changes."""
    from pathlib import Path

    from source_meta_capi.receiver.settings import env_table_markdown

    text = (Path(__file__).resolve().parents[2] / "docs" / "receiver.md").read_text(encoding="utf-8")
    start, end = "<!-- env-table:start -->\n", "\n<!-- env-table:end -->"
    documented = text[text.index(start) + len(start) : text.index(end)]
    assert documented == env_table_markdown().rstrip("\n"), (
        "docs/receiver.md's env table is stale: paste the output of `meta-capi-receiver env`"
    )


def test_given_queue_intake_mode_when_loading_then_it_needs_a_queue_url_and_direct_is_the_default() -> None:
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
